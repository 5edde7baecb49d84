// Funnels, paths, drivers and attribution through the query plugin on chDB, on small fixtures whose expected figures
// are worked out by hand below. Each analysis has its own days so the fixtures do not see each other.
import Fastify, { type FastifyInstance } from 'fastify';
import { enforceRoles } from '@touchstream/runtime';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { queryPlugin } from './plugin.ts';
import { parseIsoToMicros } from './shared/time.ts';
import { redisNotUsed } from './query-module.test-support.ts';

const readKey = 'rk-analysis';
const at = (iso: string) => parseIsoToMicros(iso)!;

interface Ev {
  c: string;
  t: string;
  tp: string;
  ch?: string;
  reason?: string;
  outcome?: string;
  survey?: [kind: string, score: number];
}

let offset = 0;
const row = (e: Ev) => ({
  event_id: `ev-${offset}`,
  customer_id: e.c,
  occurred_at: dateTime64FromMicros(at(e.t)),
  received_at: dateTime64FromMicros(at(e.t)),
  channel: e.ch ?? 'web',
  touchpoint: e.tp,
  initiator: 'customer',
  journey: '',
  stage: '',
  reason: e.reason ?? '',
  outcome: e.outcome ?? '',
  survey_kind: e.survey?.[0] ?? '',
  survey_score: e.survey?.[1] ?? null,
  survey_comment: '',
  agent_id: '',
  session_id: '',
  attributes: {},
  kafka_partition: 0,
  kafka_offset: offset++,
});

// --- funnel fixture: 2024-05-01 ---------------------------------------------------------------------------------
const d1 = (hhmm: string) => `2024-05-01T${hhmm}:00Z`;
const funnelEvents: Ev[] = [
  // f1: home → cart (+60 s) → pay (+120 s): reaches 3
  { c: 'f1', t: d1('00:00'), tp: 'home' }, { c: 'f1', t: d1('00:01'), tp: 'cart' }, { c: 'f1', t: d1('00:03'), tp: 'pay' },
  // f2 (app): home → cart (+300 s) → faq: reaches 2
  { c: 'f2', t: d1('00:00'), tp: 'home', ch: 'app' }, { c: 'f2', t: d1('00:05'), tp: 'cart', ch: 'app' }, { c: 'f2', t: d1('00:06'), tp: 'faq', ch: 'app' },
  // f3: home → help: reaches 1
  { c: 'f3', t: d1('00:00'), tp: 'home' }, { c: 'f3', t: d1('00:02'), tp: 'help' },
  // f4: home → cart (+600 s) → pay 2 h after entering: outside a 1 h window, reaches 2
  { c: 'f4', t: d1('00:00'), tp: 'home' }, { c: 'f4', t: d1('00:10'), tp: 'cart' }, { c: 'f4', t: d1('02:00'), tp: 'pay' },
  // f5: first touch by email, then home on web: reaches 1
  { c: 'f5', t: d1('00:00'), tp: 'promo_email', ch: 'email' }, { c: 'f5', t: d1('00:01'), tp: 'home' },
];

// --- 21-step funnel: 2024-05-02 ---------------------------------------------------------------------------------
const longSteps = Array.from({ length: 21 }, (_, i) => `s${i + 1}`);
const longEvents: Ev[] = [
  // g1 does all 21 steps a minute apart; g2 the first 10.
  ...longSteps.map((tp, i) => ({ c: 'g1', t: `2024-05-02T00:${String(i).padStart(2, '0')}:00Z`, tp })),
  ...longSteps.slice(0, 10).map((tp, i) => ({ c: 'g2', t: `2024-05-02T01:${String(i).padStart(2, '0')}:00Z`, tp })),
];

