// The workspace's global filters (`channel`, `journey`) on paths, drivers, attribution, cohorts, the heat map and its
// drill-down, the alert history (and its `kind`), the annotations and the KPIs (also `touchpoint`), through the query plugin on chDB. One small fixture; every expected figure is
// worked out by hand in the comments. docs/architecture.md §19.
import Fastify, { type FastifyInstance } from 'fastify';
import { enforceRoles } from '@touchstream/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { queryPlugin } from './plugin.ts';
import { parseIsoToMicros } from './shared/time.ts';
import { redisNotUsed } from './query-module.test-support.ts';

const readKey = 'rk-scope';
const at = (iso: string) => parseIsoToMicros(iso)!;

interface Ev {
  id: string;
  c: string;
  t: string;
  tp: string;
  ch: string;
  journey: string;
  stage: string;
  wait?: number;
}

const row = (e: Ev, i: number) => ({
  event_id: e.id,
  customer_id: e.c,
  occurred_at: dateTime64FromMicros(at(e.t)),
  received_at: dateTime64FromMicros(at(e.t)),
  channel: e.ch,
  touchpoint: e.tp,
  initiator: 'customer',
  journey: e.journey,
  stage: e.stage,
  reason: '',
  outcome: '',
  wait_ms: e.wait ?? null,
  survey_kind: '',
  survey_score: null,
  survey_comment: '',
  agent_id: '',
  session_id: '',
  attributes: {},
  kafka_partition: 0,
  kafka_offset: i,
});

const t = (hhmm: string) => `2024-08-01T${hhmm}:00Z`;
const web = (id: string, c: string, time: string, tp: string, stage: string): Ev => ({ id, c, t: time, tp, ch: 'web', journey: 'checkout', stage });
const call = (id: string, c: string, time: string, wait: number): Ev => ({ id, c, t: time, tp: 'help_call', ch: 'phone', journey: 'support', stage: 'support', wait });

// Thursday 2024-08-01 (week of Monday 2024-07-29):
//   s1: home (web, checkout) → cart (web, checkout) → help_call (phone, support) → pay (web, checkout); a week later another help_call
//   s2: home → help_call → cart
//   s3: app_open (app, no journey, no stage) → help_call
const events: Ev[] = [
  web('e1', 's1', t('00:00'), 'home', 'browse'), web('e2', 's1', t('00:01'), 'cart', 'purchase'), call('e3', 's1', t('00:02'), 30_000),
  web('e4', 's1', t('00:03'), 'pay', 'purchase'),
  web('e5', 's2', t('00:00'), 'home', 'browse'), call('e6', 's2', t('00:01'), 60_000), web('e7', 's2', t('00:02'), 'cart', 'purchase'),
  { id: 'e8', c: 's3', t: t('00:00'), tp: 'app_open', ch: 'app', journey: '', stage: '' }, call('e9', 's3', t('00:05'), 90_000),
  call('e10', 's1', '2024-08-08T10:00:00Z', 1_000),
];

