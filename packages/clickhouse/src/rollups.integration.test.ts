// The rollups (migrations 001, 002, 004; written by writeRollups since 006) on a real engine: the 1 m / 1 h / 1 d
// rollups (all-dimension and per-dimension) and customer_activity_1d count a retried insert once, equal what the raw
// rows give, and the raw retention is applied idempotently.
import { beforeAll, describe, expect, it } from 'vitest';
import { useMigratedTestClickHouse } from './testing.ts';
import { insertRows } from './insert.ts';
import { storeRows } from './store.ts';
import { applyRawRetention, rawTtlStatement, ttlDaysOf } from './retention.ts';
import { dateTime64FromMicros } from './time.ts';
import { readFile } from 'node:fs/promises';
import { splitStatements } from './migrate.ts';

const ch = useMigratedTestClickHouse();

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  return rs.json<T>();
}

const base = Date.UTC(2025, 5, 1, 22, 58) * 1000; // 2025-06-01 22:58 UTC: the fixture crosses an hour and a day

function touchpoint(i: number, minutesAfter: number, over: Record<string, unknown> = {}) {
  return {
    event_id: `r-${i}`,
    customer_id: `cust-${i % 3}`,
    occurred_at: dateTime64FromMicros(base + minutesAfter * 60_000_000),
    received_at: dateTime64FromMicros(base),
    channel: 'rollup_test',
    touchpoint: 'call',
    initiator: 'customer',
    journey: 'billing',
    stage: 'support',
    reason: '',
    outcome: i % 2 === 0 ? 'completed' : 'abandoned',
    duration_ms: 1000 * (i + 1),
    wait_ms: 100 * i,
    sentiment: i % 2 === 0 ? 0.5 : -0.25,
    survey_kind: i % 3 === 0 ? 'NPS' : 'CSAT',
    survey_score: i % 3 === 0 ? 10 - i : 1 + (i % 5),
    survey_comment: '',
    agent_id: '',
    session_id: '',
    attributes: {},
    kafka_partition: 0,
    kafka_offset: i,
    ...over,
  };
}

// 10 touchpoints, one per 30 minutes from 22:58: buckets 22:00 (2), 23:00 (2), 00:00 (2) … on two days.
const fixture = Array.from({ length: 10 }, (_, i) => touchpoint(i, i * 30));

// kpi_agg_* (004) hold one row per (dimension, key): the channel's rows here; uniqCombined64(15) states.
const perDimension = (table: string) => table.startsWith('kpi_agg_');
const figuresSql = (table: string, bucket: string) => {
  const uniq = perDimension(table) ? 'uniqCombined64Merge(15)' : 'uniqMerge';
  const uniqIf = perDimension(table) ? 'uniqCombined64IfMerge(15)' : 'uniqIfMerge';
  const where = perDimension(table) ? "dimension = 'channel' AND key = 'rollup_test'" : "channel = 'rollup_test'";
  return `
SELECT
  toString(${bucket}) AS b,
  toUInt64(countMerge(events)) AS events,
  toUInt64(${uniq}(customers)) AS customers,
  toUInt64(sumMerge(outcome_completed)) AS completed,
  toUInt64(sumMerge(outcome_abandoned)) AS abandoned,
  toInt64(sumMerge(duration_sum)) AS duration_sum,
  round(avgMerge(wait_avg), 6) AS wait_avg,
  quantilesMerge(0.5, 0.9)(wait_quantiles) AS wait_quantiles,
  round(avgMerge(sentiment_avg), 6) AS sentiment_avg,
  toUInt64(sumMerge(nps_promoters)) AS promoters,
  toUInt64(sumMerge(csat_satisfied)) AS satisfied,
  toInt64(sumMerge(csat_score_sum)) AS csat_sum,
  toUInt64(${uniqIf}(journeys)) AS journeys,
  toUInt64(${uniqIf}(journeys_completed)) AS journeys_completed
FROM ${table}
WHERE ${where}
GROUP BY b ORDER BY b
SETTINGS output_format_json_quote_64bit_integers = 0`;
};