// --- drivers fixture: 2024-05-10 … 2024-05-20, days = 7 ----------------------------------------------------------
const billing = (c: string, t: string): Ev => ({ c, t, tp: 'billing_call', ch: 'phone', reason: 'billing_dispute' });
const driverEvents: Ev[] = [
  // a: factor (billing dispute call) and outcome (contract_cancelled a day later): d1, d2, d3
  ...['d1', 'd2', 'd3'].flatMap((c) => [billing(c, '2024-05-11T10:00:00Z'), { c, t: '2024-05-12T10:00:00Z', tp: 'contract_cancelled' }]),
  // b: outcome without the factor in the 7 days before it: d4 (its billing call is 9 days earlier, outside the window)
  billing('d4', '2024-05-03T10:00:00Z'),
  { c: 'd4', t: '2024-05-11T10:00:00Z', tp: 'app_login', ch: 'app' }, { c: 'd4', t: '2024-05-12T10:00:00Z', tp: 'contract_cancelled' },
  // c: factor, no outcome (reference window: the 7 days before the last touchpoint, app_login on the 12th): d5, d6
  // (d5's last touchpoint carries an NPS 2: a survey detractor)
  billing('d5', '2024-05-11T10:00:00Z'), { c: 'd5', t: '2024-05-12T10:00:00Z', tp: 'app_login', ch: 'app', survey: ['NPS', 2] },
  billing('d6', '2024-05-11T10:00:00Z'), { c: 'd6', t: '2024-05-12T10:00:00Z', tp: 'app_login', ch: 'app' },
  // d: neither: d7 … d10
  ...['d7', 'd8', 'd9', 'd10'].flatMap((c) => [
    { c, t: '2024-05-11T10:00:00Z', tp: 'app_login', ch: 'app' },
    { c, t: '2024-05-12T10:00:00Z', tp: 'app_login', ch: 'app' },
  ]),
];

// --- attribution fixture: 2024-06-01 … 2024-06-10, lookback 7d, half-life 1d -------------------------------------
const attributionEvents: Ev[] = [
  // p1: email → web → purchase
  { c: 'p1', t: '2024-06-01T00:00:00Z', tp: 'newsletter', ch: 'email' }, { c: 'p1', t: '2024-06-02T00:00:00Z', tp: 'product_page', ch: 'web' },
  { c: 'p1', t: '2024-06-03T00:00:00Z', tp: 'purchase', ch: 'store' },
  // p2: social → email → web → purchase
  { c: 'p2', t: '2024-06-01T00:00:00Z', tp: 'ad_click', ch: 'social' }, { c: 'p2', t: '2024-06-01T12:00:00Z', tp: 'newsletter', ch: 'email' },
  { c: 'p2', t: '2024-06-02T00:00:00Z', tp: 'product_page', ch: 'web' }, { c: 'p2', t: '2024-06-02T12:00:00Z', tp: 'purchase', ch: 'store' },
  // p3: a purchase with nothing before it
  { c: 'p3', t: '2024-06-05T00:00:00Z', tp: 'purchase', ch: 'store' },
  // p4: social → web, no purchase
  { c: 'p4', t: '2024-06-01T00:00:00Z', tp: 'ad_click', ch: 'social' }, { c: 'p4', t: '2024-06-02T00:00:00Z', tp: 'product_page', ch: 'web' },
];

let ch: TestClickHouse;
let app: FastifyInstance;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  const all = [...funnelEvents, ...longEvents, ...driverEvents, ...attributionEvents];
  await storeRows(ch.client, { table: 'touchpoints', rows: all.map(row) });
  await storeRows(ch.client, { table: 'signals',
    rows: [{ signal_id: 'sig-1', customer_id: 'd1', type: 'repeat_contact', weight: 3, event_id: 'x', occurred_at: dateTime64FromMicros(at('2024-05-11T11:00:00Z')),
      channel: 'phone', touchpoint: 'billing_call', journey: '', stage: '', explanation: 'second call', rules_version: 'r1', kafka_partition: 0, kafka_offset: 0 }],
  });
  await insertRows(ch.client, {
    table: 'alerts',
    rows: [{ alert_id: 'al-1', customer_id: 'd2', score: 6, score_before: 3, level: 'at_risk', signals: [], triggered_by: 'x',
      at: dateTime64FromMicros(at('2024-05-12T09:00:00Z')), rules_version: 'r1', kafka_partition: 0, kafka_offset: 0 }],
  });
  app = Fastify();
  enforceRoles(app, { keys: { read: { [readKey]: 'tester' } } });
  // The analysis routes never touch Redis.
  await app.register(queryPlugin({ clickhouse: ch.client, redis: redisNotUsed, halfLifeMs: 3_600_000, now: () => Date.UTC(2024, 5, 30), log: app.log }));
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await ch?.close();
});