let ch: TestClickHouse;
let app: FastifyInstance;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  await storeRows(ch.client, { table: 'touchpoints', rows: events.map(row), dedupToken: 'scope-test:touchpoints' });
  const alert = (id: string, customer: string, triggeredBy: string, time: string) => ({
    alert_id: id, customer_id: customer, score: 6, score_before: 3, level: 'at_risk', signals: [], triggered_by: triggeredBy,
    at: dateTime64FromMicros(at(time)), rules_version: 'r1', kafka_partition: 0, kafka_offset: 0,
  });
  // Raised by s1's cart (web, checkout) and by s3's help call (phone, support), at those touchpoints' event times;
  // two KPI deviation alerts (docs/architecture.md §21): the phone channel's series and the cart touchpoint's.
  await insertRows(ch.client, {
    table: 'alerts',
    rows: [
      alert('al-web', 's1', 'e2', t('00:01')), alert('al-phone', 's3', 'e9', t('00:05')),
      alert('al-kpi-phone', 'kpi:channel=phone', 'kpi_anomaly', t('00:10')), alert('al-kpi-cart', 'kpi:touchpoint=cart', 'kpi_anomaly', t('00:20')),
    ],
  });
  const annotation = (id: string, time: string, scope: { channel?: string; journey?: string }) => ({
    annotation_id: id, title: id, description: '', at: dateTime64FromMicros(at(time)), channel: scope.channel ?? '', journey: scope.journey ?? '',
    touchpoint: '', stage: '', created_by: 'tester', created_at: dateTime64FromMicros(at(time)),
  });
  await insertRows(ch.client, {
    table: 'annotations',
    rows: [
      annotation('an-all', t('01:00'), {}), annotation('an-phone', t('02:00'), { channel: 'phone' }),
      annotation('an-phone-support', t('03:00'), { channel: 'phone', journey: 'support' }), annotation('an-web-checkout', t('04:00'), { channel: 'web', journey: 'checkout' }),
      annotation('an-before', '2024-07-01T00:00:00Z', {}),
    ],
  });
  app = Fastify();
  enforceRoles(app, { keys: { read: { [readKey]: 'tester' } } });
  await app.register(queryPlugin({ clickhouse: ch.client, redis: redisNotUsed, halfLifeMs: 3_600_000, now: () => Date.UTC(2024, 7, 31), log: app.log }));
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await ch?.close();
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readKey}` } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const day = 'from=2024-08-01T00:00:00Z&to=2024-08-02T00:00:00Z';

describe('GET /v1/paths with channel / journey', () => {
  it('paths are made of the touchpoints in scope only', async () => {
    const all = await get(`/v1/paths?start=home&depth=3&${day}`);
    // s1 home → cart → help_call, s2 home → help_call → cart
    expect(all.customers).toBe(2);
    expect(all.edges).toEqual([
      { source: 'step 1: home', target: 'step 2: cart', customers: 1 },
      { source: 'step 1: home', target: 'step 2: help_call', customers: 1 },
      { source: 'step 2: cart', target: 'step 3: help_call', customers: 1 },
      { source: 'step 2: help_call', target: 'step 3: cart', customers: 1 },
    ]);
    // On the web: s1 home → cart → pay, s2 home → cart (the calls are left out)
    const webOnly = await get(`/v1/paths?start=home&depth=3&channel=web&${day}`);
    expect(webOnly.customers).toBe(2);
    expect(webOnly.edges).toEqual([
      { source: 'step 1: home', target: 'step 2: cart', customers: 2 },
      { source: 'step 2: cart', target: 'step 3: pay', customers: 1 },
    ]);
    // No home in the support journey.
    expect(await get(`/v1/paths?start=home&depth=3&journey=support&${day}`)).toMatchObject({ customers: 0, edges: [] });
    // Both at once: the web touchpoints of the support journey — none.
    expect((await get(`/v1/paths?end=help_call&depth=2&channel=web&journey=support&${day}`)).customers).toBe(0);
    expect((await get(`/v1/paths?end=help_call&depth=2&channel=phone&journey=support&${day}`)).customers).toBe(3);
  });
});

describe('GET /v1/attribution with channel / journey', () => {
  it('only touchpoints in scope make paths and conversions', async () => {
    // s1's pay: path home (web), cart (web), help_call (phone): first touch web, last touch phone, linear 2/3 web, 1/3 phone
    const all = await get(`/v1/attribution?conversion=pay&by=channel&lookback=7d&${day}`);
    expect(all.conversions).toBe(1);
    const credit = (res: { credits: Array<Record<string, number | string>> }, key: string) => res.credits.find((c) => c.key === key);
    expect(credit(all, 'web')).toMatchObject({ first_touch: 1, last_touch: 0 });
    expect(credit(all, 'phone')).toMatchObject({ first_touch: 0, last_touch: 1 });
    expect(credit(all, 'web')!.linear).toBeCloseTo(2 / 3, 3);
    // Checkout only: path home, cart → all credit to web, the phone call is not on it
    const checkout = await get(`/v1/attribution?conversion=pay&by=channel&lookback=7d&journey=checkout&${day}`);
    expect(checkout.conversions).toBe(1);
    expect(credit(checkout, 'web')).toMatchObject({ first_touch: 1, last_touch: 1, linear: 1 });
    expect(credit(checkout, 'phone')).toBeUndefined();
    // pay is not in the support journey: no conversion there
    expect((await get(`/v1/attribution?conversion=pay&by=channel&lookback=7d&journey=support&${day}`)).conversions).toBe(0);
  });
});

describe('GET /v1/drivers with channel / journey', () => {
  it('the population is the customers with a touchpoint in scope; their factors stay everything they saw', async () => {
    const all = await get(`/v1/drivers?outcome=pay&days=7&min_customers=1&${day}`);
    expect([all.customers, all.outcome_customers]).toEqual([3, 1]);
    // s3 alone was on the app
    expect(await get(`/v1/drivers?outcome=pay&days=7&min_customers=1&channel=app&${day}`)).toMatchObject({ customers: 1, outcome_customers: 0, drivers: [] });
    // s1 and s2 in checkout; s1 paid after a phone call, which still counts as a factor: a = 1 (s1), c = 1 (s2 called too)
    const checkout = await get(`/v1/drivers?outcome=pay&days=7&min_customers=1&journey=checkout&${day}`);
    expect([checkout.customers, checkout.outcome_customers]).toEqual([2, 1]);
    expect(checkout.drivers.find((d: { kind: string; value: string }) => d.kind === 'channel' && d.value === 'phone')).toMatchObject({
      outcome_with_factor: 1, no_outcome_with_factor: 1, outcome_without_factor: 0, no_outcome_without_factor: 0,
    });
  });
});

describe('GET /v1/cohorts with channel / journey', () => {
  const range = 'period=week&periods=2&from=2024-08-01T00:00:00Z&to=2024-08-02T00:00:00Z';
  it('first touch and activity count only touchpoints in scope', async () => {
    // Everyone first seen in the week of 2024-07-29; s1 active again the week after (its second call)
    expect((await get(`/v1/cohorts?${range}`)).cohorts).toEqual([
      { cohort: '2024-07-29', customers: 3, retention: [{ period: 0, active: 3, share: 1 }, { period: 1, active: 1, share: 0.333333 }, { period: 2, active: 0, share: 0 }] },
    ]);
    // Checkout: s1 and s2; s1's later call is not checkout activity
    expect((await get(`/v1/cohorts?${range}&journey=checkout`)).cohorts).toEqual([
      { cohort: '2024-07-29', customers: 2, retention: [{ period: 0, active: 2, share: 1 }, { period: 1, active: 0, share: 0 }, { period: 2, active: 0, share: 0 }] },
    ]);
    // Phone: all three called; s1 called again
    expect((await get(`/v1/cohorts?${range}&channel=phone`)).cohorts).toEqual([
      { cohort: '2024-07-29', customers: 3, retention: [{ period: 0, active: 3, share: 1 }, { period: 1, active: 1, share: 0.333333 }, { period: 2, active: 0, share: 0 }] },
    ]);
    expect((await get(`/v1/cohorts?${range}&channel=email`)).cohorts).toEqual([]);
  });
});

describe('GET /v1/heatmap and /v1/heatmap/cell with channel / journey', () => {
  const stagesOf = (res: { rows: Array<{ stage: string; events: number }> }) => res.rows.map((r) => [r.stage, r.events]);
  it('rows and figures from the touchpoints in scope (minute rollup), equal to the unfiltered daily rollup where they coincide', async () => {
    const all = await get(`/v1/heatmap?metrics=avg_wait_ms&${day}`);
    expect(new Map(stagesOf(all) as Array<[string, number]>)).toEqual(new Map([['browse', 2], ['purchase', 3], ['support', 3], ['', 1]]));
    const phone = await get(`/v1/heatmap?metrics=avg_wait_ms&channel=phone&${day}`);
    // the three calls: waits 30, 60 and 90 s
    expect(stagesOf(phone)).toEqual([['support', 3]]);
    expect(phone.rows[0].cells.avg_wait_ms.value).toBe(60_000);
    expect(phone.rows[0].cells.avg_wait_ms.value).toBe(all.rows.find((r: { stage: string }) => r.stage === 'support').cells.avg_wait_ms.value);
    const checkout = await get(`/v1/heatmap?metrics=avg_wait_ms&journey=checkout&${day}`);
    // lifecycle order: the known stage purchase first, then browse (not one of the lifecycle stages)
    expect(stagesOf(checkout)).toEqual([['purchase', 3], ['browse', 2]]);
    expect(checkout.rows[0].cells.avg_wait_ms.value).toBeNull();
    expect((await get(`/v1/heatmap?channel=phone&journey=checkout&${day}`)).rows).toEqual([]);
  });

  it('a filtered 30-day map reads hours (it was refused when a filter meant minutes)', async () => {
    // The four calls, s1's second one on 2024-08-08 included: waits 30, 60, 90 and 1 s.
    const month = await get('/v1/heatmap?metrics=avg_wait_ms&from=2024-07-20T00:00:00Z&to=2024-08-19T00:00:00Z&channel=phone&journey=support');
    expect(stagesOf(month)).toEqual([['support', 4]]);
    expect(month.rows[0].cells.avg_wait_ms.value).toBe(45_250);
  });

  it('the drill-down keeps the same filter', async () => {
    const cell = await get(`/v1/heatmap/cell?stage=purchase&${day}&channel=web`);
    expect(cell.touchpoints).toEqual([
      { touchpoint: 'cart', channel: 'web', events: 2, customers: 2 },
      { touchpoint: 'pay', channel: 'web', events: 1, customers: 1 },
    ]);
    expect((await get(`/v1/heatmap/cell?stage=purchase&${day}&channel=phone`)).touchpoints).toEqual([]);
    const support = await get(`/v1/heatmap/cell?stage=support&${day}&journey=support`);
    expect(support.customers.map((c: { customer_id: string }) => c.customer_id)).toEqual(['s3', 's1', 's2']);
  });
});

describe('GET /v1/alerts with channel / journey', () => {
  it('keeps the alerts raised by a touchpoint in scope, as the live stream does', async () => {
    const ids = async (filter: string) => (await get(`/v1/alerts?${day}${filter}`)).alerts.map((a: { alert_id: string }) => a.alert_id);
    expect(await ids('')).toEqual(['al-kpi-cart', 'al-kpi-phone', 'al-phone', 'al-web']);
    // The phone channel's KPI alert is the phone channel's, as in the live stream (its channel is set there).
    expect(await ids('&channel=phone')).toEqual(['al-kpi-phone', 'al-phone']);
    expect(await ids('&journey=checkout')).toEqual(['al-web']);
    expect(await ids('&channel=web&journey=checkout')).toEqual(['al-web']);
    expect(await ids('&channel=app')).toEqual([]);
  });

  it('kind tells customer alerts from KPI deviation alerts, with or without a filter', async () => {
    const ids = async (filter: string) => (await get(`/v1/alerts?${day}${filter}`)).alerts.map((a: { alert_id: string }) => a.alert_id);
    expect(await ids('&kind=kpi')).toEqual(['al-kpi-cart', 'al-kpi-phone']);
    expect(await ids('&kind=customer')).toEqual(['al-phone', 'al-web']);
    expect(await ids('&kind=kpi&channel=phone')).toEqual(['al-kpi-phone']);
    expect(await ids('&kind=customer&channel=phone')).toEqual(['al-phone']);
    // A series is one dimension's: no KPI alert is the phone channel's and the support journey's at once.
    expect(await ids('&kind=kpi&channel=phone&journey=support')).toEqual([]);
    const res = await app.inject({ method: 'GET', url: `/v1/alerts?${day}&kind=customers`, headers: { authorization: `Bearer ${readKey}` } });
    expect(res.statusCode).toBe(400);
  });

  it('400 for an empty filter value', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/alerts?${day}&channel=`, headers: { authorization: `Bearer ${readKey}` } });
    expect(res.statusCode).toBe(400);
  });
});

