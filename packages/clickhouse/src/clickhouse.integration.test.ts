// Real engine: chDB in a temp directory (or a server database when the test stack provides CLICKHOUSE_URL).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openTestClickHouse, type TestClickHouse } from './testing.ts';
import { appliedMigrations, migrate } from './migrate.ts';
import { insertRows } from './insert.ts';
import { storeRows } from './store.ts';
import { dateTime64FromMicros } from './time.ts';

let ch: TestClickHouse;
const runId = randomBytes(4).toString('hex');

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
});

afterAll(async () => {
  await ch?.close();
});

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  return rs.json<T>();
}

const baseMicros = Date.UTC(2025, 2, 1, 10, 15, 0) * 1000; // 2025-03-01 10:15:00 UTC

function touchpointRow(over: Record<string, unknown>) {
  return {
    event_id: `e-${randomBytes(6).toString('hex')}`,
    customer_id: 'c',
    occurred_at: dateTime64FromMicros(baseMicros),
    received_at: dateTime64FromMicros(baseMicros),
    channel: 'web',
    touchpoint: 'checkout_page',
    initiator: 'customer',
    journey: 'purchase',
    stage: 'purchase',
    reason: '',
    outcome: '',
    duration_ms: null,
    wait_ms: null,
    sentiment: null,
    survey_kind: '',
    survey_score: null,
    survey_comment: '',
    agent_id: '',
    session_id: '',
    attributes: {},
    kafka_partition: 0,
    kafka_offset: 0,
    ...over,
  };
}

async function countRaw(table: string, channel: string): Promise<number> {
  const [r] = await rows<{ n: string | number }>(`SELECT count() AS n FROM ${table} WHERE channel = {channel:String}`, { channel });
  return Number(r!.n);
}

async function countAggregated(channel: string): Promise<number> {
  const [r] = await rows<{ n: string | number }>(
    'SELECT countMerge(events) AS n FROM touchpoint_agg_1m WHERE channel = {channel:String}',
    { channel },
  );
  return Number(r!.n);
}

describe('migrate', () => {
  it('applies every migration once; running again applies nothing', async () => {
    expect(await migrate(ch.client)).toEqual(['001_initial', '002_rollups', '003_insert_token', '004_kpi_dimensions', '005_view_feeds', '006_direct_rollups', '007_customer_erasures', '009_touchpoint_text_sentiment', '010_customer_profiles', '011_churn_scores']);
    expect(await migrate(ch.client)).toEqual([]);
    expect([...(await appliedMigrations(ch.client)).keys()]).toEqual(['001_initial', '002_rollups', '003_insert_token', '004_kpi_dimensions', '005_view_feeds', '006_direct_rollups', '007_customer_erasures', '009_touchpoint_text_sentiment', '010_customer_profiles', '011_churn_scores']);
    const tables = await rows<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name');
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['alerts', 'schema_migrations', 'signal_agg_1m', 'signals', 'touchpoint_agg_1m', 'touchpoints']),
    );
    // 006: no materialized views and no feeds any more; the sink writes every rollup itself.
    expect(tables.map((t) => t.name).filter((name) => name.endsWith('_mv') || name.endsWith('_feed'))).toEqual([]);
  });

  it('re-runs a migration whose record is missing (interrupted run) without failing', async () => {
    await ch.client.command({ query: 'TRUNCATE TABLE schema_migrations' });
    expect(await migrate(ch.client)).toEqual(['001_initial', '002_rollups', '003_insert_token', '004_kpi_dimensions', '005_view_feeds', '006_direct_rollups', '007_customer_erasures', '009_touchpoint_text_sentiment', '010_customer_profiles', '011_churn_scores']);
    expect(await migrate(ch.client)).toEqual([]);
  });
});