const auth = { authorization: `Bearer ${readKey}` };
const get = (url: string) => app.inject({ method: 'GET', url, headers: auth });
const post = (url: string, body: object) => app.inject({ method: 'POST', url, headers: auth, payload: body });

const day1 = { from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z' };
const homeCartPay = { steps: [{ touchpoint: 'home', channel: 'web' }, { touchpoint: 'cart' }, { touchpoint: 'pay' }], window: '1h', ...day1 };
// Step 1 is home on ANY channel below unless said otherwise.
const anyHomeCartPay = { ...homeCartPay, steps: [{ touchpoint: 'home' }, { touchpoint: 'cart' }, { touchpoint: 'pay' }] };

type Step = Record<string, unknown>;
const counts = (steps: Step[]) => steps.map((s) => s.customers);

describe('POST /v1/funnels', () => {
  it('ordered: customers, conversion, time to convert and histogram per step', async () => {
    const res = await post('/v1/funnels', anyHomeCartPay);
    expect(res.statusCode).toBe(200);
    const { steps } = res.json();
    // step 1: f1…f5 = 5; step 2 (cart within 1 h): f1, f2, f4 = 3; step 3 (pay within 1 h of home): f1 only
    expect(counts(steps)).toEqual([5, 3, 1]);
    expect(steps.map((s: Step) => s.conversion_from_previous)).toEqual([null, 0.6, 0.333333]);
    expect(steps.map((s: Step) => s.conversion_from_first)).toEqual([1, 0.6, 0.2]);
    // step 2 − step 1 in seconds: f1 60, f2 300, f4 600 → median 300; p90 (linear) = 300 + 0.8·(600 − 300) = 540
    expect(steps[1]).toMatchObject({ median_seconds_from_previous: 300, p90_seconds_from_previous: 540, median_seconds_from_first: 300 });
    // histogram bins ≤60, ≤300, ≤900, …: 60 → first bin, 300 → second, 600 → third
    expect(steps[1].histogram_from_previous.map((b: Step) => b.customers)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(steps[1].histogram_from_previous[8].le_seconds).toBeNull();
    // step 3: f1 pays 120 s after cart, 180 s after entering
    expect(steps[2]).toMatchObject({ median_seconds_from_previous: 120, p90_seconds_from_previous: 120, median_seconds_from_first: 180 });
    // step 1 has no "previous"
    expect(steps[0]).toMatchObject({ median_seconds_from_previous: null, histogram_from_previous: [], median_seconds_from_first: 0 });
  });

  it('a step on a given channel, and a wider window', async () => {
    // step 1 only on web: f2 (app) is out → 4, 2 (f1, f4), and with 3 h f4's pay counts too → 2
    const { steps } = (await post('/v1/funnels', { ...homeCartPay, window: '3h' })).json();
    expect(counts(steps)).toEqual([4, 2, 2]);
  });

  it('breakdown by entry channel and by first channel', async () => {
    const byChannel = (await post('/v1/funnels', { ...anyHomeCartPay, breakdown: 'channel' })).json();
    // entry (home) on web: f1, f3, f4, f5 → 4, 2, 1; on app: f2 → 1, 1, 0
    expect(byChannel.breakdown.groups.map((g: { key: string; steps: Step[] }) => [g.key, counts(g.steps)])).toEqual([
      ['web', [4, 2, 1]],
      ['app', [1, 1, 0]],
    ]);
    expect(counts(byChannel.steps)).toEqual([5, 3, 1]);
    const byFirst = (await post('/v1/funnels', { ...anyHomeCartPay, breakdown: 'first_channel' })).json();
    // f5's first touchpoint is the email
    expect(byFirst.breakdown.groups.map((g: { key: string; steps: Step[] }) => [g.key, counts(g.steps)])).toEqual([
      ['web', [3, 2, 1]],
      ['app', [1, 1, 0]],
      ['email', [1, 0, 0]],
    ]);
  });

  it('exclusion: the first exclusion event after entering ends the funnel', async () => {
    // cart on app excludes: f2's cart is itself the exclusion event, so f2 stops at step 1 → 5, 2, 1
    const { steps } = (await post('/v1/funnels', { ...anyHomeCartPay, exclusions: [{ touchpoint: 'cart', channel: 'app' }] })).json();
    expect(counts(steps)).toEqual([5, 2, 1]);
  });

  it('optional step: counted when done, skipped without stopping the customer', async () => {
    const body = { steps: [{ touchpoint: 'home' }, { touchpoint: 'help', optional: true }, { touchpoint: 'pay' }], window: '3h', ...day1 };
    const { steps } = (await post('/v1/funnels', body)).json();
    // help: f3 only; pay within 3 h: f1, f4 — conversion of pay is against step 1 (the previous required): 2/5
    expect(counts(steps)).toEqual([5, 1, 2]);
    expect(steps[1]).toMatchObject({ optional: true, conversion_from_previous: 0.2 });
    expect(steps[2].conversion_from_previous).toBe(0.4);
  });

  it('unordered vs ordered', async () => {
    const body = { steps: [{ touchpoint: 'cart' }, { touchpoint: 'home' }], window: '1h', ...day1 };
    // ordered: cart then home — nobody goes back home after the cart
    expect(counts((await post('/v1/funnels', body)).json().steps)).toEqual([3, 0]);
    // unordered: cart and home in any order within 1 h of the first of them: f1, f2, f4
    const unordered = (await post('/v1/funnels', { ...body, order: 'unordered' })).json();
    expect(counts(unordered.steps)).toEqual([3, 3]);
    // reached when the later of the two happened: f1 60 s, f2 300 s, f4 600 s after entering → median 300
    expect(unordered.steps[1].median_seconds_from_first).toBe(300);
  });

  it('21 steps', async () => {
    const body = { steps: longSteps.map((touchpoint) => ({ touchpoint })), window: '1d', from: '2024-05-02T00:00:00Z', to: '2024-05-03T00:00:00Z' };
    const { steps } = (await post('/v1/funnels', body)).json();
    expect(steps).toHaveLength(21);
    // g1 does all 21, g2 the first 10
    expect(counts(steps)).toEqual([...Array(10).fill(2), ...Array(11).fill(1)]);
    // g1 is 20 minutes from s1 to s21
    expect(steps[20].median_seconds_from_first).toBe(1200);
  });

  it('CSV: one line per step', async () => {
    const res = await post('/v1/funnels?format=csv', anyHomeCartPay);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trim().split('\r\n');
    expect(lines[0]).toBe('group,step,label,touchpoint,optional,customers,conversion_from_previous,conversion_from_first,median_seconds_from_previous,p90_seconds_from_previous,median_seconds_from_first,p90_seconds_from_first');
    expect(lines.slice(1).map((l) => l.split(',').slice(1, 6).join(','))).toEqual(['1,home,home,false,5', '2,cart,cart,false,3', '3,pay,pay,false,1']);
  });

  it('unknown touchpoints and empty ranges give zeros, not errors', async () => {
    const unknown = (await post('/v1/funnels', { ...anyHomeCartPay, steps: [{ touchpoint: 'nope' }, { touchpoint: 'nada' }] })).json();
    expect(counts(unknown.steps)).toEqual([0, 0]);
    expect(unknown.steps[1].conversion_from_previous).toBeNull();
    const empty = await post('/v1/funnels', { ...anyHomeCartPay, from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' });
    expect(empty.statusCode).toBe(200);
    expect(counts(empty.json().steps)).toEqual([0, 0, 0]);
  });

  it('400 with a reason for bad funnels', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ ...anyHomeCartPay, steps: [{ touchpoint: 'home' }] }, /steps/],
      [{ ...anyHomeCartPay, steps: Array.from({ length: 33 }, () => ({ touchpoint: 'x' })) }, /steps/],
      [{ ...anyHomeCartPay, steps: [{ touchpoint: 'home', optional: true }, { touchpoint: 'cart' }] }, /first step/],
      [{ ...anyHomeCartPay, window: '2w' }, /window/],
      [{ ...anyHomeCartPay, order: 'sideways' }, /order must be one of/],
      [{ ...anyHomeCartPay, from: '2024-05-02T00:00:00Z', to: '2024-05-01T00:00:00Z' }, /from must be before to/],
      [{ ...anyHomeCartPay, from: 'yesterday' }, /from must be/],
    ];
    for (const [body, reason] of cases) {
      const res = await post('/v1/funnels', body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json()).toEqual({ code: 'INVALID_PARAMETER', message: expect.stringMatching(reason) });
    }
  });
});