// The same figures straight from the raw rows (FINAL: exact, whatever the merges did).
const rawFiguresSql = (bucket: string) => `
SELECT
  toString(${bucket}) AS b,
  toUInt64(count()) AS events,
  toUInt64(uniqExact(customer_id)) AS customers,
  toUInt64(countIf(outcome = 'completed')) AS completed,
  toUInt64(countIf(outcome = 'abandoned')) AS abandoned,
  toInt64(sum(duration_ms)) AS duration_sum,
  round(avg(wait_ms), 6) AS wait_avg,
  quantiles(0.5, 0.9)(wait_ms) AS wait_quantiles,
  round(avg(sentiment), 6) AS sentiment_avg,
  toUInt64(countIf(survey_kind = 'NPS' AND survey_score >= 9)) AS promoters,
  toUInt64(countIf(survey_kind = 'CSAT' AND survey_score >= 4)) AS satisfied,
  toInt64(ifNull(sumIf(survey_score, survey_kind = 'CSAT'), 0)) AS csat_sum,
  toUInt64(uniqExactIf((customer_id, journey), journey != '')) AS journeys,
  toUInt64(uniqExactIf((customer_id, journey), journey != '' AND outcome = 'completed')) AS journeys_completed
FROM touchpoints FINAL
WHERE channel = 'rollup_test'
GROUP BY b ORDER BY b
SETTINGS output_format_json_quote_64bit_integers = 0`;

