// Personas on chDB with a hand-worked fixture: profile updates stored the way the sink stores them (profile_updates
// and its customer_profiles rollup), a personas file loaded and reloaded by the query module as in production, and
// every analysis split or filtered by persona. docs/architecture.md §20.6.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { eventually } from '@touchstream/testkit';
import type { QueryModule } from '../module.ts';
import { parseIsoToMicros } from '../shared/time.ts';
import { startQueryModule } from '../query-module.test-support.ts';

const readKey = 'rk-personas';
const micros = (iso: string) => parseIsoToMicros(iso)!;
let offset = 0;

type Value = string | number | boolean | null;
const profile = (customer: string, iso: string, attributes: Record<string, Value>) => {
  const names = Object.keys(attributes).sort();
  return {
    profile_id: `pr-${offset}`, customer_id: customer, updated_at: dateTime64FromMicros(micros(iso)), received_at: dateTime64FromMicros(micros(iso)),
    attribute_names: names,
    attribute_values: names.map((n) => (attributes[n] === null ? '' : String(attributes[n]))),
    attribute_kinds: names.map((n) => (attributes[n] === null ? 'unset' : typeof attributes[n])),
    kafka_partition: 0, kafka_offset: offset++,
  };
};

// Who is which persona under personasV1 (rules in order: premium, digital, senior; fallback other):
//  a  gold, 36 months                          → premium
//  b  gold, 12 months (too short), web         → digital
//  c  web, then (later) phone and age 70       → senior (the later partial update replaced preferred_channel)
//  d  age "70" as a string                     → other (a range needs a number)
//  e  platinum 30 months; an OLDER update (arriving later) says silver → premium (the newest updated_at wins)
//  f  web, then web removed (null)             → other
//  g  no profile at all                        → other
const profiles = [
  profile('a', '2024-06-01T00:00:00Z', { tier: 'gold', tenure_months: 36 }),
  profile('b', '2024-06-01T00:00:00Z', { tier: 'gold', tenure_months: 12, preferred_channel: 'web' }),
  profile('c', '2024-06-01T00:00:00Z', { preferred_channel: 'web' }),
  profile('c', '2024-06-15T00:00:00Z', { preferred_channel: 'phone', age: 70 }),
  profile('d', '2024-06-01T00:00:00Z', { age: '70' }),
  profile('e', '2024-06-15T00:00:00Z', { tier: 'platinum', tenure_months: 30 }),
  profile('f', '2024-06-01T00:00:00Z', { preferred_channel: 'web' }),
  profile('f', '2024-06-20T00:00:00Z', { preferred_channel: null }),
];
const lateOlderUpdate = profile('e', '2024-06-01T00:00:00Z', { tier: 'silver' });

const personasV1 = `
version: p-1
fallback: { name: other, description: "No rule matched, or no profile." }
personas:
  - name: premium
    description: Long-tenured gold and platinum customers.
    when:
      tier: { in: [gold, platinum] }
      tenure_months: { gte: 24 }
  - name: digital
    when:
      preferred_channel: web
  - name: senior
    when:
      age: { gte: 65 }
`;
// v2: digital now means phone-first too, and comes before senior: c moves from senior to digital.
const personasV2 = personasV1.replace('version: p-1', 'version: p-2').replace('preferred_channel: web', 'preferred_channel: { in: [web, phone] }');

let tp = 0;
const touchpoint = (customer: string, iso: string, extra: Record<string, unknown> = {}) => ({
  event_id: `tp-${tp}`, customer_id: customer, occurred_at: dateTime64FromMicros(micros(iso)), received_at: dateTime64FromMicros(micros(iso)),
  channel: 'web', touchpoint: 'checkout_page', initiator: 'customer', journey: 'purchase', stage: 'purchase', reason: '', outcome: '',
  duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '', agent_id: '', session_id: '',
  attributes: {}, kafka_partition: 0, kafka_offset: tp++, ...extra,
});