describe('POST /v1/funnels/dropped', () => {
  it('customers who dropped at a step, paginated, with what they did next', async () => {
    const res = await post('/v1/funnels/dropped?step=3', anyHomeCartPay);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    // reached cart but not pay within 1 h: f2 (next: faq) and f4 (next: the late pay, 2 h after entering)
    expect(body.total).toBe(2);
    expect(body.customers).toEqual([
      { customer_id: 'f2', last_step_at: '2024-05-01T00:05:00.000000Z', next_touchpoint: 'faq', next_channel: 'app', next_at: '2024-05-01T00:06:00.000000Z' },
      { customer_id: 'f4', last_step_at: '2024-05-01T00:10:00.000000Z', next_touchpoint: 'pay', next_channel: 'web', next_at: '2024-05-01T02:00:00.000000Z' },
    ]);
    expect(body.next_touchpoints).toEqual([
      { touchpoint: 'faq', channel: 'app', customers: 1 },
      { touchpoint: 'pay', channel: 'web', customers: 1 },
    ]);
    const page2 = (await post('/v1/funnels/dropped?step=3&limit=1&offset=1', anyHomeCartPay)).json();
    expect(page2.customers.map((c: Step) => c.customer_id)).toEqual(['f4']);
    expect(page2.total).toBe(2);
    // at step 2: f3 (next: help) and f5 (nothing after home)
    const step2 = (await post('/v1/funnels/dropped?step=2', anyHomeCartPay)).json();
    expect(step2.customers.map((c: Step) => [c.customer_id, c.next_touchpoint])).toEqual([['f3', 'help'], ['f5', null]]);
  });

  it('CSV page, and 400 for a step out of range', async () => {
    const csv = await post('/v1/funnels/dropped?step=3&format=csv', anyHomeCartPay);
    expect(csv.body.split('\r\n')[0]).toBe('customer_id,last_step_at,next_touchpoint,next_channel,next_at');
    expect(csv.body.split('\r\n')[1]).toBe('f2,2024-05-01T00:05:00.000000Z,faq,app,2024-05-01T00:06:00.000000Z');
    for (const step of [1, 4]) {
      const res = await post(`/v1/funnels/dropped?step=${step}`, anyHomeCartPay);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('INVALID_PARAMETER');
    }
  });
});