describe('rollups (migration 002)', () => {
  beforeAll(async () => {
    // Two batches, each retried with its token (the sink's retry after a crash before committing offsets).
    for (const [token, batch] of [['rollup:0:0-4', fixture.slice(0, 5)], ['rollup:0:5-9', fixture.slice(5)]] as const) {
      await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: token });
      await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: token });
    }
  });

  it('a retried insert is counted once in the 1 h and 1 d rollups and in customer activity', async () => {
    for (const table of ['touchpoint_agg_1m', 'touchpoint_agg_1h', 'touchpoint_agg_1d']) {
      const [r] = await rows<{ n: number }>(`SELECT toUInt64(countMerge(events)) AS n FROM ${table} WHERE channel = 'rollup_test' SETTINGS output_format_json_quote_64bit_integers = 0`);
      expect(r!.n, table).toBe(10);
    }
    for (const table of ['kpi_agg_1h', 'kpi_agg_1d']) {
      // Every dimension's rows hold the 10 events once: the view's ARRAY JOIN fans each row out to six rows.
      const byDimension = await rows<{ dimension: string; n: number }>(
        `SELECT dimension, toUInt64(countMerge(events)) AS n FROM ${table} WHERE (dimension, key) IN [('', ''), ('channel', 'rollup_test'), ('touchpoint', 'call'), ('journey', 'billing'), ('stage', 'support'), ('initiator', 'customer')]
         AND bucket >= '2025-06-01' AND bucket < '2025-06-03' GROUP BY dimension ORDER BY dimension SETTINGS output_format_json_quote_64bit_integers = 0`,
      );
      expect(byDimension, table).toEqual(['', 'channel', 'initiator', 'journey', 'stage', 'touchpoint'].map((dimension) => ({ dimension, n: 10 })));
    }
    const activity = await rows<{ customer_id: string; day: string; events: number }>(
      `SELECT customer_id, toString(day) AS day, toUInt64(sum(events)) AS events FROM customer_activity_1d
       WHERE customer_id LIKE 'cust-%' GROUP BY customer_id, day ORDER BY customer_id, day SETTINGS output_format_json_quote_64bit_integers = 0`,
    );
    // i = 0…10 by 30 minutes from 22:58 on June 1: i = 0, 1, 2 on June 1 (22:58, 23:28, 23:58), i = 3…9 on June 2.
    // Customers i mod 3: cust-0 {0 | 3, 6, 9}, cust-1 {1 | 4, 7}, cust-2 {2 | 5, 8}.
    expect(activity).toEqual([
      { customer_id: 'cust-0', day: '2025-06-01', events: 1 },
      { customer_id: 'cust-0', day: '2025-06-02', events: 3 },
      { customer_id: 'cust-1', day: '2025-06-01', events: 1 },
      { customer_id: 'cust-1', day: '2025-06-02', events: 2 },
      { customer_id: 'cust-2', day: '2025-06-01', events: 1 },
      { customer_id: 'cust-2', day: '2025-06-02', events: 2 },
    ]);
  });

  it('signal rollups count a retried insert once', async () => {
    const signal = (i: number) => ({
      signal_id: `rs-${i}`, customer_id: 'cust-0', type: 'rollup_signal', weight: 1.5, event_id: `r-${i}`,
      occurred_at: dateTime64FromMicros(base + i * 30 * 60_000_000), channel: 'rollup_test', touchpoint: 'call', journey: '', stage: '',
      explanation: '', rules_version: '', kafka_partition: 0, kafka_offset: i,
    });
    const batch = [0, 1, 2, 3].map(signal);
    await storeRows(ch.client, { table: 'signals', rows: batch, dedupToken: 'rollup-signals:0:0-3' });
    await storeRows(ch.client, { table: 'signals', rows: batch, dedupToken: 'rollup-signals:0:0-3' });
    for (const [table, bucket, expected] of [
      // 22:58, 23:28, 23:58, 00:28 → hours 22 (1), 23 (2), 00 (1); days June 1 (3), June 2 (1)
      ['signal_agg_1h', 'toHour(bucket)', [[0, 1], [22, 1], [23, 2]]],
      ['signal_agg_1d', 'toDayOfMonth(bucket)', [[1, 3], [2, 1]]],
    ] as const) {
      const result = await rows<{ b: number; n: number }>(
        `SELECT ${bucket} AS b, toUInt64(countMerge(signals)) AS n FROM ${table} WHERE type = 'rollup_signal' GROUP BY b ORDER BY b SETTINGS output_format_json_quote_64bit_integers = 0`,
      );
      expect(result.map((r) => [r.b, r.n]), table).toEqual(expected);
      const [weight] = await rows<{ w: number }>(`SELECT sumMerge(weight_sum) AS w FROM ${table} WHERE type = 'rollup_signal'`);
      expect(weight!.w).toBe(6); // 4 × 1.5
    }
  });

  it('1 h and 1 d rollups equal the raw rows, and the 1 m table merged to the same grain', async () => {
    for (const [table, bucket] of [
      ['touchpoint_agg_1h', 'bucket'],
      ['touchpoint_agg_1d', 'bucket'],
      ['kpi_agg_1h', 'bucket'],
      ['kpi_agg_1d', 'bucket'],
      ['touchpoint_agg_1m', "toStartOfHour(bucket)"],
      ['touchpoint_agg_1m', "toStartOfDay(bucket)"],
    ] as const) {
      const grain = table.endsWith('1d') || bucket.includes('Day') ? 'toStartOfDay' : 'toStartOfHour';
      const rolled = await rows(figuresSql(table, bucket));
      const raw = await rows(rawFiguresSql(`${grain}(toDateTime(occurred_at, 'UTC'))`));
      expect(rolled.length, `${table} ${bucket}`).toBeGreaterThan(1);
      expect(rolled, `${table} ${bucket}`).toEqual(raw);
    }
    // And one day worked out by hand: June 2 holds i = 3…9.
    for (const table of ['touchpoint_agg_1d', 'kpi_agg_1d']) {
      const [june2] = (await rows<Record<string, unknown>>(figuresSql(table, 'bucket'))).slice(1);
      expect(june2, table).toMatchObject({
        b: '2025-06-02 00:00:00',
        events: 7,
        customers: 3,
        completed: 3, // i = 4, 6, 8
        abandoned: 4, // i = 3, 5, 7, 9
        duration_sum: 49_000, // 1000 · (4 + 5 + … + 10)
        wait_avg: 600, // 100 · (3 + … + 9) / 7
        sentiment_avg: 0.071429, // (3 · 0.5 − 4 · 0.25) / 7 = 0.5 / 7
        promoters: 0, // NPS at i = 3 (score 7), 6 (4), 9 (1): none ≥ 9
        satisfied: 2, // CSAT 1 + i mod 5 at i = 4 (5), 5 (1), 7 (3), 8 (4): two ≥ 4
        csat_sum: 13, // 5 + 1 + 3 + 4
        journeys: 3, // (cust-0…2, billing)
        journeys_completed: 3, // completed at i = 4 (cust-1), 6 (cust-0), 8 (cust-2)
      });
    }
  });

  it('a plain insert after a deduplicated one still reaches the rollups (trap 1)', async () => {
    const row = touchpoint(50, 0, { channel: 'rollup_plain', event_id: 'plain-50' });
    await storeRows(ch.client, { table: 'touchpoints', rows: [row], dedupToken: 'rollup-plain:0:50-50' });
    await storeRows(ch.client, { table: 'touchpoints', rows: [{ ...row, event_id: 'plain-51' }] });
    for (const table of ['touchpoint_agg_1h', 'touchpoint_agg_1d']) {
      const [r] = await rows<{ n: number }>(`SELECT toUInt64(countMerge(events)) AS n FROM ${table} WHERE channel = 'rollup_plain' SETTINGS output_format_json_quote_64bit_integers = 0`);
      expect(r!.n, table).toBe(2);
    }
    for (const table of ['kpi_agg_1h', 'kpi_agg_1d']) {
      const [r] = await rows<{ n: number }>(`SELECT toUInt64(countMerge(events)) AS n FROM ${table} WHERE dimension = 'channel' AND key = 'rollup_plain' SETTINGS output_format_json_quote_64bit_integers = 0`);
      expect(r!.n, table).toBe(2);
    }
  });
});

