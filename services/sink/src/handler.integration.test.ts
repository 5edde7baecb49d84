// The sink's batch handler against a real ClickHouse (chDB in a temp dir, or the stack's server), without
// Kafka: redelivery with other batch boundaries, replayed outputs, poison records.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { insertRows, migrate } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { createSinkBatchHandler, type ClickHouseHealth } from './module.ts';
import { rowsFor, storedBlock } from './batch.ts';
import { alert, batchOf, encode, signal, t0Micros, touchpoint } from './fixtures.test-support.ts';

let ch: TestClickHouse;
const health: ClickHouseHealth[] = [];
let handle: ReturnType<typeof createSinkBatchHandler>;
const runId = randomBytes(4).toString('hex');

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  await migrate(ch.client);
  handle = createSinkBatchHandler({ clickhouse: ch.client, onClickHouse: (h) => health.push(h) });
});

afterAll(async () => {
  await ch?.close();
});

async function scalar(query: string, params: Record<string, unknown>): Promise<number> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  const [row] = await rs.json<{ n: number | string }>();
  return Number(row!.n);
}

async function scalarRow(query: string, params: Record<string, unknown>): Promise<Record<string, number>> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  const [row] = await rs.json<Record<string, number | string>>();
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

const rawCount = (table: string, channel: string) => scalar(`SELECT count() AS n FROM ${table} WHERE channel = {channel:String}`, { channel });
const touchpointAggCount = (channel: string) =>
  scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1m WHERE channel = {channel:String}', { channel });
const signalAggCount = (channel: string) =>
  scalar('SELECT countMerge(signals) AS n FROM signal_agg_1m WHERE channel = {channel:String}', { channel });

/**
 * Handles a batch while `table` refuses rows of `channel`: a store cut off at that rollup, after the raw table and
 * the rollups written before it (writeRollups goes through them in order), before the ones after it.
 */
async function cutOffAt(table: string, channel: string, handleBatch: () => Promise<unknown>): Promise<void> {
  const constraint = `cut_${randomBytes(4).toString('hex')}`;
  await ch.client.command({ query: `ALTER TABLE ${table} ADD CONSTRAINT ${constraint} CHECK channel != '${channel}'` });
  try {
    await expect(handleBatch()).rejects.toThrow(/constraint/i);
  } finally {
    await ch.client.command({ query: `ALTER TABLE ${table} DROP CONSTRAINT ${constraint}` });
  }
}