describe('GET /v1/paths', () => {
  const range = `from=${day1.from}&to=${day1.to}`;

  it('from a start touchpoint: Sankey edges in customers', async () => {
    const body = (await get(`/v1/paths?start=home&depth=3&${range}`)).json();
    // paths from home: f1 home→cart→pay, f2 home→cart→faq, f3 home→help, f4 home→cart→pay, f5 home
    expect(body.customers).toBe(5);
    expect(body.edges).toEqual([
      { source: 'step 1: home', target: 'step 2: cart', customers: 3 },
      { source: 'step 2: cart', target: 'step 3: pay', customers: 2 },
      { source: 'step 1: home', target: 'step 2: help', customers: 1 },
      { source: 'step 2: cart', target: 'step 3: faq', customers: 1 },
    ]);
    expect(body.nodes.find((n: Step) => n.name === 'step 1: home').customers).toBe(5);
  });

  it('top N per step merges the rest into (other)', async () => {
    const body = (await get(`/v1/paths?start=home&depth=3&top=1&${range}`)).json();
    expect(body.edges).toEqual([
      { source: 'step 1: home', target: 'step 2: cart', customers: 3 },
      { source: 'step 2: cart', target: 'step 3: pay', customers: 2 },
      { source: 'step 1: home', target: 'step 2: (other)', customers: 1 },
      { source: 'step 2: cart', target: 'step 3: (other)', customers: 1 },
    ]);
  });

  it('to an end touchpoint: steps count back to step 0', async () => {
    const body = (await get(`/v1/paths?end=pay&depth=3&${range}`)).json();
    // f1 and f4 end at pay after home → cart
    expect(body.customers).toBe(2);
    expect(body.edges).toEqual([
      { source: 'step -1: cart', target: 'step 0: pay', customers: 2 },
      { source: 'step -2: home', target: 'step -1: cart', customers: 2 },
    ]);
    const csv = await get(`/v1/paths?end=pay&depth=3&format=csv&${range}`);
    expect(csv.body).toBe('source,target,customers\r\nstep -1: cart,step 0: pay,2\r\nstep -2: home,step -1: cart,2\r\n');
  });

  it('unknown touchpoint → empty; bad parameters → 400', async () => {
    const unknown = (await get(`/v1/paths?start=nope&${range}`)).json();
    expect(unknown).toMatchObject({ customers: 0, edges: [], nodes: [] });
    for (const url of ['/v1/paths', '/v1/paths?start=a&end=b', '/v1/paths?start=home&depth=11', '/v1/paths?start=home&depth=1']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code).toBe('INVALID_PARAMETER');
    }
  });
});

