// KPIs (previous period, FCR, completion, CSV, rollups), heat map, cohorts and the impact of annotations against a
// real ClickHouse (chDB in a temp dir, or the stack's server) and the stack's Redis. Every expected figure is worked
// out by hand from the small fixtures below; the comments show the arithmetic.
import Fastify, { type FastifyInstance } from 'fastify';
import { createRedisClient, enforceRoles, type RedisClient } from '@touchstream/runtime';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dateTime64FromMicros, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { queryPlugin } from './plugin.ts';
import { queryCohorts } from './cohorts/cohorts.ts';
import { parseIsoToMicros } from './shared/time.ts';

const readKey = 'rk-analytics';
/** Posting annotations needs an analyst-write key; its name is recorded as created_by. */
const analystWriteKey = 'awk-analytics';
const now = Date.UTC(2024, 5, 10, 12); // the requests' "now": 2024-06-10T12:00Z
const at = (iso: string) => parseIsoToMicros(iso)!;

interface Tp {
  id: string;
  customer: string;
  at: string;
  channel: string;
  stage?: string;
  journey?: string;
  initiator?: 'customer' | 'company';
  reason?: string;
  outcome?: string;
  duration_ms?: number;
  wait_ms?: number;
  sentiment?: number;
  survey?: [kind: 'NPS' | 'CSAT' | 'CES', score: number];
}

function row(e: Tp, offset = 0) {
  return {
    event_id: e.id,
    customer_id: e.customer,
    occurred_at: dateTime64FromMicros(at(e.at)),
    received_at: dateTime64FromMicros(at(e.at)),
    channel: e.channel,
    touchpoint: `${e.channel}_contact`,
    initiator: e.initiator ?? 'customer',
    journey: e.journey ?? '',
    stage: e.stage ?? '',
    reason: e.reason ?? '',
    outcome: e.outcome ?? '',
    duration_ms: e.duration_ms ?? null,
    wait_ms: e.wait_ms ?? null,
    sentiment: e.sentiment ?? null,
    survey_kind: e.survey?.[0] ?? '',
    survey_score: e.survey?.[1] ?? null,
    survey_comment: '',
    agent_id: '',
    session_id: '',
    attributes: {},
    kafka_partition: 0,
    kafka_offset: offset,
  };
}

// --- KPI fixture: 2024-06-03, current period 10:00–12:00, previous period 08:00–10:00 ---------------------------
const kpiEvents: Tp[] = [
  // previous period (09:00): A's first billing contact, followed by t1 within 7 days → not resolved first time
  { id: 'p1', customer: 'A', at: '2024-06-03T09:00:00Z', channel: 'phone', stage: 'support', journey: 'billing', reason: 'billing', outcome: 'resolved', wait_ms: 60_000, survey: ['NPS', 10] },
  // 10:00 hour
  { id: 't1', customer: 'A', at: '2024-06-03T10:00:00Z', channel: 'phone', stage: 'support', journey: 'billing', reason: 'billing', outcome: 'started', duration_ms: 100_000, wait_ms: 10_000, sentiment: -0.5, survey: ['NPS', 9] },
  { id: 't2', customer: 'A', at: '2024-06-03T10:30:00Z', channel: 'phone', stage: 'support', journey: 'billing', reason: 'billing', outcome: 'completed', duration_ms: 200_000, wait_ms: 30_000, survey: ['CSAT', 4] },
  // company-initiated follow-up about the same reason: neither a contact for FCR nor a repeat of t2
  { id: 'c1', customer: 'A', at: '2024-06-03T10:45:00Z', channel: 'email', stage: 'support', journey: 'billing', initiator: 'company', reason: 'billing' },
  { id: 't3', customer: 'B', at: '2024-06-03T10:50:00Z', channel: 'web', stage: 'purchase', journey: 'checkout', outcome: 'started' },
  // 11:00 hour
  { id: 't4', customer: 'B', at: '2024-06-03T11:10:00Z', channel: 'web', stage: 'purchase', journey: 'checkout', outcome: 'abandoned', survey: ['CES', 5] },
  { id: 't5', customer: 'C', at: '2024-06-03T11:20:00Z', channel: 'chat', stage: 'support', journey: 'billing', reason: 'password', outcome: 'resolved', wait_ms: 20_000, sentiment: 0.5, survey: ['NPS', 3] },
  // two days later, outside every range asked for: C contacts again about the password (repeat of t5 within 7 days)
  { id: 'x1', customer: 'C', at: '2024-06-05T11:20:00Z', channel: 'chat', stage: 'support', journey: 'billing', reason: 'password' },
];

