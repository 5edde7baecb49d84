// The churn-risk band as a segment of the analyses (docs/architecture.md §22) on chDB with a hand-worked fixture:
// each customer is in the band of their newest score (churn_scores), `unscored` without one, and `churn_risk=<band>`
// keeps exactly that band's customers on the heat map, funnels, paths, drivers, cohorts and alerts.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { parseIsoToMicros } from './shared/time.ts';
import { startQueryModule } from './query-module.test-support.ts';

const readKey = 'rk-churn-segment';
const micros = (iso: string) => parseIsoToMicros(iso)!;

// Bands: a high (was low, the newer score counts), e high (its older low score stored after the newer one),
// b low, c medium, d and g unscored.
const score = (customer: string, band: string, iso: string) => ({
  customer_id: customer, score: band === 'high' ? 0.8 : band === 'medium' ? 0.4 : 0.1, band, event_id: `sc-${customer}-${iso}`,
  scored_at: dateTime64FromMicros(micros(iso)), model_version: 'm1', rules_version: 'r1',
});
const scores = [
  score('a', 'low', '2024-06-20T00:00:00Z'), score('a', 'high', '2024-07-01T08:05:00Z'),
  score('e', 'high', '2024-07-01T09:00:00Z'), score('e', 'low', '2024-06-01T00:00:00Z'),
  score('b', 'low', '2024-07-01T09:30:00Z'),
  score('c', 'medium', '2024-07-01T10:20:00Z'),
];

let tp = 0;
const touchpoint = (customer: string, iso: string, extra: Record<string, unknown> = {}) => ({
  event_id: `tp-${tp}`, customer_id: customer, occurred_at: dateTime64FromMicros(micros(iso)), received_at: dateTime64FromMicros(micros(iso)),
  channel: 'web', touchpoint: 'checkout_page', initiator: 'customer', journey: 'purchase', stage: 'purchase', reason: '', outcome: '',
  duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '', agent_id: '', session_id: '',
  attributes: {}, kafka_partition: 0, kafka_offset: tp++, ...extra,
});
const billingCall = { channel: 'phone', touchpoint: 'billing_call', stage: 'support', journey: 'billing', reason: 'billing' };
// 2024-07-01. checkout_page: a ×2, e, b (abandoned), d, g ×2 (the second with CSAT 2); billing_call: c ×3, about
// the same reason within minutes (FCR: 1 of 3 contacts resolved).
const touchpoints = [
  touchpoint('a', '2024-07-01T08:00:00Z'),
  touchpoint('a', '2024-07-01T08:05:00Z'),
  touchpoint('e', '2024-07-01T09:00:00Z'),
  touchpoint('b', '2024-07-01T09:30:00Z', { outcome: 'abandoned' }),
  touchpoint('c', '2024-07-01T10:00:00Z', billingCall),
  touchpoint('c', '2024-07-01T10:10:00Z', billingCall),
  touchpoint('c', '2024-07-01T10:20:00Z', billingCall),
  touchpoint('d', '2024-07-01T11:00:00Z'),
  touchpoint('g', '2024-07-01T12:00:00Z'),
  touchpoint('g', '2024-07-01T12:30:00Z', { survey_kind: 'CSAT', survey_score: 2 }),
];
const signal = (id: string, customer: string, iso: string) => ({
  signal_id: id, customer_id: customer, type: 'survey_detractor', weight: 1, event_id: 'x', occurred_at: dateTime64FromMicros(micros(iso)),
  channel: 'web', touchpoint: 'checkout_page', journey: 'purchase', stage: 'purchase', explanation: 'CSAT 2', rules_version: 'r1',
  kafka_partition: 0, kafka_offset: tp++,
});
const signals = [signal('s1', 'g', '2024-07-01T12:30:00Z'), signal('s2', 'g', '2024-07-01T12:31:00Z')];
const alert = (id: string, customer: string, iso: string) => ({
  alert_id: id, customer_id: customer, score: 3, score_before: 1, level: 'at_risk', triggered_by: 'x', at: dateTime64FromMicros(micros(iso)),
  rules_version: 'r1', signals: [], kafka_partition: 0, kafka_offset: tp++,
});
const alerts = [alert('al-a', 'a', '2024-07-01T08:05:00Z'), alert('al-c', 'c', '2024-07-01T10:20:00Z'), alert('al-g', 'g', '2024-07-01T12:31:00Z'), alert('al-kpi', 'kpi:channel=web', '2024-07-01T12:40:00Z')];

let ch: TestClickHouse;
let app: FastifyInstance;
let stopModule: () => Promise<void>;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  await storeRows(ch.client, { table: 'touchpoints', rows: touchpoints });
  await storeRows(ch.client, { table: 'signals', rows: signals });
  await insertRows(ch.client, { table: 'alerts', rows: alerts });
  await insertRows(ch.client, { table: 'churn_scores', rows: scores });
  ({ app, stop: stopModule } = await startQueryModule(readKey, { clickhouse: ch.client, now: () => Date.UTC(2024, 6, 10) }));
}, 120_000);