describe('GET /v1/drivers', () => {
  const range = 'from=2024-05-10T00:00:00Z&to=2024-05-20T00:00:00Z&days=7&min_customers=1';
  type Driver = Record<string, number | string | boolean | null>;
  const find = (drivers: Driver[], kind: string, value: string) => drivers.find((d) => d.kind === kind && d.value === value)!;

  it('2×2 table, lift and odds ratio with 95% CIs for a named touchpoint outcome', async () => {
    const res = await get(`/v1/drivers?outcome=contract_cancelled&${range}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    // population d1 … d10, outcome d1 … d4
    expect(body).toMatchObject({ customers: 10, outcome_customers: 4, days: 7 });
    // reason billing_dispute in the 7 days before: a = 3 (d1–d3), b = 1 (d4: 9 days before), c = 2 (d5, d6), d = 4
    // lift = (3/5)/(1/5) = 3, CI exp(ln 3 ± 1.959964·√(1/3 − 1/5 + 1 − 1/5)) = 0.4516 … 19.9278
    // OR = 3·4/(1·2) = 6, Woolf CI exp(ln 6 ± 1.959964·√(1/3 + 1 + 1/2 + 1/4)) = 0.3544 … 101.5675
    expect(find(body.drivers, 'reason', 'billing_dispute')).toEqual({
      kind: 'reason', value: 'billing_dispute',
      outcome_with_factor: 3, outcome_without_factor: 1, no_outcome_with_factor: 2, no_outcome_without_factor: 4,
      outcome_rate_with_factor: 0.6, outcome_rate_without_factor: 0.2,
      lift: 3, lift_ci_low: 0.4516, lift_ci_high: 19.9278,
      odds_ratio: 6, odds_ratio_ci_low: 0.3544, odds_ratio_ci_high: 101.5675,
      corrected: false,
    });
    // the same customers for the touchpoint and the channel
    expect(find(body.drivers, 'touchpoint', 'billing_call')).toMatchObject({ outcome_with_factor: 3, no_outcome_with_factor: 2, odds_ratio: 6 });
    expect(find(body.drivers, 'channel', 'phone')).toMatchObject({ outcome_with_factor: 3, no_outcome_with_factor: 2, lift: 3 });
    // app_login before the anchor: a = 1 (d4), c = 4 (d7–d10; d5/d6's login IS their reference point) → OR = 1·2/(3·4)
    expect(find(body.drivers, 'touchpoint', 'app_login')).toMatchObject({ outcome_with_factor: 1, outcome_without_factor: 3, no_outcome_with_factor: 4, no_outcome_without_factor: 2, odds_ratio: 0.1667 });
    // signal repeat_contact (d1 only): c = 0 → +0.5 everywhere: OR = 1.5·6.5/(3.5·0.5) = 5.5714
    expect(find(body.drivers, 'signal', 'repeat_contact')).toMatchObject({ outcome_with_factor: 1, no_outcome_with_factor: 0, corrected: true, odds_ratio: 5.5714 });
    // ranked by lift, strongest first
    const lifts = body.drivers.map((d: Driver) => d.lift);
    expect([...lifts].sort((x, y) => y - x)).toEqual(lifts);
    // the outcome itself is never a factor
    expect(find(body.drivers, 'touchpoint', 'contract_cancelled')).toBeUndefined();
  });

  it('built-in outcomes: survey detractor and alert raised', async () => {
    // d5's NPS 2 on the 12th; the billing call the day before is its factor
    const detractor = (await get(`/v1/drivers?outcome=survey_detractor&${range}`)).json();
    expect(detractor).toMatchObject({ customers: 10, outcome_customers: 1 });
    expect(find(detractor.drivers, 'reason', 'billing_dispute')).toMatchObject({ outcome_with_factor: 1, no_outcome_with_factor: 4 });
    // d2's alert on the 12th at 09:00, after its billing call on the 11th
    const alert = (await get(`/v1/drivers?outcome=alert_raised&${range}`)).json();
    expect(alert).toMatchObject({ customers: 10, outcome_customers: 1 });
    expect(find(alert.drivers, 'reason', 'billing_dispute')).toMatchObject({ outcome_with_factor: 1, no_outcome_with_factor: 4 });
  });

  it('min_customers, sort, CSV', async () => {
    const strict = (await get(`/v1/drivers?outcome=contract_cancelled&${range.replace('min_customers=1', 'min_customers=3')}`)).json();
    expect(strict.drivers.map((d: Driver) => `${d.kind}:${d.value}`).sort()).toEqual(['channel:phone', 'channel:web', 'reason:billing_dispute', 'touchpoint:billing_call'].filter((f) => f !== 'channel:web'));
    const byOr = (await get(`/v1/drivers?outcome=contract_cancelled&sort=odds_ratio&${range}`)).json();
    const ors = byOr.drivers.map((d: Driver) => d.odds_ratio);
    expect([...ors].sort((x, y) => y - x)).toEqual(ors);
    const csv = await get(`/v1/drivers?outcome=contract_cancelled&format=csv&${range}`);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('kind,value,outcome_with_factor,outcome_without_factor,no_outcome_with_factor,no_outcome_without_factor,outcome_rate_with_factor,outcome_rate_without_factor,lift,lift_ci_low,lift_ci_high,odds_ratio,odds_ratio_ci_low,odds_ratio_ci_high,corrected');
    expect(lines).toContain('reason,billing_dispute,3,1,2,4,0.6,0.2,3,0.4516,19.9278,6,0.3544,101.5675,false');
  });

  it('unknown outcome or empty range → no drivers; bad parameters → 400', async () => {
    const unknown = (await get(`/v1/drivers?outcome=no_such_touchpoint&${range}`)).json();
    expect(unknown).toMatchObject({ customers: 10, outcome_customers: 0, drivers: [] });
    const empty = (await get('/v1/drivers?outcome=contract_cancelled&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z')).json();
    expect(empty).toMatchObject({ customers: 0, outcome_customers: 0, drivers: [] });
    for (const url of ['/v1/drivers', '/v1/drivers?outcome=x&days=0', '/v1/drivers?outcome=x&days=91', '/v1/drivers?outcome=x&sort=p']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
    }
  });
});

describe('GET /v1/attribution', () => {
  const range = 'from=2024-06-01T00:00:00Z&to=2024-06-10T00:00:00Z&lookback=7d&half_life=1d';
  type Credit = Record<string, number | string>;
  const credits = (body: { credits: Credit[] }) => Object.fromEntries(body.credits.map((c) => [c.key, c]));

  it('every model per channel', async () => {
    const res = await get(`/v1/attribution?conversion=purchase&by=channel&${range}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    // conversions: p1, p2, p3 (p3 has no touchpoint before it); one non-converting path (p4)
    expect(body).toMatchObject({ conversions: 3, conversions_without_touchpoints: 1, non_converting_paths: 1, lookback_seconds: 604800, half_life_seconds: 86400 });
    const c = credits(body);
    // p1 = email, web; p2 = social, email, web
    // first touch: email (p1), social (p2); last touch: web, web
    expect([c.email!.first_touch, c.social!.first_touch, c.web!.first_touch]).toEqual([1, 1, 0]);
    expect([c.email!.last_touch, c.social!.last_touch, c.web!.last_touch]).toEqual([0, 0, 2]);
    // linear: p1 ½ + ½, p2 ⅓ each → email 0.8333, web 0.8333, social 0.3333
    expect([c.email!.linear, c.web!.linear, c.social!.linear]).toEqual([0.8333, 0.8333, 0.3333]);
    // position-based: p1 50/50; p2 40/20/40 → email 0.5 + 0.2, web 0.5 + 0.4, social 0.4
    expect([c.email!.position_based, c.web!.position_based, c.social!.position_based]).toEqual([0.7, 0.9, 0.4]);
    // time decay, half-life 1 day: p1 email 2 d old → 0.25, web 1 d → 0.5: email ⅓, web ⅔
    //   p2 social 1.5 d → 0.353553, email 1 d → 0.5, web 0.5 d → 0.707107 (sum 1.560660):
    //   social 0.226541, email 0.320377, web 0.453082
    // → email 0.653710, web 1.119749, social 0.226541
    expect([c.email!.time_decay, c.web!.time_decay, c.social!.time_decay]).toEqual([0.6537, 1.1197, 0.2265]);
    // Markov (same chain as the unit test: start → email ¼, social ½, conversion ¼ …): P = 3/4;
    // removal effects web 2/3, email 4/9, social 4/9 (sum 14/9); 2 conversions with touchpoints shared:
    // web 2·(2/3)/(14/9) = 0.857143, email = social = 2·(4/9)/(14/9) = 0.571429
    expect(body.conversion_probability).toBe(0.75);
    expect([c.web!.markov, c.email!.markov, c.social!.markov]).toEqual([0.8571, 0.5714, 0.5714]);
    expect([c.web!.removal_effect, c.email!.removal_effect]).toEqual([0.666667, 0.444444]);
    // each model hands out the 2 conversions with touchpoints
    for (const model of ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'markov']) {
      expect(body.credits.reduce((s: number, x: Credit) => s + Number(x[model]), 0), model).toBeCloseTo(2, 3);
    }
  });

  it('per touchpoint, and a shorter lookback cuts the path (strictly: exactly `lookback` before is out)', async () => {
    const body = (await get(`/v1/attribution?conversion=purchase&by=touchpoint&${range.replace('lookback=7d', 'lookback=36h')}`)).json();
    // 36 h before p1's purchase (06-03T00): product_page (24 h) in, newsletter (48 h) out → [product_page]
    // 36 h before p2's purchase (06-02T12): product_page (12 h), newsletter (24 h) in, ad_click (exactly 36 h) out
    const c = credits(body);
    expect(c.product_page).toMatchObject({ first_touch: 1, last_touch: 2, linear: 1.5 });
    expect(c.newsletter).toMatchObject({ first_touch: 1, last_touch: 0, linear: 0.5 });
    expect(c.ad_click?.linear ?? 0).toBe(0);
  });

  it('unknown conversion and empty range → zero conversions; CSV; 400 for bad parameters', async () => {
    const unknown = (await get(`/v1/attribution?conversion=nope&${range}`)).json();
    expect(unknown).toMatchObject({ conversions: 0, conversion_probability: 0 });
    expect(unknown.credits.every((c: Credit) => c.linear === 0 && c.markov === 0)).toBe(true);
    const empty = (await get('/v1/attribution?conversion=purchase&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z')).json();
    expect(empty).toMatchObject({ conversions: 0, credits: [] });
    const csv = await get(`/v1/attribution?conversion=purchase&format=csv&${range}`);
    expect(csv.body.split('\r\n')[0]).toBe('key,touches,first_touch,last_touch,linear,time_decay,position_based,markov,removal_effect');
    expect(csv.body).toContain('\r\nweb,2,0,2,0.8333,1.1197,0.9,0.8571,0.666667\r\n');
    for (const url of ['/v1/attribution', '/v1/attribution?conversion=x&lookback=3w', '/v1/attribution?conversion=x&by=agent', '/v1/attribution?conversion=x&half_life=0d']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code).toBe('INVALID_PARAMETER');
    }
  });
});

describe('authentication', () => {
  it.each([['GET', '/v1/paths?start=home'], ['GET', '/v1/drivers?outcome=x'], ['GET', '/v1/attribution?conversion=x'], ['POST', '/v1/funnels']])('401 without a read key: %s %s', async (method, url) => {
    const res = await app.inject({ method: method as 'GET' | 'POST', url, payload: method === 'POST' ? anyHomeCartPay : undefined });
    expect(res.statusCode).toBe(401);
  });
});