describe('writeRollups', () => {
  it('carries any text through its literal exactly: quotes, backslashes, $-patterns, newlines, non-ASCII', async () => {
    const reason = `it's \\ "$&" $' \n\t ü — 🚀 \u0000 {source}`;
    const row = touchpoint(70, 0, { channel: 'rollup_text', event_id: 'text-70', reason, journey: `j'\\n$1` });
    await storeRows(ch.client, { table: 'touchpoints', rows: [row], dedupToken: 'rollup-text:0:70-70' });
    const [contact] = await rows<{ reason: string; journey: string }>("SELECT reason, journey FROM fcr_contacts WHERE channel = 'rollup_text'");
    expect(contact).toEqual({ reason, journey: `j'\\n$1` });
    const [kpi] = await rows<{ key: string }>("SELECT key FROM kpi_agg_1h WHERE dimension = 'journey' AND key LIKE 'j%' AND key LIKE '%$1'");
    expect(kpi!.key).toBe(`j'\\n$1`);
  });

  it('deduplicates each rollup by the token alone: a retry completes a store cut off after some rollups', async () => {
    const batch = [0, 1, 2].map((i) => touchpoint(80 + i, i, { channel: 'rollup_cut', event_id: `cut-${i}` }));
    const counts = async () =>
      Object.fromEntries(
        await Promise.all(
          ['touchpoint_agg_1m', 'touchpoint_agg_1h', 'touchpoint_agg_1d'].map(async (table) => {
            const [r] = await rows<{ n: number }>(`SELECT toUInt64(countMerge(events)) AS n FROM ${table} WHERE channel = 'rollup_cut' SETTINGS output_format_json_quote_64bit_integers = 0`);
            return [table, r!.n];
          }),
        ),
      );
    await ch.client.command({ query: "ALTER TABLE touchpoint_agg_1h ADD CONSTRAINT cut_test CHECK channel != 'rollup_cut'" });
    try {
      await expect(storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: 'rollup-cut:0:80-82' })).rejects.toThrow(/constraint/i);
    } finally {
      await ch.client.command({ query: 'ALTER TABLE touchpoint_agg_1h DROP CONSTRAINT cut_test' });
    }
    expect(await counts()).toEqual({ touchpoint_agg_1m: 3, touchpoint_agg_1h: 0, touchpoint_agg_1d: 0 });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: 'rollup-cut:0:80-82' });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: 'rollup-cut:0:80-82' });
    expect(await counts()).toEqual({ touchpoint_agg_1m: 3, touchpoint_agg_1h: 3, touchpoint_agg_1d: 3 });
  });
});