describe('insertRows deduplication (docs/architecture.md §5 traps)', () => {
  it('stores a retried insert once in the raw table and counts it once in the aggregates', async () => {
    const channel = `retry_${runId}`;
    const batch = [touchpointRow({ channel, customer_id: 'c1' }), touchpointRow({ channel, customer_id: 'c2' })];
    const dedupToken = `touchpoints.v1:0:10-11:${runId}`;
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken });
    expect(await countRaw('touchpoints', channel)).toBe(2);
    expect(await countAggregated(channel)).toBe(2);
  });

  it('deduplicates a retried batch that spans several monthly partitions', async () => {
    const channel = `months_${runId}`;
    const monthMicros = 31 * 24 * 3600 * 1_000_000;
    const batch = [0, 1, 2].map((i) =>
      touchpointRow({ channel, occurred_at: dateTime64FromMicros(baseMicros + i * monthMicros), kafka_offset: i }),
    );
    const dedupToken = `touchpoints.v1:1:0-2:${runId}`;
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken });
    expect(await countRaw('touchpoints', channel)).toBe(3);
    expect(await countAggregated(channel)).toBe(3);
  });

  it('stores a plain insert made after a deduplicated one (trap 1: no token leaks into the session)', async () => {
    const channel = `leak_${runId}`;
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpointRow({ channel })], dedupToken: `leak-${runId}` });
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpointRow({ channel })] });
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpointRow({ channel })] });
    expect(await countRaw('touchpoints', channel)).toBe(3);
    expect(await countAggregated(channel)).toBe(3);
  });

  it('stores identical rows twice when inserted without a token, and the same rows under a new token', async () => {
    const channel = `plain_${runId}`;
    const batch = [touchpointRow({ channel, event_id: `same-${runId}` })];
    await storeRows(ch.client, { table: 'touchpoints', rows: batch });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: `plain-a-${runId}` });
    await storeRows(ch.client, { table: 'touchpoints', rows: batch, dedupToken: `plain-b-${runId}` });
    expect(await countRaw('touchpoints', channel)).toBe(4);
    // The raw table's ReplacingMergeTree key is the backstop for such copies.
    const [finalCount] = await rows<{ n: number | string }>(
      'SELECT count() AS n FROM touchpoints FINAL WHERE channel = {channel:String}',
      { channel },
    );
    expect(Number(finalCount!.n)).toBe(1);
  });

  it('deduplicates retried signals in the raw table and in signal_agg_1m', async () => {
    const channel = `sig_${runId}`;
    const signal = (id: string, customer: string, weight: number) => ({
      signal_id: id,
      customer_id: customer,
      type: 'survey_detractor',
      weight,
      event_id: `e-${id}`,
      occurred_at: dateTime64FromMicros(baseMicros + 5_000_000),
      channel,
      touchpoint: 'nps_survey',
      journey: '',
      stage: '',
      explanation: 'NPS 3',
      rules_version: 'r1',
      kafka_partition: 2,
      kafka_offset: 7,
    });
    const batch = [signal(`s1-${runId}`, 'c1', 2), signal(`s2-${runId}`, 'c1', 1.5), signal(`s3-${runId}`, 'c2', 2)];
    const dedupToken = `signals.v1:2:5-7:${runId}`;
    await storeRows(ch.client, { table: 'signals', rows: batch, dedupToken });
    await storeRows(ch.client, { table: 'signals', rows: batch, dedupToken });
    expect(await countRaw('signals', channel)).toBe(3);
    const [agg] = await rows<{ bucket: string; n: number | string; customers: number | string; weight: number }>(
      `SELECT bucket, countMerge(signals) AS n, uniqMerge(customers) AS customers, sumMerge(weight_sum) AS weight
       FROM signal_agg_1m WHERE channel = {channel:String} GROUP BY bucket`,
      { channel },
    );
    expect(agg).toEqual({ bucket: '2025-03-01 10:15:00', n: expect.anything(), customers: expect.anything(), weight: 5.5 });
    expect(Number(agg!.n)).toBe(3);
    expect(Number(agg!.customers)).toBe(2);
  });

  it('stores alerts with their signals as named tuples', async () => {
    const alertId = `a-${runId}`;
    const alert = {
      alert_id: alertId,
      customer_id: 'c1',
      score: 4.5,
      score_before: 2,
      level: 'at_risk',
      signals: [
        { signal_id: 's1', type: 'survey_detractor', weight: 2, event_id: 'e1', explanation: 'NPS 3' },
        { signal_id: 's2', type: 'repeat_contact', weight: 2.5, event_id: 'e2', explanation: '3 calls' },
      ],
      triggered_by: 'e2',
      at: dateTime64FromMicros(baseMicros + 1),
      rules_version: '',
      kafka_partition: 0,
      kafka_offset: 1,
    };
    await insertRows(ch.client, { table: 'alerts', rows: [alert], dedupToken: `alerts.v1:0:1-1:${runId}` });
    await insertRows(ch.client, { table: 'alerts', rows: [alert], dedupToken: `alerts.v1:0:1-1:${runId}` });
    const stored = await rows<Record<string, unknown>>(
      'SELECT signals, arrayMap(s -> s.type, signals) AS types, at FROM alerts WHERE alert_id = {id:String}',
      { id: alertId },
    );
    expect(stored).toEqual([{ signals: alert.signals, types: ['survey_detractor', 'repeat_contact'], at: '2025-03-01 10:15:00.000001' }]);
  });
});