describe('GET /v1/annotations with channel / journey', () => {
  it('keeps the annotations that apply there: scoped to it, or not scoped on that dimension', async () => {
    const ids = async (filter: string) => (await get(`/v1/annotations?${day}${filter}`)).annotations.map((a: { id: string }) => a.id);
    // Newest first; an-before is outside the range.
    expect(await ids('')).toEqual(['an-web-checkout', 'an-phone-support', 'an-phone', 'an-all']);
    expect(await ids('&channel=phone')).toEqual(['an-phone-support', 'an-phone', 'an-all']);
    expect(await ids('&journey=checkout')).toEqual(['an-web-checkout', 'an-phone', 'an-all']);
    // an-phone applies to every journey on the phone; an-phone-support to another journey.
    expect(await ids('&channel=phone&journey=checkout')).toEqual(['an-phone', 'an-all']);
    expect(await ids('&channel=email')).toEqual(['an-all']);
  });
});

describe('GET /v1/kpis with channel, journey and touchpoint', () => {
  type Kpis = { totals: Array<{ key?: string; events: number; unique_customers: number; avg_wait_ms: number | null }>; buckets: Array<{ bucket: string; key?: string; events: number }> };
  const kpis = async (query: string): Promise<Kpis> => get(`/v1/kpis?${day}&${query}`);
  const figures = (res: Kpis) => res.totals.map((x) => [x.key ?? '', x.events, x.unique_customers, x.avg_wait_ms]);

  it('applies every filter at once, equal on the minute, hour and day rollups', async () => {
    for (const interval of ['minute', 'hour', 'day']) {
      // The three calls (s1, s2, s3): waits 30, 60 and 90 s. One filter alone: the per-dimension rows (hour, day).
      expect(figures(await kpis(`interval=${interval}&channel=phone`)), interval).toEqual([['', 3, 3, 60_000]]);
      expect(figures(await kpis(`interval=${interval}&touchpoint=help_call`)), interval).toEqual([['', 3, 3, 60_000]]);
      // Two at once: web touchpoints of checkout are s1's home, cart, pay and s2's home, cart.
      expect(figures(await kpis(`interval=${interval}&channel=web&journey=checkout`)), interval).toEqual([['', 5, 2, null]]);
      expect(figures(await kpis(`interval=${interval}&channel=web&touchpoint=cart`)), interval).toEqual([['', 2, 2, null]]);
      expect(figures(await kpis(`interval=${interval}&channel=phone&journey=support&touchpoint=help_call`)), interval).toEqual([['', 3, 3, 60_000]]);
      // Nothing is both on the phone and in checkout.
      expect((await kpis(`interval=${interval}&channel=phone&journey=checkout`)).totals, interval).toEqual([]);
      // A filter with a split: by the filtered dimension (its key only), and by another one.
      expect(figures(await kpis(`interval=${interval}&channel=phone&by=channel`)), interval).toEqual([['phone', 3, 3, 60_000]]);
      expect(figures(await kpis(`interval=${interval}&journey=checkout&by=stage`)), interval).toEqual([['browse', 2, 2, null], ['purchase', 3, 2, null]]);
      expect(figures(await kpis(`interval=${interval}&channel=web&journey=checkout&by=touchpoint`)), interval).toEqual([
        ['cart', 2, 2, null], ['home', 2, 2, null], ['pay', 1, 1, null],
      ]);
    }
  });

  it('the series holds the filtered touchpoints per bucket', async () => {
    // Web touchpoints of checkout per minute: 00:00 home ×2, 00:01 cart (s1), 00:02 cart (s2), 00:03 pay.
    const minute = await get('/v1/kpis?from=2024-08-01T00:00:00Z&to=2024-08-01T00:10:00Z&interval=minute&channel=web&journey=checkout');
    expect(minute.buckets.map((b: { bucket: string; events: number }) => [b.bucket.slice(11, 16), b.events])).toEqual([['00:00', 2], ['00:01', 1], ['00:02', 1], ['00:03', 1]]);
    const hour = await kpis('interval=hour&channel=web&journey=checkout');
    expect(hour.buckets.map((b) => [b.bucket, b.events])).toEqual([['2024-08-01T00:00:00.000000Z', 5]]);
    // The week after: s1's second call, on the phone, is the whole filtered series.
    const week = await get('/v1/kpis?from=2024-08-01T00:00:00Z&to=2024-08-15T00:00:00Z&interval=day&channel=phone&journey=support');
    expect(week.buckets.map((b: { bucket: string; events: number }) => [b.bucket.slice(0, 10), b.events])).toEqual([['2024-08-01', 3], ['2024-08-08', 1]]);
  });

  it('400 for an empty filter value', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/kpis?${day}&touchpoint=`, headers: { authorization: `Bearer ${readKey}` } });
    expect(res.statusCode).toBe(400);
  });
});