// 2024-07-01: premium a×2 + e×1 = 3 events, 2 customers; digital b×1; senior c×3; other d×1 + f×1 + g×2 = 4 events, 3 customers.
// CSAT: a answers 5 (satisfied), g answers 2: premium csat 100, other csat 0.
const touchpoints = [
  touchpoint('a', '2024-07-01T08:00:00Z'),
  touchpoint('a', '2024-07-01T08:05:00Z', { survey_kind: 'CSAT', survey_score: 5 }),
  touchpoint('e', '2024-07-01T09:00:00Z'),
  touchpoint('b', '2024-07-01T09:30:00Z', { outcome: 'abandoned' }),
  touchpoint('c', '2024-07-01T10:00:00Z', { channel: 'phone', touchpoint: 'billing_call', stage: 'support', journey: 'billing' }),
  touchpoint('c', '2024-07-01T10:10:00Z', { channel: 'phone', touchpoint: 'billing_call', stage: 'support', journey: 'billing' }),
  touchpoint('c', '2024-07-01T10:20:00Z', { channel: 'phone', touchpoint: 'billing_call', stage: 'support', journey: 'billing' }),
  touchpoint('d', '2024-07-01T11:00:00Z'),
  touchpoint('f', '2024-07-01T11:30:00Z'),
  touchpoint('g', '2024-07-01T12:00:00Z'),
  touchpoint('g', '2024-07-01T12:30:00Z', { survey_kind: 'CSAT', survey_score: 2 }),
];

const signal = (id: string, customer: string, iso: string, channel = 'web', stage = 'purchase') => ({
  signal_id: id, customer_id: customer, type: 'survey_detractor', weight: 1, event_id: 'x', occurred_at: dateTime64FromMicros(micros(iso)),
  channel, touchpoint: 'checkout_page', journey: 'purchase', stage, explanation: 'CSAT 2', rules_version: 'r1',
  kafka_partition: 0, kafka_offset: tp++,
});
// Signals: g (other) ×2, c (senior) ×1.
const signals = [signal('s1', 'g', '2024-07-01T12:30:00Z'), signal('s2', 'g', '2024-07-01T12:31:00Z'), signal('s3', 'c', '2024-07-01T10:20:00Z', 'phone', 'support')];

const alert = (id: string, customer: string, iso: string) => ({
  alert_id: id, customer_id: customer, score: 3, score_before: 1, level: 'at_risk', triggered_by: 'x', at: dateTime64FromMicros(micros(iso)),
  rules_version: 'r1', signals: [], kafka_partition: 0, kafka_offset: tp++,
});
const alerts = [alert('al-c', 'c', '2024-07-01T10:20:00Z'), alert('al-g', 'g', '2024-07-01T12:31:00Z'), alert('al-kpi', 'kpi:channel=web', '2024-07-01T12:40:00Z')];

let ch: TestClickHouse;
let app: FastifyInstance;
let query: QueryModule;
let file: string;
let stopModule: () => Promise<void>;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  await storeRows(ch.client, { table: 'profile_updates', rows: profiles, dedupToken: 'profiles.v1:0:0-7:test' });
  // A verbatim retry of the same batch (the sink after a crash) changes nothing; the late, older update arrives after.
  await storeRows(ch.client, { table: 'profile_updates', rows: profiles, dedupToken: 'profiles.v1:0:0-7:test' });
  await storeRows(ch.client, { table: 'profile_updates', rows: [lateOlderUpdate], dedupToken: 'profiles.v1:0:8-8:test' });
  await storeRows(ch.client, { table: 'touchpoints', rows: touchpoints });
  await storeRows(ch.client, { table: 'signals', rows: signals });
  await insertRows(ch.client, { table: 'alerts', rows: alerts });
  file = path.join(mkdtempSync(path.join(tmpdir(), 'personas-')), 'personas.yaml');
  writeFileSync(file, personasV1);
  ({ app, query, stop: stopModule } = await startQueryModule(readKey, {
    clickhouse: ch.client, now: () => Date.UTC(2024, 6, 10), personasFile: file, personasPollIntervalMs: 50,
  }));
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
type Total = { key: string; events: number; unique_customers: number; csat: number | null; signals: number | null; abandonment_rate: number | null };
const byKey = (totals: Total[]) => Object.fromEntries(totals.map((t) => [t.key, t]));

