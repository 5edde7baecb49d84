// The query API against real engines: chDB in a temp directory with the project's migrations, and the test stack's
// Redis holding the live state the real processor wrote. The fixture is small enough that every KPI below is worked
// out by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createRedisClient, enforceRoles, type RedisClient } from '@touchstream/runtime';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClickHouse, dateTime64FromMicros, insertRows, migrate, storeRows, type ClickHouseClient } from '@touchstream/clickhouse';
// The real processor writes the live state the journey reads (the contract between the two, exercised).
import { createTouchpointProcessor } from '@touchstream/processor';
import { customerKeys } from '@touchstream/contracts';
import type { Alert, Outcome, TouchpointEvent } from '@touchstream/contracts';
import { touchpointEvent } from '@touchstream/contracts/fixtures';
import { createQueryModule } from './module.ts';
import { queryPlugin } from './plugin.ts';
import { parseIsoToMicros } from './shared/time.ts';

const readKey = 'rk-integration';
const halfLifeMs = 60 * 60 * 1000;
const at = (iso: string) => parseIsoToMicros(iso)!;
const now = Date.UTC(2024, 4, 1, 12, 30); // the requests' "now": 2024-05-01T12:30Z

// --- fixture ---------------------------------------------------------------------------------------------------

interface FixtureEvent {
  event_id: string;
  customer_id: string;
  occurred_at: string;
  channel: string;
  touchpoint: string;
  initiator?: 'customer' | 'company';
  outcome?: Outcome;
  duration_ms?: number;
  wait_ms?: number;
  sentiment?: number;
  survey?: [kind: 'NPS' | 'CSAT' | 'CES', score: number, comment?: string];
  reason?: string;
}

// Two minutes, four customers. Survey/outcome/time figures are chosen so the expected KPIs are easy to check.
const events: FixtureEvent[] = [
  // minute 12:00
  { event_id: 'e1', customer_id: 'c-a', occurred_at: '2024-05-01T12:00:05.000001Z', channel: 'phone', touchpoint: 'billing_call', outcome: 'resolved', duration_ms: 300_000, wait_ms: 60_000, survey: ['NPS', 10, 'great'], reason: 'billing_dispute', sentiment: 0.5 },
  { event_id: 'e2', customer_id: 'c-b', occurred_at: '2024-05-01T12:00:10.500000Z', channel: 'phone', touchpoint: 'billing_call', outcome: 'abandoned', wait_ms: 120_000, survey: ['NPS', 9] },
  { event_id: 'e3', customer_id: 'c-c', occurred_at: '2024-05-01T12:00:20Z', channel: 'web', touchpoint: 'checkout_page', outcome: 'completed', duration_ms: 1_000, survey: ['NPS', 3] },
  { event_id: 'e4', customer_id: 'c-a', occurred_at: '2024-05-01T12:00:30Z', channel: 'email', touchpoint: 'invoice_email', initiator: 'company' },
  // minute 12:01
  { event_id: 'e5', customer_id: 'c-d', occurred_at: '2024-05-01T12:01:00.250000Z', channel: 'phone', touchpoint: 'support_call', outcome: 'escalated', duration_ms: 600_000, wait_ms: 30_000, survey: ['NPS', 7] },
  { event_id: 'e6', customer_id: 'c-a', occurred_at: '2024-05-01T12:01:10Z', channel: 'web', touchpoint: 'checkout_page', outcome: 'abandoned', survey: ['CSAT', 5] },
  { event_id: 'e7', customer_id: 'c-b', occurred_at: '2024-05-01T12:01:20Z', channel: 'chat', touchpoint: 'support_chat', outcome: 'resolved', duration_ms: 200_000, wait_ms: 0, survey: ['CSAT', 2], reason: 'billing_dispute' },
  { event_id: 'e8', customer_id: 'c-c', occurred_at: '2024-05-01T12:01:40Z', channel: 'chat', touchpoint: 'support_chat', survey: ['CES', 6] },
  { event_id: 'e9', customer_id: 'c-b', occurred_at: '2024-05-01T12:01:50.999999Z', channel: 'chat', touchpoint: 'support_chat', outcome: 'completed', survey: ['CES', 3] },
];