describe('sink batch handler', () => {
  it('stores a batch once when it is redelivered verbatim and again with other boundaries', async () => {
    const channel = `redeliver_${runId}`;
    const values = [0, 1, 2, 3].map((i) =>
      encode.touchpoint(touchpoint({ event_id: `${runId}-e${i}`, customer_id: `${runId}-c${i % 2}`, channel })),
    );
    const first = await handle(batchOf('touchpoints.v1', values.slice(0, 3), { firstOffset: 10 }));
    expect(first.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
    // Crash before the commit: the same batch again …
    await handle(batchOf('touchpoints.v1', values.slice(0, 3), { firstOffset: 10 }));
    // … and the consumer refetching 10-13 in one go (a different token).
    const refetched = await handle(batchOf('touchpoints.v1', values, { firstOffset: 10 }));
    expect(refetched.map((r) => r.kind)).toEqual(['drop', 'drop', 'drop', 'ok']);
    expect(await rawCount('touchpoints', channel)).toBe(4);
    expect(await touchpointAggCount(channel)).toBe(4);
  });

  it('stores the text and the sentiment derived from it, flagged derived, and counts it in the rollups (migration 009)', async () => {
    const channel = `text_${runId}`;
    const events = [
      touchpoint({ event_id: `${runId}-t0`, customer_id: `${runId}-tc`, channel, text: 'Terrible service.' }), // −0.905 derived
      touchpoint({ event_id: `${runId}-t1`, customer_id: `${runId}-tc`, channel, sentiment: 0.5, text: 'Terrible service.' }), // given
      touchpoint({ event_id: `${runId}-t2`, customer_id: `${runId}-tc`, channel, survey: { kind: 'CSAT', score: 2, comment: 'Rude staff.' } }), // −0.762 derived
      touchpoint({ event_id: `${runId}-t3`, customer_id: `${runId}-tc`, channel }), // none
    ];
    const results = await handle(batchOf('touchpoints.v1', events.map((e) => encode.touchpoint(e)), { partition: 2, firstOffset: 40 }));
    expect(results.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const rs = await ch.client.query({
      query: 'SELECT event_id, text, sentiment, sentiment_source FROM touchpoints FINAL WHERE channel = {channel:String} ORDER BY event_id',
      format: 'JSONEachRow',
      query_params: { channel },
    });
    expect(await rs.json()).toEqual([
      { event_id: `${runId}-t0`, text: 'Terrible service.', sentiment: -0.905, sentiment_source: 'derived' },
      { event_id: `${runId}-t1`, text: 'Terrible service.', sentiment: 0.5, sentiment_source: 'given' },
      { event_id: `${runId}-t2`, text: '', sentiment: -0.762, sentiment_source: 'derived' },
      { event_id: `${runId}-t3`, text: '', sentiment: null, sentiment_source: '' },
    ]);
    // The KPI rollup's mean sentiment counts the derived scores: (−0.905 + 0.5 − 0.762) / 3 = −0.389
    const mean = await scalar(
      "SELECT round(avgMerge(sentiment_avg), 3) AS n FROM kpi_agg_1h WHERE dimension = 'channel' AND key = {channel:String}",
      { channel },
    );
    expect(mean).toBe(-0.389);
  });

  it('repairs the rollups an interrupted insert did not reach when the batch comes again, doubling nothing', async () => {
    const channel = `repair_${runId}`;
    const values = [0, 1, 2].map((i) => encode.touchpoint(touchpoint({ event_id: `${runId}-r${i}`, customer_id: `${runId}-rc`, channel })));
    const batch = () => batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 500 });
    const counts = async () => ({
      raw: await rawCount('touchpoints', channel),
      minute: await touchpointAggCount(channel),
      hour: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1h WHERE channel = {channel:String}', { channel }),
      day: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1d WHERE channel = {channel:String}', { channel }),
    });
    // A sink killed while it wrote the rollups one after another: the raw table and the minute rollup got the
    // block, the hour rollup and the ones after it did not.
    await cutOffAt('touchpoint_agg_1h', channel, () => handle(batch()));
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 0, day: 0 });
    // Not committed, so the batch comes again: stored under its own token, it is inserted again under it.
    const again = await handle(batch());
    expect(again.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 3, day: 3 });
    await handle(batch());
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 3, day: 3 });
  });

  it('repairs them too when the batch comes again with other boundaries (another token)', async () => {
    const channel = `repair_rebatched_${runId}`;
    const values = [0, 1, 2, 3].map((i) => encode.touchpoint(touchpoint({ event_id: `${runId}-rb${i}`, customer_id: `${runId}-rbc`, channel })));
    const counts = async () => ({
      raw: await rawCount('touchpoints', channel),
      minute: await touchpointAggCount(channel),
      hour: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1h WHERE channel = {channel:String}', { channel }),
    });
    await cutOffAt('touchpoint_agg_1h', channel, () => handle(batchOf('touchpoints.v1', values.slice(0, 3), { partition: 1, firstOffset: 700 })));
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 0 });
    // Refetched after the crash with one more record: a different token. The three stored rows go again under
    // their own token (repairing the hour rollup and those after it, deduplicated in the minute one); the new one
    // is inserted.
    const again = await handle(batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 700 }));
    expect(again.map((r) => r.kind)).toEqual(['drop', 'drop', 'drop', 'ok']);
    expect(await counts()).toEqual({ raw: 4, minute: 4, hour: 4 });
    await handle(batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 700 }));
    expect(await counts()).toEqual({ raw: 4, minute: 4, hour: 4 });
  });

  it('writes the rollups only once the raw table stored the block, so a cut-off store is counted once after any redelivery', async () => {
    // Migration 006: the rollups are written after the raw insert succeeded. A store cut off inside the raw insert
    // (here: refused by a constraint) has reached no rollup, so a redelivery with other boundaries, which finds
    // nothing stored, counts every event once.
    const channel = `raw_first_${runId}`;
    const values = [0, 1, 2, 3].map((i) => encode.touchpoint(touchpoint({ event_id: `${runId}-rf${i}`, customer_id: `${runId}-rfc`, channel })));
    const counts = async () => ({
      raw: await rawCount('touchpoints', channel),
      minute: await touchpointAggCount(channel),
      kpiHour: await scalar("SELECT countMerge(events) AS n FROM kpi_agg_1h WHERE dimension = 'channel' AND key = {channel:String}", { channel }),
    });
    const constraint = `refuse_${runId}`;
    await ch.client.command({ query: `ALTER TABLE touchpoints ADD CONSTRAINT ${constraint} CHECK channel != '${channel}'` });
    try {
      await expect(handle(batchOf('touchpoints.v1', values.slice(0, 3), { partition: 1, firstOffset: 800 }))).rejects.toThrow(/constraint/i);
    } finally {
      await ch.client.command({ query: `ALTER TABLE touchpoints DROP CONSTRAINT ${constraint}` });
    }
    expect(await counts()).toEqual({ raw: 0, minute: 0, kpiHour: 0 });
    const again = await handle(batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 800 }));
    expect(again.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(await counts()).toEqual({ raw: 4, minute: 4, kpiHour: 4 });
  });

  it('repairs the whole interrupted insert when it comes again split in two with other boundaries', async () => {
    // The original batch (one token T) stored offsets 900-905 in the raw table, the minute and day rollups but
    // not the hour rollup and those after it. The consumer refetches the range as 900-902 and 903-905 (two other
    // tokens). Each part finds its rows stored under T: the first repair must send T's whole block, since after it
    // the hour rollup records T as seen and deduplicates anything sent under T later.
    const channel = `repair_split_${runId}`;
    const hour = 3_600_000_000;
    const events = [0, 1, 2, 3, 4, 5].map((i) =>
      touchpoint({
        event_id: `${runId}-sp${i}`,
        customer_id: `${runId}-spc${i % 3}`,
        channel,
        // Two hours, and a backfilled event a month earlier (another partition of every table).
        occurred_at: i === 5 ? t0Micros - 31 * 24 * hour : t0Micros + (i % 2) * hour + i,
        journey: i % 2 === 0 ? 'onboarding' : null,
        outcome: i === 2 ? 'completed' : null,
        duration_ms: i % 2 === 0 ? 1000 * (i + 1) : null,
        wait_ms: i === 3 ? 2_500 : null,
        sentiment: i % 3 === 0 ? -0.25 * i : null,
        survey: i === 1 ? { kind: 'NPS', score: 3, comment: 'slow' } : i === 4 ? { kind: 'CSAT', score: 5, comment: null } : null,
        attributes: i % 2 === 0 ? { plan: `p${i}`, 'utm "source"': 'mail\nletter' } : {},
      }),
    );
    const values = events.map((e) => encode.touchpoint(e));
    const where = { channel };
    const raw = () =>
      scalarRow(
        `SELECT count() AS events, uniqExact(customer_id) AS customers, sum(duration_ms) AS duration_sum, count(wait_ms) AS waits,
                countIf(survey_kind = 'NPS') AS nps, countIf(survey_kind = 'CSAT') AS csat, round(sum(sentiment), 6) AS sentiment_sum
           FROM touchpoints FINAL WHERE channel = {channel:String}`,
        where,
      );
    const rollup = (table: string) =>
      scalarRow(
        `SELECT countMerge(events) AS events, uniqMerge(customers) AS customers, sumMerge(duration_sum) AS duration_sum,
                countMerge(duration_count) AS durations, sumMerge(nps_responses) AS nps, sumMerge(csat_responses) AS csat
           FROM ${table} WHERE channel = {channel:String}`,
        where,
      );
    await cutOffAt('touchpoint_agg_1h', channel, () => handle(batchOf('touchpoints.v1', values, { partition: 3, firstOffset: 900 })));
    expect((await rollup('touchpoint_agg_1h')).events).toBe(0);
    const first = await handle(batchOf('touchpoints.v1', values.slice(0, 3), { partition: 3, firstOffset: 900 }));
    const second = await handle(batchOf('touchpoints.v1', values.slice(3), { partition: 3, firstOffset: 903 }));
    expect([...first, ...second].map((r) => r.kind)).toEqual(['drop', 'drop', 'drop', 'drop', 'drop', 'drop']);
    const expected = await raw();
    expect(expected).toMatchObject({ events: 6, customers: 3, duration_sum: 1000 + 3000 + 5000, waits: 1, nps: 1, csat: 1 });
    expect(await scalar('SELECT count() AS n FROM touchpoints WHERE channel = {channel:String}', where)).toBe(6);
    const fromRaw = {
      events: expected.events,
      customers: expected.customers,
      duration_sum: expected.duration_sum,
      durations: 3,
      nps: expected.nps,
      csat: expected.csat,
    };
    for (const table of ['touchpoint_agg_1m', 'touchpoint_agg_1h', 'touchpoint_agg_1d']) {
      expect({ table, ...(await rollup(table)) }).toEqual({ table, ...fromRaw });
    }
    // Once more, all of it in one batch with yet another token: nothing changes.
    await handle(batchOf('touchpoints.v1', values, { partition: 3, firstOffset: 900 }));
    for (const table of ['touchpoint_agg_1m', 'touchpoint_agg_1h', 'touchpoint_agg_1d']) {
      expect({ table, ...(await rollup(table)) }).toEqual({ table, ...fromRaw });
    }
    expect(await raw()).toEqual(expected);
  });

  it('repairs a signal rollup the same way, and re-sends alerts split across redeliveries', async () => {
    const channel = `repair_split_sig_${runId}`;
    const signals = [0, 1, 2, 3, 4].map((i) =>
      signal({
        signal_id: `${runId}-ss${i}`,
        customer_id: `${runId}-ssc${i % 2}`,
        channel,
        weight: 0.5 + i,
        occurred_at: t0Micros + i * 3_600_000_000,
        touchpoint: i % 2 ? 'ivr' : null,
        rules_version: i === 0 ? null : 'r2',
      }),
    );
    const values = signals.map((s) => encode.signal(s));
    const rollup = (table: string) =>
      scalarRow(`SELECT countMerge(signals) AS signals, sumMerge(weight_sum) AS weight FROM ${table} WHERE channel = {channel:String}`, {
        channel,
      });
    await cutOffAt('signal_agg_1h', channel, () => handle(batchOf('signals.v1', values, { partition: 4, firstOffset: 40 })));
    expect(await rollup('signal_agg_1h')).toEqual({ signals: 0, weight: 0 });
    await handle(batchOf('signals.v1', values.slice(0, 2), { partition: 4, firstOffset: 40 }));
    await handle(batchOf('signals.v1', values.slice(2), { partition: 4, firstOffset: 42 }));
    const fromRaw = await scalarRow('SELECT count() AS signals, sum(weight) AS weight FROM signals WHERE channel = {channel:String}', { channel });
    expect(fromRaw).toEqual({ signals: 5, weight: 0.5 + 1.5 + 2.5 + 3.5 + 4.5 });
    for (const table of ['signal_agg_1m', 'signal_agg_1h', 'signal_agg_1d']) {
      expect({ table, ...(await rollup(table)) }).toEqual({ table, ...fromRaw });
    }

    // Alerts have no rollups; the repair insert is deduplicated, and its rows (arrays of tuples) must be accepted.
    const alerts = [0, 1, 2].map((i) =>
      encode.alert(
        alert({
          alert_id: `${runId}-sa${i}`,
          customer_id: `${runId}-sac`,
          rules_version: i === 1 ? null : 'r1',
          signals: [
            { signal_id: `${runId}-ss${i}`, type: 'survey_detractor', weight: 2, event_id: 'e1', explanation: 'NPS "3"\n' },
            { signal_id: `${runId}-ss${i + 1}`, type: 'negative_sentiment', weight: 1.25, event_id: 'e2', explanation: '' },
          ].slice(0, i + 1),
        }),
      ),
    );
    await handle(batchOf('alerts.v1', alerts, { partition: 4, firstOffset: 70 }));
    const parts = [
      await handle(batchOf('alerts.v1', alerts.slice(0, 1), { partition: 4, firstOffset: 70 })),
      await handle(batchOf('alerts.v1', alerts.slice(1), { partition: 4, firstOffset: 71 })),
    ];
    expect(parts.flat().map((r) => r.kind)).toEqual(['drop', 'drop', 'drop']);
    expect(health.at(-1)).toEqual({ ok: true });
    expect(await scalar('SELECT count() AS n FROM alerts WHERE customer_id = {c:String}', { c: `${runId}-sac` })).toBe(3);
  });

  it('reads a stored block back as rows that insert unchanged (Map, DateTime64, Nullable, arrays of tuples)', async () => {
    const big = 2 ** 52 + 1;
    const batches = [
      batchOf(
        'touchpoints.v1',
        [
          encode.touchpoint(
            touchpoint({
              event_id: `${runId}-f0`,
              customer_id: `${runId}-fc`,
              occurred_at: t0Micros + 1,
              duration_ms: big,
              wait_ms: -1,
              sentiment: 0.1 + 0.2,
              survey: { kind: 'CES', score: 7, comment: 'ünïcode "quoted" \\ back\tslash' },
              attributes: { 'a\u0000b': '', emoji: '🙂', 'new\nline': '{"json":1}' },
            }),
          ),
          encode.touchpoint(touchpoint({ event_id: `${runId}-f1`, customer_id: `${runId}-fc`, occurred_at: 0, received_at: 0 })),
        ],
        { partition: 5, firstOffset: big - 10 },
      ),
      batchOf(
        'signals.v1',
        [encode.signal(signal({ signal_id: `${runId}-fs0`, weight: 1e-300, channel: null })), encode.signal(signal({ signal_id: `${runId}-fs1`, weight: -2.5 }))],
        { partition: 5, firstOffset: 3 },
      ),
      batchOf(
        'alerts.v1',
        [
          encode.alert(alert({ alert_id: `${runId}-fa0`, signals: [], score: 1 / 3 })),
          encode.alert(
            alert({
              alert_id: `${runId}-fa1`,
              signals: [
                { signal_id: 's"1', type: 't', weight: 0.1, event_id: 'e\n1', explanation: '' },
                { signal_id: 's2', type: 'u', weight: 1e21, event_id: 'e2', explanation: 'two' },
              ],
            }),
          ),
        ],
        { partition: 5, firstOffset: 8 },
      ),
    ];
    for (const batch of batches) {
      const plan = rowsFor(batch);
      await handle(batch);
      const block = await storedBlock(ch.client, plan.table, { insertToken: plan.dedupToken, kafkaPartition: 5, kafkaOffset: 0 });
      expect(block).toHaveLength(2);
      const copy = `${plan.table}_readback_${runId}`;
      await ch.client.command({ query: `CREATE TABLE ${copy} AS ${plan.table}` });
      try {
        await insertRows(ch.client, { table: copy, rows: block });
        const contents = async (table: string) => {
          const rs = await ch.client.query({
            query: `SELECT * EXCEPT (stored_at) FROM ${table} WHERE insert_token = {token:String} ORDER BY kafka_offset`,
            format: 'JSONEachRow',
            query_params: { token: plan.dedupToken },
          });
          return rs.text();
        };
        const original = await contents(plan.table);
        expect(original.split('\n').filter(Boolean)).toHaveLength(2);
        expect(await contents(copy)).toBe(original);
      } finally {
        await ch.client.command({ query: `DROP TABLE IF EXISTS ${copy}` });
      }
    }
  });

  it('counts signals re-emitted by a replaying processor at new offsets once', async () => {
    const channel = `replay_${runId}`;
    const values = [0, 1].map((i) => encode.signal(signal({ signal_id: `${runId}-s${i}`, customer_id: `${runId}-c`, channel })));
    await handle(batchOf('signals.v1', values, { partition: 2, firstOffset: 0 }));
    const replayed = await handle(batchOf('signals.v1', values, { partition: 2, firstOffset: 2 }));
    expect(replayed).toEqual([
      { kind: 'drop', reason: `signal_id ${runId}-s0 already stored` },
      { kind: 'drop', reason: `signal_id ${runId}-s1 already stored` },
    ]);
    expect(await rawCount('signals', channel)).toBe(2);
    expect(await signalAggCount(channel)).toBe(2);
  });

  it('stores alerts once and dead-letters poison records without inserting them', async () => {
    const alertId = `${runId}-a1`;
    const results = await handle(
      batchOf('alerts.v1', [Buffer.from([0xc3, 0x01, 0, 0]), encode.alert(alert({ alert_id: alertId })), null], { firstOffset: 5 }),
    );
    expect(results.map((r) => r.kind)).toEqual(['dlq', 'ok', 'dlq']);
    await handle(batchOf('alerts.v1', [encode.alert(alert({ alert_id: alertId }))], { firstOffset: 9 }));
    expect(await scalar('SELECT count() AS n FROM alerts WHERE alert_id = {id:String}', { id: alertId })).toBe(1);
  });

  it('reports a failing ClickHouse and throws, so the batch is retried', async () => {
    const broken = createSinkBatchHandler({
      clickhouse: ch.client,
      topics: { touchpoints: 'touchpoints.v1', signals: 'signals.v1', alerts: 'alerts.v1' },
      onClickHouse: (h) => health.push(h),
    });
    await ch.client.command({ query: 'RENAME TABLE alerts TO alerts_away' });
    try {
      await expect(broken(batchOf('alerts.v1', [encode.alert(alert({ alert_id: `${runId}-a2` }))]))).rejects.toThrow();
      expect(health.at(-1)).toMatchObject({ ok: false, error: expect.stringMatching(/alerts/) });
    } finally {
      await ch.client.command({ query: 'RENAME TABLE alerts_away TO alerts' });
    }
    await broken(batchOf('alerts.v1', [encode.alert(alert({ alert_id: `${runId}-a2` }))]));
    expect(health.at(-1)).toEqual({ ok: true });
  });
});