describe('customer_profiles', () => {
  it('keeps one row per customer and attribute: the retried batch once, the late older update below the newer one', async () => {
    const rs = await ch.client.query({
      query: `SELECT customer_id, attribute, argMax((kind, value), (updated_at, stored_at)) AS latest FROM customer_profiles WHERE customer_id IN ('c', 'e', 'f') GROUP BY customer_id, attribute ORDER BY customer_id, attribute`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { customer_id: 'c', attribute: 'age', latest: ['number', '70'] },
      { customer_id: 'c', attribute: 'preferred_channel', latest: ['string', 'phone'] },
      { customer_id: 'e', attribute: 'tenure_months', latest: ['number', '30'] },
      { customer_id: 'e', attribute: 'tier', latest: ['string', 'platinum'] },
      { customer_id: 'f', attribute: 'preferred_channel', latest: ['unset', ''] },
    ]);
    const raw = await ch.client.query({ query: 'SELECT count() AS n FROM profile_updates', format: 'JSONEachRow' });
    expect(await raw.json()).toEqual([{ n: 9 }]);
  });
});

describe('GET /v1/personas', () => {
  it('lists the personas in rule order with their rules and customer counts; the fallback counts customers without a profile', async () => {
    const { status, body } = await get('/v1/personas');
    expect(status).toBe(200);
    expect(body.version).toMatch(/^p-1\+[0-9a-f]{8}$/);
    expect(body.personas).toEqual([
      { name: 'premium', description: 'Long-tenured gold and platinum customers.', rank: 1, customers: 2,
        conditions: [{ attribute: 'tier', in: ['gold', 'platinum'] }, { attribute: 'tenure_months', gte: 24 }] },
      { name: 'digital', description: null, rank: 2, customers: 1, conditions: [{ attribute: 'preferred_channel', equals: 'web' }] },
      { name: 'senior', description: null, rank: 3, customers: 1, conditions: [{ attribute: 'age', gte: 65 }] },
    ]);
    expect(body.fallback).toEqual({ name: 'other', description: 'No rule matched, or no profile.', customers: 2, customers_without_profile: 1 });
    expect(body.customers_with_profile).toBe(6);
  });
});

describe('GET /v1/customers/{id}/profile', () => {
  it('gives the latest attributes in their kinds and the persona; none and the fallback without a profile', async () => {
    const { status, body } = await get('/v1/customers/c/profile');
    expect(status).toBe(200);
    expect(body).toEqual({
      customer_id: 'c', persona: 'senior',
      attributes: [{ attribute: 'age', value: 70, updated_at: '2024-06-15T00:00:00.000000Z' }, { attribute: 'preferred_channel', value: 'phone', updated_at: '2024-06-15T00:00:00.000000Z' }],
    });
    expect((await get('/v1/customers/d/profile')).body.attributes).toEqual([{ attribute: 'age', value: '70', updated_at: '2024-06-01T00:00:00.000000Z' }]);
    expect((await get('/v1/customers/g/profile')).body).toEqual({ customer_id: 'g', persona: 'other', attributes: [] });
    // Every attribute removed: nothing to show, the fallback persona.
    expect((await get('/v1/customers/f/profile')).body).toEqual({ customer_id: 'f', persona: 'other', attributes: [] });
  });
});