describe('touchpoint_agg_1m', () => {
  it('matches hand-computed values for a small fixture', async () => {
    const channel = `agg_${runId}`;
    const at = (secondsAfter: number) => dateTime64FromMicros(baseMicros + secondsAfter * 1_000_000);
    const fixture = [
      touchpointRow({ channel, customer_id: 'c1', occurred_at: at(1), outcome: 'completed', duration_ms: 100, wait_ms: 10, sentiment: 0.5, survey_kind: 'NPS', survey_score: 10 }),
      touchpointRow({ channel, customer_id: 'c1', occurred_at: at(2), outcome: 'failed', duration_ms: 300, wait_ms: 30, sentiment: -0.5, survey_kind: 'NPS', survey_score: 6 }),
      touchpointRow({ channel, customer_id: 'c2', occurred_at: at(3), outcome: 'completed', wait_ms: 50, survey_kind: 'CSAT', survey_score: 5 }),
      touchpointRow({ channel, customer_id: 'c3', occurred_at: at(59.999999), outcome: 'abandoned', duration_ms: 200, sentiment: 1, survey_kind: 'CSAT', survey_score: 2 }),
      touchpointRow({ channel, customer_id: 'c2', occurred_at: at(4), survey_kind: 'CES', survey_score: 6 }),
      // Next minute.
      touchpointRow({ channel, customer_id: 'c4', occurred_at: at(60), outcome: 'escalated', duration_ms: 50 }),
    ];
    // Two inserts: the aggregate holds two partial states for the first minute that -Merge must combine.
    await storeRows(ch.client, { table: 'touchpoints', rows: fixture.slice(0, 3), dedupToken: `agg-1-${runId}` });
    await storeRows(ch.client, { table: 'touchpoints', rows: fixture.slice(3), dedupToken: `agg-2-${runId}` });

    const result = await rows<Record<string, unknown>>(
      `SELECT
         bucket,
         toUInt64(countMerge(events)) AS events,
         toUInt64(uniqMerge(customers)) AS customers,
         toUInt64(sumMerge(outcome_completed)) AS completed,
         toUInt64(sumMerge(outcome_failed)) AS failed,
         toUInt64(sumMerge(outcome_abandoned)) AS abandoned,
         toUInt64(sumMerge(outcome_escalated)) AS escalated,
         avgMerge(duration_avg) AS duration_avg,
         sumMerge(duration_sum) AS duration_sum,
         toUInt64(countMerge(duration_count)) AS duration_count,
         avgMerge(wait_avg) AS wait_avg,
         quantilesMerge(0.5, 0.9)(wait_quantiles) AS wait_quantiles,
         round(avgMerge(sentiment_avg), 6) AS sentiment_avg,
         toUInt64(sumMerge(nps_responses)) AS nps_responses,
         toUInt64(sumMerge(nps_promoters)) AS nps_promoters,
         toUInt64(sumMerge(nps_detractors)) AS nps_detractors,
         toUInt64(sumMerge(csat_responses)) AS csat_responses,
         toUInt64(sumMerge(csat_satisfied)) AS csat_satisfied,
         sumMerge(csat_score_sum) AS csat_score_sum,
         toUInt64(sumMerge(ces_responses)) AS ces_responses,
         sumMerge(ces_score_sum) AS ces_score_sum
       FROM touchpoint_agg_1m
       WHERE channel = {channel:String}
       GROUP BY bucket
       ORDER BY bucket
       SETTINGS output_format_json_quote_64bit_integers = 0`,
      { channel },
    );
    expect(result).toEqual([
      {
        bucket: '2025-03-01 10:15:00',
        events: 5,
        customers: 3,
        completed: 2,
        failed: 1,
        abandoned: 1,
        escalated: 0,
        duration_avg: 200,
        duration_sum: 600,
        duration_count: 3,
        wait_avg: 30,
        wait_quantiles: [30, 46],
        sentiment_avg: 0.333333,
        nps_responses: 2,
        nps_promoters: 1,
        nps_detractors: 1,
        csat_responses: 2,
        csat_satisfied: 1,
        csat_score_sum: 7,
        ces_responses: 1,
        ces_score_sum: 6,
      },
      {
        bucket: '2025-03-01 10:16:00',
        events: 1,
        customers: 1,
        completed: 0,
        failed: 0,
        abandoned: 0,
        escalated: 1,
        duration_avg: 50,
        duration_sum: 50,
        duration_count: 1,
        wait_avg: null,
        wait_quantiles: [null, null],
        sentiment_avg: null,
        nps_responses: 0,
        nps_promoters: 0,
        nps_detractors: 0,
        csat_responses: 0,
        csat_satisfied: 0,
        csat_score_sum: 0,
        ces_responses: 0,
        ces_score_sum: 0,
      },
    ]);
  });
});