/** The fixture event as ingest hands it on: to the processor, and (touchpointRow) through the sink to ClickHouse. */
function fixtureTouchpoint(e: FixtureEvent): TouchpointEvent {
  const occurred = at(e.occurred_at);
  return touchpointEvent({
    event_id: e.event_id,
    customer_id: e.customer_id,
    occurred_at: occurred,
    received_at: occurred + 1_000,
    channel: e.channel,
    touchpoint: e.touchpoint,
    initiator: e.initiator ?? 'customer',
    journey: e.channel === 'email' ? null : 'billing',
    stage: 'support',
    reason: e.reason ?? null,
    outcome: e.outcome ?? null,
    duration_ms: e.duration_ms ?? null,
    wait_ms: e.wait_ms ?? null,
    sentiment: e.sentiment ?? null,
    survey: e.survey ? { kind: e.survey[0], score: e.survey[1], comment: e.survey[2] ?? null } : null,
    agent_id: e.channel === 'phone' ? 'agent-9' : null,
    attributes: e.event_id === 'e1' ? { queue: 'billing' } : {},
  });
}

/** The touchpoints row of an event as the sink stores it (absent optional strings are ''). */
function touchpointRow(t: TouchpointEvent, offset: number) {
  return {
    event_id: t.event_id,
    customer_id: t.customer_id,
    occurred_at: dateTime64FromMicros(t.occurred_at),
    received_at: dateTime64FromMicros(t.received_at),
    channel: t.channel,
    touchpoint: t.touchpoint,
    initiator: t.initiator,
    journey: t.journey ?? '',
    stage: t.stage ?? '',
    reason: t.reason ?? '',
    outcome: t.outcome ?? '',
    duration_ms: t.duration_ms,
    wait_ms: t.wait_ms,
    sentiment: t.sentiment,
    survey_kind: t.survey?.kind ?? '',
    survey_score: t.survey?.score ?? null,
    survey_comment: t.survey?.comment ?? '',
    agent_id: t.agent_id ?? '',
    session_id: t.session_id ?? '',
    attributes: t.attributes,
    kafka_partition: 0,
    kafka_offset: offset,
  };
}

const signals = [
  { signal_id: 's1', customer_id: 'c-c', type: 'survey_detractor', weight: 2, event_id: 'e3', occurred_at: '2024-05-01T12:00:20Z', channel: 'web', touchpoint: 'checkout_page', explanation: 'NPS 3' },
  { signal_id: 's3', customer_id: 'c-b', type: 'wait_over_sla', weight: 1, event_id: 'e2', occurred_at: '2024-05-01T12:00:10.500000Z', channel: 'phone', touchpoint: 'billing_call', explanation: 'waited 120 s' },
  { signal_id: 's2', customer_id: 'c-b', type: 'survey_detractor', weight: 2, event_id: 'e7', occurred_at: '2024-05-01T12:01:20Z', channel: 'chat', touchpoint: 'support_chat', explanation: 'CSAT 2' },
];

const alerts = [
  { alert_id: 'a3', customer_id: 'c-b', score: 1, score_before: 0, level: 'watch', triggered_by: 'e2', at: '2024-05-01T12:00:10.500000Z', signals: ['s3'] },
  { alert_id: 'a2', customer_id: 'c-c', score: 2, score_before: 0, level: 'watch', triggered_by: 'e3', at: '2024-05-01T12:00:20Z', signals: ['s1'] },
  { alert_id: 'a1', customer_id: 'c-b', score: 3, score_before: 1, level: 'at_risk', triggered_by: 'e7', at: '2024-05-01T12:01:20Z', signals: ['s3', 's2'] },
];

// c-repeat, only in Redis: two customer contacts about billing_dispute within the 7-day repeat-contact window (a
// streak of 2), one about password, and a company-initiated touchpoint about billing_dispute (not a contact).
const repeatContacts: FixtureEvent[] = [
  { event_id: 'r1', customer_id: 'c-repeat', occurred_at: '2024-04-28T09:00:00Z', channel: 'phone', touchpoint: 'billing_call', reason: 'billing_dispute' },
  { event_id: 'r2', customer_id: 'c-repeat', occurred_at: '2024-05-01T12:10:00.000007Z', channel: 'chat', touchpoint: 'support_chat', reason: 'billing_dispute' },
  { event_id: 'r3', customer_id: 'c-repeat', occurred_at: '2024-05-01T12:20:00Z', channel: 'web', touchpoint: 'contact_form', reason: 'password' },
  { event_id: 'r4', customer_id: 'c-repeat', occurred_at: '2024-05-01T12:25:00Z', channel: 'email', touchpoint: 'billing_notice', initiator: 'company', reason: 'billing_dispute' },
];