describe('raw retention', () => {
  const ttlOf = async () => {
    const [r] = await rows<{ engine_full: string }>("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'touchpoints'");
    return ttlDaysOf(r!.engine_full);
  };

  it('the migration sets 400 days; the configured value replaces it once, then nothing changes', async () => {
    expect(await ttlOf()).toBe(400);
    expect(await applyRawRetention(ch.client, 400)).toBe(false);
    expect(await applyRawRetention(ch.client, 30)).toBe(true);
    expect(await ttlOf()).toBe(30);
    expect(await applyRawRetention(ch.client, 30)).toBe(false);
    expect(await applyRawRetention(ch.client, 400)).toBe(true);
    expect(await ttlOf()).toBe(400);
  });

  it('counts from the storage time, so an old backfilled event is kept', async () => {
    const old = touchpoint(60, 0, { channel: 'rollup_backfill', event_id: 'old-60', occurred_at: dateTime64FromMicros(Date.UTC(2019, 0, 1) * 1000) });
    await storeRows(ch.client, { table: 'touchpoints', rows: [old], dedupToken: 'rollup-backfill:0:60-60' });
    await ch.client.command({ query: 'OPTIMIZE TABLE touchpoints FINAL' });
    const [r] = await rows<{ n: number }>("SELECT toUInt64(count()) AS n FROM touchpoints WHERE channel = 'rollup_backfill' SETTINGS output_format_json_quote_64bit_integers = 0");
    expect(r!.n).toBe(1);
  });

  it('refuses anything but a positive whole number of days', () => {
    expect(rawTtlStatement('touchpoints', 7)).toBe('ALTER TABLE touchpoints MODIFY TTL toDateTime(stored_at) + toIntervalDay(7)');
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => rawTtlStatement('touchpoints', bad)).toThrow(/positive whole number/);
    expect(() => rawTtlStatement('touchpoints; DROP TABLE x', 7)).toThrow(/invalid table name/);
    expect(ttlDaysOf('ReplacingMergeTree ORDER BY x SETTINGS index_granularity = 8192')).toBeNull();
  });
});

describe('deploy/clickhouse-cluster/schema.sql', () => {
  it('parses, and covers every table of the migrations as _local + Distributed, sharded the same way on every retry', async () => {
    const text = await readFile(new URL('../../../deploy/clickhouse-cluster/schema.sql', import.meta.url), 'utf8');
    const statements = splitStatements(text);
    for (const statement of statements) {
      // formatQuery parses without executing (ON CLUSTER needs a cluster to run, not to parse).
      const [r] = await rows<{ f: string }>('SELECT formatQuery({q:String}) AS f', { q: statement });
      expect(r!.f.length, statement.slice(0, 80)).toBeGreaterThan(0);
    }
    const objects = await rows<{ name: string; engine: string }>(
      // The migrations' own bookkeeping stays out: each node records its migrations, and the cluster schema has no
      // backfill to mark.
      "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name NOT IN ('schema_migrations', 'migration_marks') ORDER BY name",
    );
    for (const { name, engine } of objects) {
      // Since 006 nothing computes a table from another on the server: no views, no Null feeds.
      expect(engine, name).not.toMatch(/^(MaterializedView|Null)$/);
      expect(text, name).toMatch(new RegExp(`CREATE TABLE IF NOT EXISTS ${name}_local ON CLUSTER [^;]*?ENGINE = Replicated${engine}\\(`));
      expect(text, name).toContain(`CREATE TABLE IF NOT EXISTS ${name} ON CLUSTER '{cluster}' AS ${name}_local\nENGINE = Distributed(`);
      // Every column the migrations give the table, ALTERs included (e.g. 003's insert_token).
      const local = statements.find((st) => st.includes(`CREATE TABLE IF NOT EXISTS ${name}_local `))!;
      const columns = await rows<{ name: string }>('SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}', { t: name });
      expect(columns.length, name).toBeGreaterThan(0);
      expect(columns.map((c) => c.name).filter((c) => !new RegExp(`\\n {4}${c} `).test(local)), name).toEqual([]);
      // Written with deduplication tokens through the Distributed table: a row must go to the same shard on a retry.
      expect(text, name).not.toMatch(new RegExp(`${name}_local, rand\\(\\)\\)`));
    }
  });
});