describe('GET /v1/kpis by persona', () => {
  it('splits every figure by the persona of the touchpoint\'s customer', async () => {
    const { status, body } = await get(`/v1/kpis?${day}&interval=day&by=persona`);
    expect(status).toBe(200);
    const totals = byKey(body.totals);
    expect(Object.keys(totals).sort()).toEqual(['digital', 'other', 'premium', 'senior']);
    expect(totals.premium).toMatchObject({ events: 3, unique_customers: 2, csat: 100, signals: 0 });
    expect(totals.digital).toMatchObject({ events: 1, unique_customers: 1, abandonment_rate: 1 });
    expect(totals.senior).toMatchObject({ events: 3, unique_customers: 1, signals: 1 });
    expect(totals.other).toMatchObject({ events: 4, unique_customers: 3, csat: 0, signals: 2 });
    // Hour buckets of one persona: g's two touchpoints at 12:00 and 12:30, d at 11:00, f at 11:30.
    const hourly = await get(`/v1/kpis?${day}&interval=hour&by=persona`);
    const other = hourly.body.buckets.filter((b: { key: string }) => b.key === 'other').map((b: { bucket: string; events: number }) => [b.bucket.slice(11, 13), b.events]);
    expect(other).toEqual([['11', 2], ['12', 2]]);
  });

  it('filters to one persona, by itself or with another breakdown', async () => {
    const { body } = await get(`/v1/kpis?${day}&interval=day&persona=other`);
    expect(body.totals).toHaveLength(1);
    expect(body.totals[0]).toMatchObject({ events: 4, unique_customers: 3, signals: 2 });
    const byChannel = await get(`/v1/kpis?${day}&interval=day&persona=senior&by=channel`);
    expect(byChannel.body.totals.map((t: Total) => [t.key, t.events])).toEqual([['phone', 3]]);
  });

  it('answers 400 for a persona the file does not have', async () => {
    const { status, body } = await get(`/v1/kpis?${day}&persona=nobody`);
    expect(status).toBe(400);
    expect(body.message).toContain('premium, digital, senior, other');
  });
});