const kpiSignals = [
  { signal_id: 'sg0', customer_id: 'A', type: 'survey_detractor', at: '2024-06-03T09:00:00Z', stage: 'support' },
  { signal_id: 'sg1', customer_id: 'B', type: 'journey_abandoned', at: '2024-06-03T11:10:00Z', stage: 'purchase' },
  { signal_id: 'sg2', customer_id: 'C', type: 'survey_detractor', at: '2024-06-03T11:20:00Z', stage: 'support' },
].map((s, i) => ({
  signal_id: s.signal_id, customer_id: s.customer_id, type: s.type, weight: 1, event_id: `e${i}`, occurred_at: dateTime64FromMicros(at(s.at)),
  channel: '', touchpoint: '', journey: '', stage: s.stage, explanation: '', rules_version: '', kafka_partition: 0, kafka_offset: i,
}));

// --- cohort fixture: January 2024 (weeks start on Monday: Jan 1, 8, 15, 22, 29; Feb 5) ---------------------------
const cohortEvents: Tp[] = [
  { id: 'k1a', customer: 'k1', at: '2024-01-01T10:00:00Z', channel: 'web' },
  { id: 'k1b', customer: 'k1', at: '2024-01-08T10:00:00Z', channel: 'web' }, // week +1
  { id: 'k1c', customer: 'k1', at: '2024-01-23T10:00:00Z', channel: 'web' }, // week +3
  { id: 'k2a', customer: 'k2', at: '2024-01-02T10:00:00Z', channel: 'web' },
  { id: 'k2b', customer: 'k2', at: '2024-01-10T10:00:00Z', channel: 'web' }, // week +1
  { id: 'k2c', customer: 'k2', at: '2024-02-05T10:00:00Z', channel: 'web' }, // week +5 (beyond 3 periods), month +1
  { id: 'k3a', customer: 'k3', at: '2024-01-03T10:00:00Z', channel: 'web' },
  { id: 'k4a', customer: 'k4', at: '2024-01-09T10:00:00Z', channel: 'web' },
  { id: 'k4b', customer: 'k4', at: '2024-01-16T10:00:00Z', channel: 'web' }, // week +1 of the Jan 8 cohort
  { id: 'k5a', customer: 'k5', at: '2024-01-14T23:59:59Z', channel: 'web' }, // Sunday: still the Jan 8 week
];

// --- impact fixture: action at 2024-03-10T00:00Z on the IVR, windows of 2 days ---------------------------------
const impactEvents: Tp[] = [
  // before (Mar 8–10), in scope: outcomes abandoned ×2 of 4; waits 300, 320, 340, 360
  { id: 'b1', customer: 'i1', at: '2024-03-08T10:00:00Z', channel: 'ivr', outcome: 'abandoned', wait_ms: 300 },
  { id: 'b2', customer: 'i2', at: '2024-03-08T11:00:00Z', channel: 'ivr', outcome: 'abandoned', wait_ms: 320 },
  { id: 'b3', customer: 'i3', at: '2024-03-09T10:00:00Z', channel: 'ivr', outcome: 'completed', wait_ms: 340 },
  { id: 'b4', customer: 'i4', at: '2024-03-09T23:59:59.999999Z', channel: 'ivr', outcome: 'resolved', wait_ms: 360 },
  // after (Mar 10–12), in scope: abandoned ×1 of 4; waits 100, 110, 120, 130
  { id: 'a1', customer: 'i1', at: '2024-03-10T00:00:00Z', channel: 'ivr', outcome: 'abandoned', wait_ms: 100 },
  { id: 'a2', customer: 'i2', at: '2024-03-10T10:00:00Z', channel: 'ivr', outcome: 'completed', wait_ms: 110 },
  { id: 'a3', customer: 'i3', at: '2024-03-11T10:00:00Z', channel: 'ivr', outcome: 'completed', wait_ms: 120 },
  { id: 'a4', customer: 'i4', at: '2024-03-11T20:00:00Z', channel: 'ivr', outcome: 'resolved', wait_ms: 130 },
  // out of scope (web) or outside the windows: must not count
  { id: 'o1', customer: 'i5', at: '2024-03-10T12:00:00Z', channel: 'web', outcome: 'abandoned', wait_ms: 9_999 },
  { id: 'o2', customer: 'i5', at: '2024-03-11T12:00:00Z', channel: 'web', outcome: 'abandoned', wait_ms: 9_999 },
  { id: 'o3', customer: 'i6', at: '2024-03-07T23:59:59Z', channel: 'ivr', outcome: 'abandoned', wait_ms: 9_999 },
  { id: 'o4', customer: 'i6', at: '2024-03-12T00:00:00Z', channel: 'ivr', outcome: 'abandoned', wait_ms: 9_999 },
];