function signalRow(s: (typeof signals)[number]) {
  return { ...s, occurred_at: dateTime64FromMicros(at(s.occurred_at)), journey: 'billing', stage: 'support', rules_version: 'r1' };
}

function alertRow(a: (typeof alerts)[number]) {
  return {
    ...a,
    at: dateTime64FromMicros(at(a.at)),
    rules_version: 'r1',
    signals: a.signals.map((id) => {
      const s = signals.find((x) => x.signal_id === id)!;
      return { signal_id: s.signal_id, type: s.type, weight: s.weight, event_id: s.event_id, explanation: s.explanation };
    }),
  };
}

// --- setup -----------------------------------------------------------------------------------------------------

let dir: string;
let clickhouse: ClickHouseClient;
let redis: RedisClient;
/** The last alert the processor raised for c-b. */
let raisedForCustomerB: Alert;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-query-'));
  clickhouse = createClickHouse({ path: path.join(dir, 'chdb') });
  await migrate(clickhouse);
  redis = createRedisClient(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();

  const batch = { table: 'touchpoints', rows: events.map((e, i) => touchpointRow(fixtureTouchpoint(e), i)), dedupToken: 'touchpoints.v1:0:0-8' };
  await storeRows(clickhouse, batch);
  // The sink's retry of the same batch: stored and aggregated once, so the KPIs below must not change.
  await storeRows(clickhouse, batch);
  await storeRows(clickhouse, { table: 'signals', rows: signals.map(signalRow), dedupToken: 'signals.v1:0:0-2' });
  await insertRows(clickhouse, { table: 'alerts', rows: alerts.map(alertRow), dedupToken: 'alerts.v1:0:0-2' });
  // The same alert reaching ClickHouse in a second, differently-tokened insert (e.g. re-emitted after a processor
  // restart): ReplacingMergeTree + FINAL must still show it once.
  await insertRows(clickhouse, { table: 'alerts', rows: [alertRow(alerts[2]!)], dedupToken: 'alerts.v1:1:0-0' });
  // A customer outside the KPI window whose one event was stored twice, in two inserts.
  const old = touchpointRow(fixtureTouchpoint({ event_id: 'old-1', customer_id: 'c-old', occurred_at: '2024-03-01T08:00:00Z', channel: 'store', touchpoint: 'store_visit' }), 100);
  await storeRows(clickhouse, { table: 'touchpoints', rows: [old], dedupToken: 'touchpoints.v1:1:100-100' });
  await storeRows(clickhouse, { table: 'touchpoints', rows: [old], dedupToken: 'touchpoints.v1:2:100-100' });

  // Live state: written by the real processor (its Lua scripts) into the stack's Redis. It ran for c-b, whose
  // touchpoints the sink has stored too, and for c-live and c-repeat, whose touchpoints ClickHouse has not got yet
  // (sink lag); not for c-a, whose journey therefore has no live state.
  // One DEL per customer: a customer's keys share one slot, different customers' need not (Redis Cluster).
  for (const c of ['c-a', 'c-b', 'c-c', 'c-d', 'c-old', 'c-live', 'c-repeat', 'nobody']) await redis.del(...customerKeys(c));
  const processor = createTouchpointProcessor({
    redis,
    // Alerts are raised live (not as backfill) and the score decays with the half-life the query API is given.
    now: () => now,
    scoring: { halfLifeMs },
    timerIndexKey: `ts:test:query-integration:${process.pid}:timers`,
  });
  const outcomes = await processor.processTouchpoints(events.filter((e) => e.customer_id === 'c-b').map(fixtureTouchpoint));
  raisedForCustomerB = outcomes.flatMap((o) => (o.alert ? [o.alert] : [])).at(-1)!;
  await processor.processTouchpoints([
    fixtureTouchpoint({ event_id: 'l1', customer_id: 'c-live', occurred_at: '2024-05-01T12:20:00Z', channel: 'app', touchpoint: 'login' }),
    ...repeatContacts.map(fixtureTouchpoint),
  ]);

  app = Fastify();
  enforceRoles(app, { keys: { read: { [readKey]: 'tester' } } });
  await app.register(queryPlugin({ clickhouse, redis, halfLifeMs, now: () => now, log: app.log }));
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await redis?.quit();
  await clickhouse?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readKey}` } });
  if (res.statusCode !== 200) return { status: res.statusCode, body: res.json() };
  return { status: 200, body: res.json() };
};

const window = 'from=2024-05-01T12:00:00Z&to=2024-05-01T12:02:00Z';

// --- /v1/kpis --------------------------------------------------------------------------------------------------

describe('GET /v1/kpis', () => {
  it('one hour bucket over the whole fixture', async () => {
    const { status, body } = await get(`/v1/kpis?${window}&interval=hour`);
    expect(status).toBe(200);
    expect(body.from).toBe('2024-05-01T12:00:00.000000Z');
    expect(body.to).toBe('2024-05-01T13:00:00.000000Z');
    expect(body.by).toBeNull();
    expect(body.buckets).toEqual([
      {
        bucket: '2024-05-01T12:00:00.000000Z',
        events: 9,
        unique_customers: 4,
        // NPS: 10, 9 promoters; 3 detractor; 7 passive → (2 − 1) / 4 = 25
        nps: 25,
        nps_responses: 4,
        // CSAT 5 and 2 → one of two satisfied; mean 3.5
        csat: 50,
        csat_responses: 2,
        csat_mean: 3.5,
        // CES 6 and 3
        ces_mean: 4.5,
        ces_responses: 2,
        // durations 300000, 1000, 600000, 200000
        avg_handling_ms: 275_250,
        // waits 60000, 120000, 30000, 0
        avg_wait_ms: 52_500,
        p90_wait_ms: expect.any(Number),
        sentiment_mean: 0.5,
        // 7 events carry an outcome, 2 of them abandoned
        outcomes: 7,
        abandonment_rate: 0.285714,
        // journey 'billing' for c-a, c-b, c-c, c-d (e4 has none); completed: e3 (c-c), e9 (c-b) → 2 / 4
        journeys: 4,
        journeys_completed: 2,
        completion_rate: 0.5,
        // customer contacts with a reason: e1 (c-a) and e7 (c-b), billing_dispute, different customers → both resolved
        fcr_contacts: 2,
        fcr: 1,
        // 3 signals over 9 events = 33.3333 per 100 touchpoints
        signals: 3,
        negative_signal_rate: 33.3333,
        // No touchpoint catalogue here (TOUCHPOINTS_FILE unset): no reaction-time targets to meet.
        reaction_time_contacts: 0,
        reaction_time_met: 0,
        reaction_time_compliance: null,
        reaction_time_p90_ms: null,
        // 11:00–12:00 has no data
        previous: null,
      },
    ]);
    // One period, no key: the totals equal the single bucket, and the previous period is all zeros / nulls.
    expect(body.previous_period).toEqual({ from: '2024-05-01T11:00:00.000000Z', to: '2024-05-01T12:00:00.000000Z' });
    expect(body.totals).toHaveLength(1);
    const { previous, ...total } = body.totals[0];
    const { bucket: _bucket, previous: _previous, ...onlyBucket } = body.buckets[0];
    expect(total).toEqual(onlyBucket);
    expect(previous).toMatchObject({ events: 0, unique_customers: 0, nps: null, fcr: null, fcr_contacts: 0, signals: 0, negative_signal_rate: null });
  });

  it('minute buckets', async () => {
    const { body } = await get(`/v1/kpis?${window}&interval=minute`);
    expect(body.buckets.map((b: Record<string, unknown>) => [b.bucket, b.events, b.unique_customers, b.nps, b.csat, b.ces_mean, b.avg_handling_ms, b.avg_wait_ms, b.abandonment_rate, b.negative_signal_rate])).toEqual([
      // e1..e4: NPS 10, 9, 3 → (2 − 1) / 3; durations 300000, 1000; waits 60000, 120000; outcomes 3, 1 abandoned; s1, s3 → 2 per 4 = 50 per 100
      ['2024-05-01T12:00:00.000000Z', 4, 3, 33.3333, null, null, 150_500, 90_000, 0.333333, 50],
      // e5..e9: NPS 7 → 0; CSAT 5, 2; CES 6, 3; durations 600000, 200000; waits 30000, 0; outcomes 4, 1 abandoned; s2 → 1 per 5 = 20 per 100
      ['2024-05-01T12:01:00.000000Z', 5, 4, 0, 50, 4.5, 400_000, 15_000, 0.25, 20],
    ]);
  });

  it('by channel', async () => {
    const { body } = await get(`/v1/kpis?${window}&interval=hour&by=channel`);
    const byKey = Object.fromEntries(body.buckets.map((b: Record<string, unknown>) => [b.key, b]));
    expect(Object.keys(byKey).sort()).toEqual(['chat', 'email', 'phone', 'web']);
    expect(byKey.phone).toMatchObject({ events: 3, unique_customers: 3, nps: 66.6667, nps_responses: 3, abandonment_rate: 0.333333, signals: 1, negative_signal_rate: 33.3333, avg_handling_ms: 450_000 });
    expect(byKey.web).toMatchObject({ events: 2, nps: -100, csat: 100, abandonment_rate: 0.5, signals: 1, negative_signal_rate: 50 });
    expect(byKey.chat).toMatchObject({ events: 3, unique_customers: 2, nps: null, csat: 0, csat_mean: 2, ces_mean: 4.5, signals: 1 });
    expect(byKey.email).toMatchObject({ events: 1, nps: null, csat: null, avg_wait_ms: null, abandonment_rate: null, signals: 0, negative_signal_rate: 0 });
  });

  it('by initiator has no signal figures (signals carry no initiator)', async () => {
    const { body } = await get(`/v1/kpis?${window}&interval=day&by=initiator`);
    expect(body.buckets.map((b: Record<string, unknown>) => [b.bucket, b.key, b.events, b.signals, b.negative_signal_rate])).toEqual([
      ['2024-05-01T00:00:00.000000Z', 'company', 1, null, null],
      ['2024-05-01T00:00:00.000000Z', 'customer', 8, null, null],
    ]);
  });

  it('an empty range gives no buckets, and the default range is the last 24 h', async () => {
    expect((await get('/v1/kpis?from=2024-04-01T00:00:00Z&to=2024-04-02T00:00:00Z')).body.buckets).toEqual([]);
    const { body } = await get('/v1/kpis');
    expect([body.from, body.to, body.interval]).toEqual(['2024-04-30T12:00:00.000000Z', '2024-05-01T13:00:00.000000Z', 'hour']);
    expect(body.buckets).toHaveLength(1);
  });
});

// --- /v1/customers/:id/journey ---------------------------------------------------------------------------------

describe('GET /v1/customers/:customer_id/journey', () => {
  it('combines the ClickHouse timeline with the live state from Redis', async () => {
    const { status, body } = await get('/v1/customers/c-b/journey');
    expect(status).toBe(200);
    expect(body.customer_id).toBe('c-b');
    expect(body.timeline.map((t: { event_id: string }) => t.event_id)).toEqual(['e9', 'e7', 'e2']);
    expect(body.timeline[0]).toEqual({
      event_id: 'e9', occurred_at: '2024-05-01T12:01:50.999999Z', received_at: '2024-05-01T12:01:51.000999Z',
      channel: 'chat', touchpoint: 'support_chat', initiator: 'customer', journey: 'billing', stage: 'support',
      reason: null, outcome: 'completed', duration_ms: null, wait_ms: null, sentiment: null, sentiment_source: null, text: null,
      survey: { kind: 'CES', score: 3, comment: null }, agent_id: null, session_id: null, attributes: {},
    });
    // e7's CSAT 2 raised a survey_detractor signal and with it an alert.
    expect(raisedForCustomerB).toMatchObject({ triggered_by: 'e7', score_before: 0 });
    expect(body.live).toEqual({
      events: 3,
      first_occurred_at: '2024-05-01T12:00:10.500000Z',
      last_occurred_at: '2024-05-01T12:01:50.999999Z',
      last_event_id: 'e9',
      last_channel: 'chat',
      last_touchpoint: 'support_chat',
      score: expect.any(Number),
      score_at_last_update: expect.any(Number),
      // Every touchpoint updates the score (decaying it to its event time), so the last one's time.
      score_at: '2024-05-01T12:01:50.999999Z',
      level: raisedForCustomerB.level,
      last_alert_id: raisedForCustomerB.alert_id,
      last_alert_at: '2024-05-01T12:01:20.000000Z',
      // e7 is c-b's one contact with a reason.
      reasons: { billing_dispute: { streak: 1, last_contact_at: '2024-05-01T12:01:20.000000Z' } },
      // No churn model in force in this test: the processor has not scored anyone.
      churn_risk: null,
    });
    // The alert's score decayed from e7 to e9 as stored, and from there to the request's "now" by the query API.
    const decay = (fromIso: string, toMicros: number) => 2 ** (-(toMicros - at(fromIso)) / (halfLifeMs * 1000));
    expect(body.live.score_at_last_update).toBeCloseTo(raisedForCustomerB.score * decay('2024-05-01T12:01:20Z', at('2024-05-01T12:01:50.999999Z')), 9);
    expect(body.live.score).toBeCloseTo(body.live.score_at_last_update * decay('2024-05-01T12:01:50.999999Z', now * 1000), 9);
    expect(body.signals.map((s: { signal_id: string }) => s.signal_id)).toEqual(['s2', 's3']);
    expect(body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(['a1', 'a3']);
    expect(body.next_cursor).toBeNull();
  });

  it('interleaves touchpoints, signals and alerts newest first (alert, signal, touchpoint at the same instant)', async () => {
    const { body } = await get('/v1/customers/c-b/journey');
    const idOf = (e: Record<string, Record<string, string>>) => e.touchpoint?.event_id ?? e.signal?.signal_id ?? e.alert?.alert_id;
    expect(body.entries.map((e: Record<string, Record<string, string>> & { kind: string; at: string }) => [e.kind, idOf(e), e.at])).toEqual([
      ['touchpoint', 'e9', '2024-05-01T12:01:50.999999Z'],
      ['alert', 'a1', '2024-05-01T12:01:20.000000Z'],
      ['signal', 's2', '2024-05-01T12:01:20.000000Z'],
      ['touchpoint', 'e7', '2024-05-01T12:01:20.000000Z'],
      ['alert', 'a3', '2024-05-01T12:00:10.500000Z'],
      ['signal', 's3', '2024-05-01T12:00:10.500000Z'],
      ['touchpoint', 'e2', '2024-05-01T12:00:10.500000Z'],
    ]);
    expect(body.entries[1].alert).toMatchObject({ level: 'at_risk', signals: [{ signal_id: 's3' }, { signal_id: 's2' }] });
  });

  it('keeps microseconds, surveys with comments and attributes', async () => {
    const { body } = await get('/v1/customers/c-a/journey');
    const e1 = body.timeline.find((t: { event_id: string }) => t.event_id === 'e1');
    expect(e1).toMatchObject({ occurred_at: '2024-05-01T12:00:05.000001Z', survey: { kind: 'NPS', score: 10, comment: 'great' }, attributes: { queue: 'billing' }, agent_id: 'agent-9', duration_ms: 300_000, sentiment: 0.5 });
    expect(body.live).toBeNull();
  });

  it('pages with a cursor, losing nothing at a page boundary between entries of the same microsecond', async () => {
    const ids = (page: { entries: Array<Record<string, Record<string, string>>> }) =>
      page.entries.map((e) => e.touchpoint?.event_id ?? e.signal?.signal_id ?? e.alert?.alert_id);
    const first = (await get('/v1/customers/c-b/journey?limit=3')).body;
    expect(ids(first)).toEqual(['e9', 'a1', 's2']);
    expect(first.timeline.map((t: { event_id: string }) => t.event_id)).toEqual(['e9']);
    expect(typeof first.next_cursor).toBe('string');
    // s2 and e7 share 12:01:20.000000: the second page must start with e7.
    const second = (await get(`/v1/customers/c-b/journey?limit=3&cursor=${first.next_cursor}`)).body;
    expect(ids(second)).toEqual(['e7', 'a3', 's3']);
    const third = (await get(`/v1/customers/c-b/journey?limit=3&cursor=${second.next_cursor}`)).body;
    expect(ids(third)).toEqual(['e2']);
    expect(third.next_cursor).toBeNull();
    // A page that ends exactly at the last entry has no next page.
    expect((await get('/v1/customers/c-b/journey?limit=7')).body.next_cursor).toBeNull();
  });

  it('answers 400 for a cursor it did not produce, and an empty page past the oldest entry', async () => {
    const bad = await get('/v1/customers/c-b/journey?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ code: 'INVALID_PARAMETER', message: expect.stringContaining('cursor must be') });
    const pastOldest = Buffer.from(JSON.stringify([Date.UTC(2024, 0, 1) * 1000, 0, ''])).toString('base64url');
    const beyond = await get(`/v1/customers/c-old/journey?cursor=${pastOldest}`);
    expect(beyond.status).toBe(200);
    expect(beyond.body.entries).toEqual([]);
  });

  it('shows an event stored twice only once', async () => {
    const { body } = await get('/v1/customers/c-old/journey');
    expect(body.timeline.map((t: { event_id: string }) => t.event_id)).toEqual(['old-1']);
  });

  it('answers from Redis alone while ClickHouse has nothing yet', async () => {
    const { status, body } = await get('/v1/customers/c-live/journey');
    expect(status).toBe(200);
    expect(body.timeline).toEqual([]);
    expect(body.live).toMatchObject({ events: 1, last_channel: 'app', last_touchpoint: 'login', score: 0, level: 'none', score_at: '2024-05-01T12:20:00.000000Z', reasons: {} });
  });

  it("reports per contact reason the processor's repeat-contact streak and the latest contact's time", async () => {
    const { status, body } = await get('/v1/customers/c-repeat/journey');
    expect(status).toBe(200);
    expect(body.live.reasons).toEqual({
      // r1 then r2 within 7 days; r4 is the company's, not a contact.
      billing_dispute: { streak: 2, last_contact_at: '2024-05-01T12:10:00.000007Z' },
      password: { streak: 1, last_contact_at: '2024-05-01T12:20:00.000000Z' },
    });
  });

  it('404 when neither store knows the customer', async () => {
    const { status, body } = await get('/v1/customers/nobody/journey');
    expect(status).toBe(404);
    expect(body).toEqual({ code: 'CUSTOMER_NOT_FOUND', message: expect.stringContaining('nobody') });
  });

  it('treats a customer id as data, not SQL', async () => {
    const { status } = await get(`/v1/customers/${encodeURIComponent("x' OR 1=1 --")}/journey`);
    expect(status).toBe(404);
  });
});

// --- /v1/alerts ------------------------------------------------------------------------------------------------

describe('GET /v1/alerts', () => {
  it('newest first, each once, with its signals', async () => {
    const { body } = await get(`/v1/alerts?${window}`);
    expect(body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(['a1', 'a2', 'a3']);
    expect(body.alerts[0]).toEqual({
      alert_id: 'a1', customer_id: 'c-b', level: 'at_risk', score: 3, score_before: 1, at: '2024-05-01T12:01:20.000000Z',
      triggered_by: 'e7', rules_version: 'r1',
      signals: [
        { signal_id: 's3', type: 'wait_over_sla', weight: 1, event_id: 'e2', explanation: 'waited 120 s' },
        { signal_id: 's2', type: 'survey_detractor', weight: 2, event_id: 'e7', explanation: 'CSAT 2' },
      ],
    });
  });

  it('filters by level, customer and limit', async () => {
    const ids = async (q: string) => (await get(`/v1/alerts?${window}&${q}`)).body.alerts.map((a: { alert_id: string }) => a.alert_id);
    expect(await ids('level=at_risk')).toEqual(['a1']);
    expect(await ids('level=watch')).toEqual(['a2', 'a3']);
    expect(await ids('level=critical')).toEqual([]);
    expect(await ids('customer_id=c-b')).toEqual(['a1', 'a3']);
    expect(await ids('customer_id=c-b&level=watch')).toEqual(['a3']);
    expect(await ids('limit=1')).toEqual(['a1']);
    // `to` is exclusive.
    expect((await get('/v1/alerts?from=2024-05-01T12:00:00Z&to=2024-05-01T12:01:20Z')).body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(['a2', 'a3']);
  });
});

// --- the module ------------------------------------------------------------------------------------------------

describe('createQueryModule', () => {
  it('registers the routes during init and reports ready when both stores answer', async () => {
    const http = Fastify();
    enforceRoles(http, { keys: { read: { [readKey]: 'tester' } } });
    const module = createQueryModule({ clickhouse, redis, halfLifeMs, now: () => now, log: http.log });
    expect([module.name, module.deps]).toEqual(['query', []]);
    const instance = await module.init({ http, log: http.log });
    await instance.start();
    expect(instance.ready()).toEqual({ ready: true });
    const res = await http.inject({ method: 'GET', url: `/v1/alerts?${window}&level=at_risk`, headers: { authorization: `Bearer ${readKey}` } });
    expect(res.json().alerts).toHaveLength(1);
    await instance.stop();
    await http.close();
  });
});