afterAll(async () => {
  await stopModule?.();
  await ch?.close();
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readKey}` } });
  return { status: res.statusCode, body: res.json() };
};
const day = 'from=2024-07-01T00:00:00Z&to=2024-07-02T00:00:00Z';

describe('GET /v1/heatmap?churn_risk=', () => {
  it('keeps the stage rows of the band\'s customers, FCR included', async () => {
    const rows = async (band: string) => {
      const { status, body } = await get(`/v1/heatmap?${day}&churn_risk=${band}&metrics=fcr,abandonment_rate`);
      expect(status).toBe(200);
      return body.rows.map((r: { stage: string; events: number; cells: { fcr: { value: number | null }; abandonment_rate: { value: number | null } } }) => [r.stage, r.events, r.cells.fcr.value, r.cells.abandonment_rate.value]);
    };
    // c's three billing calls about one reason: only the last is not followed by another (FCR 1/3).
    const [medium] = await rows('medium');
    expect(medium.slice(0, 2)).toEqual(['support', 3]);
    expect(medium[2]).toBeCloseTo(1 / 3, 6);
    expect(await rows('high')).toEqual([['purchase', 3, null, null]]);
    expect(await rows('low')).toEqual([['purchase', 1, null, 1]]);
    expect(await rows('unscored')).toEqual([['purchase', 3, null, null]]);
  });
});

describe('GET /v1/kpis?churn_risk=', () => {
  it('counts FCR contacts of the band\'s customers only', async () => {
    const medium = (await get(`/v1/kpis?${day}&interval=day&churn_risk=medium`)).body.totals[0];
    expect(medium).toMatchObject({ events: 3, fcr_contacts: 3 });
    expect(medium.fcr).toBeCloseTo(1 / 3, 6);
    expect((await get(`/v1/kpis?${day}&interval=day&churn_risk=high`)).body.totals[0]).toMatchObject({ events: 3, fcr_contacts: 0, fcr: null });
    // Split by band, FCR is not computed (as documented).
    const byBand = (await get(`/v1/kpis?${day}&interval=day&by=churn_risk`)).body.totals.find((t: { key: string }) => t.key === 'medium');
    expect(byBand).toMatchObject({ events: 3, fcr: null });
  });
});

describe('GET /v1/heatmap?rows=churn_risk', () => {
  it('has one row per band, the most at risk first, each cell against its target', async () => {
    const { status, body } = await get(`/v1/heatmap?${day}&rows=churn_risk&metrics=abandonment_rate`);
    expect(status).toBe(200);
    expect(body.rows.map((r: { stage: string; churn_risk: string; events: number; cells: { abandonment_rate: { value: number | null; status: string } } }) =>
      [r.stage, r.churn_risk, r.events, r.cells.abandonment_rate.value, r.cells.abandonment_rate.status])).toEqual([
      ['', 'high', 3, null, 'no_data'], ['', 'medium', 3, null, 'no_data'], ['', 'low', 1, 1, 'bad'], ['', 'unscored', 3, null, 'no_data'],
    ]);
  });
});

describe('POST /v1/funnels with churn_risk', () => {
  // checkout_page twice: a and g come back; e, b, d do not; c never visits.
  const funnel = { steps: [{ touchpoint: 'checkout_page' }, { touchpoint: 'checkout_page', label: 'again' }], window: '1d', from: '2024-07-01T00:00:00Z', to: '2024-07-02T00:00:00Z' };
  const counts = async (extra: object) => {
    const res = await app.inject({ method: 'POST', url: '/v1/funnels', headers: { authorization: `Bearer ${readKey}` }, payload: { ...funnel, ...extra } });
    expect(res.statusCode).toBe(200);
    return res.json().steps.map((s: { customers: number }) => s.customers);
  };

  it('keeps only the customers of the band', async () => {
    expect(await counts({})).toEqual([5, 2]);
    expect(await counts({ churn_risk: 'high' })).toEqual([2, 1]);
    expect(await counts({ churn_risk: 'low' })).toEqual([1, 0]);
    expect(await counts({ churn_risk: 'medium' })).toEqual([0, 0]);
    expect(await counts({ churn_risk: 'unscored' })).toEqual([2, 1]);
  });

  it('splits the customers of each step by band with breakdown churn_risk', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/funnels', headers: { authorization: `Bearer ${readKey}` }, payload: { ...funnel, breakdown: 'churn_risk' } });
    expect(res.statusCode).toBe(200);
    const groups = Object.fromEntries(res.json().breakdown.groups.map((g: { key: string; steps: Array<{ customers: number }> }) => [g.key, g.steps.map((s) => s.customers)]));
    expect(groups).toEqual({ high: [2, 1], low: [1, 0], unscored: [2, 1] });
  });

  it('answers 400 for a band that does not exist', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/funnels', headers: { authorization: `Bearer ${readKey}` }, payload: { ...funnel, churn_risk: 'severe' } });
    expect(res.statusCode).toBe(400);
  });
});

describe('GET /v1/paths?churn_risk=', () => {
  it('keeps only the paths of the band\'s customers', async () => {
    const customers = async (band?: string) => (await get(`/v1/paths?${day}&start=checkout_page&depth=2${band ? `&churn_risk=${band}` : ''}`)).body.customers;
    expect(await customers()).toBe(5);
    expect(await customers('high')).toBe(2);
    expect(await customers('low')).toBe(1);
    expect(await customers('medium')).toBe(0);
    expect(await customers('unscored')).toBe(2);
  });
});

describe('GET /v1/drivers?churn_risk=', () => {
  // Outcome survey_detractor: only g (CSAT 2), unscored.
  it('restricts the population to the band', async () => {
    const drivers = async (band: string) => (await get(`/v1/drivers?outcome=survey_detractor&${day}&days=1&min_customers=1&churn_risk=${band}`)).body;
    expect(await drivers('unscored')).toMatchObject({ customers: 2, outcome_customers: 1 });
    expect(await drivers('high')).toMatchObject({ customers: 2, outcome_customers: 0 });
    expect(await drivers('medium')).toMatchObject({ customers: 1, outcome_customers: 0 });
  });
});

describe('GET /v1/cohorts?churn_risk=', () => {
  it('keeps only the customers of the band', async () => {
    const cohorts = async (band: string) =>
      (await get(`/v1/cohorts?period=week&from=2024-07-01T00:00:00Z&to=2024-07-08T00:00:00Z&periods=1&churn_risk=${band}`)).body.cohorts.map((c: { cohort: string; customers: number }) => [c.cohort, c.customers]);
    expect(await cohorts('high')).toEqual([['2024-07-01', 2]]);
    expect(await cohorts('medium')).toEqual([['2024-07-01', 1]]);
    expect(await cohorts('unscored')).toEqual([['2024-07-01', 2]]);
  });

  it('splits each cohort by band with by=churn_risk', async () => {
    const { status, body } = await get('/v1/cohorts?period=week&from=2024-07-01T00:00:00Z&to=2024-07-08T00:00:00Z&periods=1&by=churn_risk');
    expect(status).toBe(200);
    expect(body.cohorts.map((c: { cohort: string; churn_risk: string; customers: number }) => [c.cohort, c.churn_risk, c.customers])).toEqual([
      ['2024-07-01', 'high', 2], ['2024-07-01', 'low', 1], ['2024-07-01', 'medium', 1], ['2024-07-01', 'unscored', 2],
    ]);
  });
});

describe('GET /v1/alerts?churn_risk=', () => {
  it('keeps the alerts of the band\'s customers (no KPI alerts)', async () => {
    const ids = async (band?: string) => (await get(`/v1/alerts?${day}${band ? `&churn_risk=${band}` : ''}`)).body.alerts.map((a: { alert_id: string }) => a.alert_id);
    expect(await ids()).toEqual(['al-kpi', 'al-g', 'al-c', 'al-a']);
    expect(await ids('high')).toEqual(['al-a']);
    expect(await ids('medium')).toEqual(['al-c']);
    expect(await ids('unscored')).toEqual(['al-g']);
    expect(await ids('low')).toEqual([]);
  });
});

describe('the heat-map drill-down and attribution with churn_risk=', () => {
  it('keep only the customers of the band', async () => {
    // The support stage's touchpoints are c's three billing calls: medium, none high.
    const medium = await get(`/v1/heatmap/cell?${day}&stage=support&churn_risk=medium`);
    expect(medium.status).toBe(200);
    expect(medium.body.touchpoints).toEqual([{ touchpoint: 'billing_call', channel: 'phone', events: 3, customers: 1 }]);
    expect((await get(`/v1/heatmap/cell?${day}&stage=support&churn_risk=high`)).body.touchpoints).toEqual([]);
    const purchase = await get(`/v1/heatmap/cell?${day}&stage=purchase&churn_risk=unscored`);
    expect(purchase.body.customers.map((c: { customer_id: string }) => c.customer_id).sort()).toEqual(['d', 'g']);
    // Conversions at billing_call: c's, so none for the high band.
    const conversions = async (band: string) => (await get(`/v1/attribution?${day}&conversion=billing_call&churn_risk=${band}`)).body.conversions;
    expect(await conversions('medium')).toBeGreaterThan(0);
    expect(await conversions('high')).toBe(0);
  });
});