let ch: TestClickHouse;
let redis: RedisClient;
let app: FastifyInstance;

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  await migrate(ch.client);
  redis = createRedisClient(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const kpiBatch = { table: 'touchpoints', rows: kpiEvents.map((e, i) => row(e, i)), dedupToken: 'touchpoints.v1:0:0-7' };
  await storeRows(ch.client, kpiBatch);
  // The sink retrying the same batch (same token): stored once in the raw table and in the 1 m, 1 h and 1 d rollups.
  await storeRows(ch.client, kpiBatch);
  await storeRows(ch.client, { table: 'signals', rows: kpiSignals, dedupToken: 'signals.v1:0:0-2' });
  await storeRows(ch.client, { table: 'signals', rows: kpiSignals, dedupToken: 'signals.v1:0:0-2' });
  await storeRows(ch.client, { table: 'touchpoints', rows: cohortEvents.map((e, i) => row(e, 100 + i)), dedupToken: 'touchpoints.v1:1:100-109' });
  await storeRows(ch.client, { table: 'touchpoints', rows: impactEvents.map((e, i) => row(e, 200 + i)), dedupToken: 'touchpoints.v1:2:200-211' });

  app = Fastify();
  enforceRoles(app, { keys: { read: { [readKey]: 'alice' }, 'analyst-write': { [analystWriteKey]: 'alice' } } });
  await app.register(queryPlugin({
    clickhouse: ch.client, redis, halfLifeMs: 3_600_000, now: () => now, log: app.log,
    heatmapTargets: { avg_wait_ms: { target: 15_000, warn: 25_000 } },
  }));
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await redis?.quit();
  await ch?.close();
});

const request = async (method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
  const res = await app.inject({ method, url, payload: payload as object, headers: { authorization: `Bearer ${readKey}`, ...headers } });
  return { status: res.statusCode, headers: res.headers, text: res.body, body: res.headers['content-type']?.startsWith('application/json') ? res.json() : undefined };
};
const get = (url: string, headers?: Record<string, string>) => request('GET', url, undefined, headers);
const annotate = (payload: unknown) => request('POST', '/v1/annotations', payload, { authorization: `Bearer ${analystWriteKey}` });

const current = 'from=2024-06-03T10:00:00Z&to=2024-06-03T12:00:00Z';

// Current period 10:00–12:00: t1, t2, c1, t3, t4, t5.
const noReactionTime = { reaction_time_contacts: 0, reaction_time_met: 0, reaction_time_compliance: null, reaction_time_p90_ms: null };

const currentFigures = {
  events: 6,
  unique_customers: 3, // A, B, C
  nps: 0, // t1 9 promoter, t5 3 detractor: (1 − 1) / 2
  nps_responses: 2,
  csat: 100, // t2: 4 → satisfied
  csat_responses: 1,
  csat_mean: 4,
  ces_mean: 5, // t4
  ces_responses: 1,
  avg_handling_ms: 150_000, // (100000 + 200000) / 2
  avg_wait_ms: 20_000, // (10000 + 30000 + 20000) / 3
  p90_wait_ms: 28_000, // sorted 10000, 20000, 30000: position 0.9 · 2 = 1.8 → 20000 + 0.8 · 10000
  sentiment_mean: 0, // (−0.5 + 0.5) / 2
  outcomes: 5, // t1 started, t2 completed, t3 started, t4 abandoned, t5 resolved
  abandonment_rate: 0.2, // 1 / 5
  journeys: 3, // (A, billing), (B, checkout), (C, billing)
  journeys_completed: 1, // (A, billing) via t2
  completion_rate: 0.333333,
  fcr_contacts: 3, // customer-initiated with a reason: t1, t2, t5 (c1 is company-initiated)
  fcr: 0.333333, // t1 repeated by t2 (30 min), t5 repeated by x1 (2 days); only t2 resolved
  signals: 2, // sg1, sg2
  negative_signal_rate: 33.3333, // 2 per 6 touchpoints × 100
  ...noReactionTime,
};