describe('GET /v1/alerts?persona=', () => {
  it('keeps the alerts of customers of the persona (no KPI alerts)', async () => {
    const senior = await get(`/v1/alerts?${day}&persona=senior`);
    expect(senior.body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(['al-c']);
    const other = await get(`/v1/alerts?${day}&persona=other`);
    expect(other.body.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual(['al-g']);
    const all = await get(`/v1/alerts?${day}`);
    expect(all.body.alerts).toHaveLength(3);
  });
});

describe('GET /v1/heatmap by persona', () => {
  it('has one row per persona, in the file\'s order with the fallback last, each cell against its target', async () => {
    const { status, body } = await get(`/v1/heatmap?${day}&rows=persona&metrics=csat`);
    expect(status).toBe(200);
    expect(body.rows.map((r: { persona: string; events: number }) => [r.persona, r.events])).toEqual([['premium', 3], ['digital', 1], ['senior', 3], ['other', 4]]);
    expect(body.rows[0].cells.csat).toMatchObject({ value: 100, status: 'ok' });
    expect(body.rows[3].cells.csat).toMatchObject({ value: 0, status: 'bad' });
    expect(body.rows[1].cells.csat).toMatchObject({ value: null, status: 'no_data' });
  });

  it('filters the stage rows to one persona', async () => {
    const { body } = await get(`/v1/heatmap?${day}&persona=senior&metrics=csat`);
    expect(body.rows.map((r: { stage: string; events: number }) => [r.stage, r.events])).toEqual([['support', 3]]);
  });
});

describe('POST /v1/funnels by persona', () => {
  // Two visits of checkout_page: a and g come back, e, b, d, f do not; c never visits.
  const funnel = { steps: [{ touchpoint: 'checkout_page' }, { touchpoint: 'checkout_page', label: 'again' }], window: '1d', from: '2024-07-01T00:00:00Z', to: '2024-07-02T00:00:00Z' };
  const post = async (body: object) => {
    const res = await app.inject({ method: 'POST', url: '/v1/funnels', headers: { authorization: `Bearer ${readKey}` }, payload: body });
    return { status: res.statusCode, body: res.json() };
  };
  const counts = (steps: Array<{ customers: number }>) => steps.map((s) => s.customers);

  it('splits the customers of each step by persona', async () => {
    const { status, body } = await post({ ...funnel, breakdown: 'persona' });
    expect(status).toBe(200);
    expect(counts(body.steps)).toEqual([6, 2]);
    const groups = Object.fromEntries(body.breakdown.groups.map((g: { key: string; steps: Array<{ customers: number }> }) => [g.key, counts(g.steps)]));
    expect(groups).toEqual({ premium: [2, 1], digital: [1, 0], other: [3, 1] });
  });

  it('keeps only the customers of one persona', async () => {
    const { body } = await post({ ...funnel, persona: 'other' });
    expect(counts(body.steps)).toEqual([3, 1]);
  });
});

describe('GET /v1/drivers with personas', () => {
  // Outcome survey_detractor: only g (CSAT 2). Population: the 7 customers with a touchpoint that day.
  it('ranks the persona as a factor like any other: persona:other has the one detractor among its 3 customers', async () => {
    const { status, body } = await get(`/v1/drivers?outcome=survey_detractor&${day}&days=1&min_customers=1`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ customers: 7, outcome_customers: 1 });
    const other = body.drivers.find((d: { kind: string; value: string }) => d.kind === 'persona' && d.value === 'other');
    expect(other).toMatchObject({ outcome_with_factor: 1, outcome_without_factor: 0, no_outcome_with_factor: 2, no_outcome_without_factor: 4 });
  });

  it('restricts the population to one persona', async () => {
    const { body } = await get(`/v1/drivers?outcome=survey_detractor&${day}&days=1&min_customers=1&persona=other`);
    expect(body).toMatchObject({ customers: 3, outcome_customers: 1 });
  });
});

describe('GET /v1/cohorts by persona', () => {
  const week = 'period=week&from=2024-07-01T00:00:00Z&to=2024-07-08T00:00:00Z&periods=1';
  it('splits each cohort by persona', async () => {
    const { status, body } = await get(`/v1/cohorts?${week}&by=persona`);
    expect(status).toBe(200);
    expect(body.cohorts.map((c: { cohort: string; persona: string; customers: number }) => [c.cohort, c.persona, c.customers]).sort()).toEqual([
      ['2024-07-01', 'digital', 1], ['2024-07-01', 'other', 3], ['2024-07-01', 'premium', 2], ['2024-07-01', 'senior', 1],
    ]);
  });

  it('keeps only the customers of one persona', async () => {
    const { body } = await get(`/v1/cohorts?${week}&persona=premium`);
    expect(body.cohorts.map((c: { cohort: string; customers: number }) => [c.cohort, c.customers])).toEqual([['2024-07-01', 2]]);
  });
});

describe('paths, attribution and the heat-map drill-down with persona=', () => {
  it('keep only the customers of the persona', async () => {
    // Paths from checkout_page: premium a (twice) and e; other d, f, g (twice); senior c never visits it.
    const premium = await get(`/v1/paths?${day}&start=checkout_page&depth=2&persona=premium`);
    expect(premium.status).toBe(200);
    expect(premium.body.customers).toBe(2);
    expect((await get(`/v1/paths?${day}&start=checkout_page&depth=2&persona=other`)).body.customers).toBe(3);
    expect((await get(`/v1/paths?${day}&start=checkout_page&depth=2`)).body.customers).toBe(6);
    // The support stage's touchpoints are c's three billing calls: all senior, none premium.
    const senior = await get(`/v1/heatmap/cell?${day}&stage=support&persona=senior`);
    expect(senior.body.touchpoints).toEqual([{ touchpoint: 'billing_call', channel: 'phone', events: 3, customers: 1 }]);
    expect((await get(`/v1/heatmap/cell?${day}&stage=support&persona=premium`)).body.touchpoints).toEqual([]);
    // Conversions at billing_call: c's, so none for premium.
    const conv = (persona: string) => get(`/v1/attribution?${day}&conversion=billing_call&persona=${persona}`);
    expect((await conv('senior')).body.conversions).toBeGreaterThan(0);
    expect((await conv('premium')).body.conversions).toBe(0);
  });
});

describe('a changed personas file', () => {
  it('applies at once to every answer, without a backfill', async () => {
    writeFileSync(file, personasV2);
    await eventually('the new personas file in force', async () => /^p-2\+/.test((await get('/v1/personas')).body.version));
    const { body } = await get(`/v1/kpis?${day}&interval=day&by=persona`);
    const totals = byKey(body.totals);
    // c (phone) is digital now: digital = b×1 + c×3; nobody is senior.
    expect(totals.digital).toMatchObject({ events: 4, unique_customers: 2 });
    expect(totals.senior).toBeUndefined();
    writeFileSync(file, personasV1);
    await eventually('the first personas file back in force', async () => /^p-1\+/.test((await get('/v1/personas')).body.version));
  });
});