// No touchpoint catalogue here: no reaction-time targets (touchpoints/evaluation.integration.test.ts has them).
// Previous period 08:00–10:00: p1 alone.
const previousFigures = {
  events: 1, unique_customers: 1, nps: 100, nps_responses: 1, csat: null, csat_responses: 0, csat_mean: null, ces_mean: null,
  ces_responses: 0, avg_handling_ms: null, avg_wait_ms: 60_000, p90_wait_ms: 60_000, sentiment_mean: null, outcomes: 1,
  abandonment_rate: 0, journeys: 1, journeys_completed: 0, completion_rate: 0,
  fcr_contacts: 1, fcr: 0, // p1 repeated by t1 one hour later
  signals: 1, negative_signal_rate: 100, // sg0 over 1 touchpoint
  ...noReactionTime,
};

describe('GET /v1/kpis: figures, previous period, FCR', () => {
  it('totals over the range with the previous period beside them', async () => {
    const { status, body } = await get(`/v1/kpis?${current}&interval=hour`);
    expect(status).toBe(200);
    expect(body.previous_period).toEqual({ from: '2024-06-03T08:00:00.000000Z', to: '2024-06-03T10:00:00.000000Z' });
    expect(body.fcr_days).toBe(7);
    expect(body.totals).toEqual([{ ...currentFigures, previous: previousFigures }]);
  });

  it('buckets, each with the bucket one period (2 h) earlier', async () => {
    const { body } = await get(`/v1/kpis?${current}&interval=hour`);
    expect(body.buckets.map((b: Record<string, unknown>) => b.bucket)).toEqual(['2024-06-03T10:00:00.000000Z', '2024-06-03T11:00:00.000000Z']);
    const [h10, h11] = body.buckets;
    // 10:00: t1, t2, c1, t3 — 08:00 had nothing
    expect(h10).toMatchObject({ events: 4, unique_customers: 2, fcr_contacts: 2, fcr: 0.5, journeys: 2, journeys_completed: 1, completion_rate: 0.5, abandonment_rate: 0, signals: 0, previous: null });
    // 11:00: t4, t5 — beside 09:00 (p1). t5's repeat x1 lies outside the range but inside the 7-day look-ahead.
    expect(h11).toMatchObject({ events: 2, unique_customers: 2, fcr_contacts: 1, fcr: 0, abandonment_rate: 0.5, signals: 2, negative_signal_rate: 100 });
    expect(h11.previous).toEqual(previousFigures);
  });

  it('FCR follows the fcr_days window', async () => {
    // With 1 day, x1 (2 days after t5) no longer counts as a repeat: t2 and t5 resolved of t1, t2, t5.
    const { body } = await get(`/v1/kpis?${current}&interval=hour&fcr_days=1`);
    expect(body.totals[0]).toMatchObject({ fcr_contacts: 3, fcr: 0.666667 });
    expect(body.totals[0].previous).toMatchObject({ fcr_contacts: 1, fcr: 0 });
  });

  it('by stage: each stage its own figures and previous period', async () => {
    const { body } = await get(`/v1/kpis?${current}&interval=hour&by=stage`);
    const byKey = Object.fromEntries(body.totals.map((t: { key: string }) => [t.key, t]));
    expect(Object.keys(byKey).sort()).toEqual(['purchase', 'support']);
    // support: t1, t2, c1, t5; previous p1
    expect(byKey.support).toMatchObject({ events: 4, unique_customers: 2, nps: 0, fcr: 0.333333, signals: 1, negative_signal_rate: 25, avg_wait_ms: 20_000 });
    expect(byKey.support.previous).toMatchObject({ events: 1, nps: 100, signals: 1 });
    // purchase: t3, t4 (B's checkout started, then abandoned)
    expect(byKey.purchase).toMatchObject({ events: 2, unique_customers: 1, abandonment_rate: 0.5, journeys: 1, completion_rate: 0, fcr: null, fcr_contacts: 0, signals: 1, negative_signal_rate: 50 });
    expect(byKey.purchase.previous).toMatchObject({ events: 0, signals: 0, nps: null });
  });

  it('the 1-minute, 1-hour and 1-day rollups give the same day totals, equal to the hand-computed raw figures', async () => {
    const day = 'from=2024-06-03T00:00:00Z&to=2024-06-04T00:00:00Z';
    const [minute, hour, dayly] = await Promise.all(['minute', 'hour', 'day'].map(async (interval) => (await get(`/v1/kpis?${day}&interval=${interval}`)).body.totals));
    expect(hour).toEqual(minute);
    expect(dayly).toEqual(minute);
    // The whole day: p1 plus the six of the current period (each stored once despite the retried insert).
    expect(minute[0]).toMatchObject({
      events: 7, unique_customers: 3, nps: 33.3333 /* (2 − 1) / 3 */, avg_wait_ms: 30_000 /* (60000 + 10000 + 30000 + 20000) / 4 */,
      outcomes: 6, abandonment_rate: 0.166667, fcr_contacts: 4, fcr: 0.25 /* only t2 */, signals: 3, negative_signal_rate: 42.8571,
    });
    // Per bucket the series adds up to the totals.
    const series = (await get(`/v1/kpis?${day}&interval=minute`)).body.buckets;
    expect(series.reduce((sum: number, b: { events: number }) => sum + b.events, 0)).toBe(7);
  });

  it('answers CSV for format=csv and for Accept: text/csv, previous figures beside each', async () => {
    const csv = await get(`/v1/kpis?${current}&interval=hour&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    const [header, ...lines] = csv.text.trim().split('\n').map((l) => l.split(','));
    const record = (line: string[]) => Object.fromEntries(header!.map((h, i) => [h, line[i]]));
    expect(header!.slice(0, 4)).toEqual(['row', 'bucket', 'key', 'events']);
    expect(lines).toHaveLength(3); // one total, two buckets
    expect(record(lines[0]!)).toMatchObject({ row: 'total', events: '6', previous_events: '1', fcr: '0.333333', previous_fcr: '0', csat_mean: '4', previous_csat_mean: '' });
    expect(record(lines[1]!)).toMatchObject({ row: 'bucket', bucket: '2024-06-03T10:00:00.000000Z', events: '4', previous_events: '' });
    const viaAccept = await get(`/v1/kpis?${current}&interval=hour`, { accept: 'text/csv' });
    expect(viaAccept.text).toBe(csv.text);
    // format=json wins over the Accept header.
    expect((await get(`/v1/kpis?${current}&interval=hour&format=json`, { accept: 'text/csv' })).body.totals).toHaveLength(1);
  });

  it('an empty range gives empty totals and buckets', async () => {
    const { status, body } = await get('/v1/kpis?from=2023-01-01T00:00:00Z&to=2023-01-02T00:00:00Z&interval=hour&by=channel');
    expect(status).toBe(200);
    expect([body.totals, body.buckets]).toEqual([[], []]);
  });
});

describe('GET /v1/heatmap', () => {
  it('stage × metric against request targets, configured targets and defaults', async () => {
    const { status, body } = await get(`/v1/heatmap?${current}&metrics=nps,abandonment_rate,avg_wait_ms,fcr&targets=nps:10:-10,abandonment_rate:0.1:0.3`);
    expect(status).toBe(200);
    expect(body.metrics).toEqual([
      { metric: 'nps', direction: 'higher_is_better', target: 10, warn: -10 }, // request
      { metric: 'abandonment_rate', direction: 'lower_is_better', target: 0.1, warn: 0.3 }, // request
      { metric: 'avg_wait_ms', direction: 'lower_is_better', target: 15_000, warn: 25_000 }, // configured
      { metric: 'fcr', direction: 'higher_is_better', target: 0.8, warn: 0.7 }, // default
    ]);
    // Lifecycle order: purchase before support.
    expect(body.rows.map((r: { stage: string; events: number }) => [r.stage, r.events])).toEqual([['purchase', 2], ['support', 4]]);
    const [purchase, support] = body.rows;
    // support: NPS 0 is below 10 but not below −10 → warn; abandonment 0 / 3 → ok; wait 20000 is over 15000 but within 25000 → warn; FCR 1/3 → bad
    expect(support.cells).toEqual({
      nps: { value: 0, target: 10, warn: -10, direction: 'higher_is_better', status: 'warn' },
      abandonment_rate: { value: 0, target: 0.1, warn: 0.3, direction: 'lower_is_better', status: 'ok' },
      avg_wait_ms: { value: 20_000, target: 15_000, warn: 25_000, direction: 'lower_is_better', status: 'warn' },
      fcr: { value: 0.333333, target: 0.8, warn: 0.7, direction: 'higher_is_better', status: 'bad' },
    });
    // purchase: no NPS, no waits, no contacts → no_data; abandonment 1 / 2 = 0.5 > 0.3 → bad
    expect(Object.fromEntries(Object.entries(purchase.cells as Record<string, { status: string }>).map(([m, c]) => [m, c.status]))).toEqual({
      nps: 'no_data', abandonment_rate: 'bad', avg_wait_ms: 'no_data', fcr: 'no_data',
    });
  });

  it('all metrics by default, and no rows for a range without data', async () => {
    const all = (await get(`/v1/heatmap?${current}`)).body;
    expect(all.metrics).toHaveLength(14);
    expect((await get('/v1/heatmap?from=2023-01-01T00:00:00Z&to=2023-01-02T00:00:00Z')).body.rows).toEqual([]);
  });
});

describe('GET /v1/cohorts', () => {
  it('weekly: share of each first-touch week active in the following weeks', async () => {
    const { status, body } = await get('/v1/cohorts?period=week&from=2024-01-01T00:00:00Z&to=2024-01-15T00:00:00Z&periods=3');
    expect(status).toBe(200);
    expect(body).toMatchObject({ period: 'week', from: '2024-01-01', to: '2024-01-15', periods: 3 });
    expect(body.cohorts).toEqual([
      {
        // k1, k2, k3: week +1 k1 and k2 (2 / 3), week +2 nobody, week +3 k1 (1 / 3); k2's Feb 5 is week +5
        cohort: '2024-01-01', customers: 3,
        retention: [{ period: 0, active: 3, share: 1 }, { period: 1, active: 2, share: 0.666667 }, { period: 2, active: 0, share: 0 }, { period: 3, active: 1, share: 0.333333 }],
      },
      {
        // k4, k5 (Sunday Jan 14 still belongs to the week of Monday Jan 8); k1's Jan 8 visit is not a first touch
        cohort: '2024-01-08', customers: 2,
        retention: [{ period: 0, active: 2, share: 1 }, { period: 1, active: 1, share: 0.5 }, { period: 2, active: 0, share: 0 }, { period: 3, active: 0, share: 0 }],
      },
    ]);
  });

  it('monthly', async () => {
    const { body } = await get('/v1/cohorts?period=month&from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z&periods=2');
    // k1…k5 first touched in January; in February only k2 (1 / 5); March nobody.
    expect(body.cohorts).toEqual([
      { cohort: '2024-01-01', customers: 5, retention: [{ period: 0, active: 5, share: 1 }, { period: 1, active: 1, share: 0.2 }, { period: 2, active: 0, share: 0 }] },
    ]);
  });

  it('reports only periods that have begun by now', async () => {
    const result = await queryCohorts(ch.client, { period: 'week', fromMs: Date.UTC(2024, 0, 1), toMs: Date.UTC(2024, 0, 15), periods: 3, nowMs: Date.UTC(2024, 0, 10) });
    // now is in the week of Jan 8: the Jan 1 cohort has periods 0 and 1, the Jan 8 cohort only period 0.
    expect(result.cohorts.map((c) => [c.cohort, c.retention.map((r) => r.period)])).toEqual([['2024-01-01', [0, 1]], ['2024-01-08', [0]]]);
  });

  it('no cohorts in a range without first touches', async () => {
    expect((await get('/v1/cohorts?period=week&from=2023-01-02T00:00:00Z&to=2023-02-06T00:00:00Z')).body.cohorts).toEqual([]);
  });
});

describe('annotations and their impact', () => {
  it('records an annotation, lists it, and measures its impact with the fitting tests', async () => {
    const created = await annotate({ title: 'Shorter IVR menu', at: '2024-03-10T00:00:00Z', scope: { channel: 'ivr' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Shorter IVR menu', description: null, at: '2024-03-10T00:00:00.000000Z', scope: { channel: 'ivr' }, created_by: 'alice' });
    const id = created.body.id as string;

    const list = await get('/v1/annotations?from=2024-03-01T00:00:00Z&to=2024-04-01T00:00:00Z');
    expect(list.body.annotations.map((a: { id: string }) => a.id)).toEqual([id]);
    expect((await get('/v1/annotations?from=2024-04-01T00:00:00Z&to=2024-05-01T00:00:00Z')).body.annotations).toEqual([]);

    const { status, body } = await get(`/v1/annotations/${id}/impact?window=2d`);
    expect(status).toBe(200);
    expect(body.before).toEqual({ from: '2024-03-08T00:00:00.000000Z', to: '2024-03-10T00:00:00.000000Z' });
    expect(body.after).toEqual({ from: '2024-03-10T00:00:00.000000Z', to: '2024-03-12T00:00:00.000000Z', complete: true });
    const metric = (name: string) => body.metrics.find((m: { metric: string }) => m.metric === name);

    // Abandonment 2 / 4 → 1 / 4 (web and out-of-window events excluded). Pooled p = 3 / 8;
    // se0 = sqrt(0.375 · 0.625 · (1/4 + 1/4)) = 0.342327; z = −0.25 / 0.342327 = −0.730297; p = 0.465209.
    // CI: −0.25 ± 1.959964 · sqrt(0.5 · 0.5 / 4 + 0.25 · 0.75 / 4) = −0.25 ± 1.959964 · 0.330719.
    const abandonment = metric('abandonment_rate');
    expect(abandonment).toMatchObject({ kind: 'rate', test: 'two_proportion_z', direction: 'lower_is_better', before: { n: 4, value: 0.5 }, after: { n: 4, value: 0.25 }, difference: -0.25, significant: false, improved: false });
    expect(abandonment.statistic).toBeCloseTo(-0.730297, 5);
    expect(abandonment.p_value).toBeCloseTo(0.465209, 5);
    expect(abandonment.ci95[0]).toBeCloseTo(-0.898197, 5);
    expect(abandonment.ci95[1]).toBeCloseTo(0.398197, 5);

    // Waits 300, 320, 340, 360 (mean 330, s² 666.67) → 100, 110, 120, 130 (mean 115, s² 166.67): difference −215;
    // se = sqrt(666.67 / 4 + 166.67 / 4) = 14.4338; t = −14.895637; Welch df = 208.33² / (166.67² / 3 + 41.67² / 3) = 4.4118;
    // p = 6.109e−5 (scipy.stats.ttest_ind(equal_var=False) agrees).
    const wait = metric('avg_wait_ms');
    expect(wait).toMatchObject({ kind: 'mean', test: 'welch_t', before: { n: 4, value: 330 }, after: { n: 4, value: 115 }, difference: -215, significant: true, improved: true });
    expect(wait.statistic).toBeCloseTo(-14.895637, 4);
    expect(wait.df).toBeCloseTo(4.4118, 3);
    expect(wait.p_value).toBeCloseTo(6.109e-5, 7);
    expect(wait.ci95[0]).toBeCloseTo(-253.641672, 3);
    expect(wait.ci95[1]).toBeCloseTo(-176.358328, 3);

    // Nothing measured: no test, no verdict.
    expect(metric('nps_promoter_share')).toMatchObject({ before: { n: 0, value: null }, after: { n: 0, value: null }, difference: null, p_value: null, ci95: null, significant: false, improved: null });
    expect(metric('ces_mean')).toMatchObject({ before: { n: 0, value: null }, p_value: null, improved: null });
    expect(body.metrics.map((m: { metric: string }) => m.metric)).toEqual([
      'csat_satisfied_share', 'nps_promoter_share', 'nps_detractor_share', 'abandonment_rate', 'completion_rate', 'fcr',
      'avg_handling_ms', 'avg_wait_ms', 'sentiment_mean', 'ces_mean',
    ]);
  });

  it('an after-window still running is marked incomplete; an unknown id is a 404', async () => {
    const created = await annotate({ title: 'Callback offer', description: 'after 2 min', at: '2024-06-09T12:00:00Z' });
    const { body } = await get(`/v1/annotations/${created.body.id}/impact?window=36h`);
    expect(body.after).toEqual({ from: '2024-06-09T12:00:00.000000Z', to: '2024-06-11T00:00:00.000000Z', complete: false });
    expect(body.annotation).toMatchObject({ description: 'after 2 min', scope: {} });
    const missing = await get('/v1/annotations/does-not-exist/impact');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ code: 'ANNOTATION_NOT_FOUND', message: expect.stringContaining('does-not-exist') });
  });
});
