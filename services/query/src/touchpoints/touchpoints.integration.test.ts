// GET /v1/touchpoints on chDB with a hand-worked fixture: the catalogue (a real file, loaded and reloaded by the
// query module as in production) merged with the stored touchpoints; reaction-time compliance worked out by hand.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { eventually } from '@touchstream/testkit';
import type { QueryModule } from '../module.ts';
import { parseIsoToMicros } from '../shared/time.ts';
import { startQueryModule } from '../query-module.test-support.ts';

const readKey = 'rk-touchpoints';
let offset = 0;
const row = (customer: string, iso: string, touchpoint: string, channel: string, wait_ms: number | null = null) => ({
  event_id: `tp-${offset}`, customer_id: customer,
  occurred_at: dateTime64FromMicros(parseIsoToMicros(iso)!), received_at: dateTime64FromMicros(parseIsoToMicros(iso)!),
  channel, touchpoint, initiator: 'customer', journey: '', stage: '', reason: '', outcome: '', duration_ms: null, wait_ms,
  sentiment: null, survey_kind: '', survey_score: null, survey_comment: '', agent_id: '', session_id: '', attributes: {},
  kafka_partition: 0, kafka_offset: offset++,
});

// 2024-07-01. billing_call (target 2m = 120,000 ms): waits 30 s, 90 s, 120 s (exactly the target: met), 150 s, 10 min,
// and one without a wait: measured 5, met 3, share 0.6; p90 of the sorted [30k, 90k, 120k, 150k, 600k]: quantileExact
// takes the element at index floor(0.9 × 5) = 4 (no interpolation) → 600,000.
const fixture = [
  row('a', '2024-07-01T08:00:00Z', 'billing_call', 'phone', 30_000),
  row('b', '2024-07-01T09:00:00Z', 'billing_call', 'phone', 90_000),
  row('a', '2024-07-01T10:00:00Z', 'billing_call', 'phone', 120_000),
  row('c', '2024-07-01T11:00:00Z', 'billing_call', 'phone', 150_000),
  row('d', '2024-07-01T12:00:00Z', 'billing_call', 'phone', 600_000),
  row('d', '2024-07-01T12:30:00Z', 'billing_call', 'phone'),
  // checkout_page: catalogued on web, seen on the app only → channel_mismatch; no target.
  row('a', '2024-07-01T07:00:00Z', 'checkout_page', 'mobile_app'),
  row('b', '2024-07-01T07:30:00Z', 'checkout_page', 'mobile_app'),
  // promo_banner: not catalogued.
  row('e', '2024-07-01T13:00:00Z', 'promo_banner', 'web'),
  row('e', '2024-07-01T13:00:01Z', 'promo_banner', 'mobile_app'),
  // The day before (the previous range of the same length, for the trend): waits 60 s (met) and 5 min: share 0.5.
  row('g', '2024-06-30T10:00:00Z', 'billing_call', 'phone', 60_000),
  row('g', '2024-06-30T11:00:00Z', 'billing_call', 'phone', 300_000),
  // Outside the range (the next day): counted nowhere.
  row('f', '2024-07-02T01:00:00Z', 'billing_call', 'phone', 1_000),
];

const catalogueV1 = `
version: t-1
touchpoints:
  billing_call: { channel: phone, stage: support, owner: Billing care, layer: front_stage, description: A call about a bill., reaction_time: 2m, journey: billing }
  checkout_page: { channel: web, stage: purchase, owner: E-commerce, layer: front_stage, description: Checkout form. }
  document_review: { channel: back_office, stage: onboarding, owner: KYC, layer: back_office, description: Manual review., reaction_time: 1d }
`;

let ch: TestClickHouse;
let app: FastifyInstance;
let query: QueryModule;
let file: string;
let stopModule: () => Promise<void>;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  await storeRows(ch.client, { table: 'touchpoints', rows: fixture });
  file = path.join(mkdtempSync(path.join(tmpdir(), 'touchpoints-')), 'touchpoints.yaml');
  writeFileSync(file, catalogueV1);
  ({ app, query, stop: stopModule } = await startQueryModule(readKey, {
    clickhouse: ch.client, now: () => Date.UTC(2024, 6, 10), touchpointsFile: file, touchpointsPollIntervalMs: 50,
  }));
}, 120_000);

afterAll(async () => {
  await stopModule?.();
  await ch?.close();
});

const get = (url: string, key = readKey) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
const day = 'from=2024-07-01T00:00:00Z&to=2024-07-02T00:00:00Z';

describe('GET /v1/touchpoints', () => {
  it('merges the catalogue with the data: volume, customers, first/last seen, channels, compliance, flags', async () => {
    const res = await get(`/v1/touchpoints?${day}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.from).toBe('2024-07-01T00:00:00.000000Z');
    expect(body.catalogue).toEqual({ file, version: expect.stringMatching(/^t-1\+[0-9a-f]{8}$/) });
    expect(body.summary).toEqual({ catalogued: 3, seen: 3, uncatalogued: 1, no_traffic: 1, channel_mismatch: 1 });
    expect(body.touchpoints.map((t: { touchpoint: string }) => t.touchpoint)).toEqual(['billing_call', 'checkout_page', 'document_review', 'promo_banner']);
    const [billing, checkout, review, promo] = body.touchpoints;
    expect(billing).toEqual({
      touchpoint: 'billing_call', catalogued: true, channel: 'phone', stage: 'support', owner: 'Billing care', layer: 'front_stage',
      description: 'A call about a bill.', journey: 'billing', events: 6, customers: 4,
      first_seen: '2024-07-01T08:00:00.000000Z', last_seen: '2024-07-01T12:30:00.000000Z', channels_seen: ['phone'],
      // trend: 0.6 − 0.5 (the day before)
      reaction_time: { target_ms: 120_000, measured: 5, met: 3, share_met: 0.6, p90_ms: 600_000, share_met_previous: 0.5, trend: 0.1 },
      flags: [],
    });
    expect(checkout).toMatchObject({ events: 2, customers: 2, channels_seen: ['mobile_app'], flags: ['channel_mismatch'],
      reaction_time: { target_ms: null, measured: 0, met: null, share_met: null, p90_ms: null, share_met_previous: null, trend: null } });
    expect(review).toMatchObject({ catalogued: true, layer: 'back_office', events: 0, customers: 0, first_seen: null, last_seen: null, channels_seen: [],
      reaction_time: { target_ms: 86_400_000, measured: 0, met: 0, share_met: null, p90_ms: null, share_met_previous: null, trend: null }, flags: ['no_traffic'] });
    expect(promo).toMatchObject({ catalogued: false, channel: null, owner: null, events: 2, customers: 1, channels_seen: ['mobile_app', 'web'], flags: ['uncatalogued'] });
  });

  it('follows the file: a change is picked up by the poller, an invalid file is rejected and the catalogue in force stays', async () => {
    writeFileSync(file, catalogueV1.replace('version: t-1', 'version: t-2').replace('reaction_time: 2m', 'reaction_time: 150s'));
    const body = await eventually('the changed catalogue in force', async () => {
      const b = (await get(`/v1/touchpoints?${day}`)).json();
      return b.catalogue.version.startsWith('t-2+') ? b : undefined;
    });
    // 150 s: 30 s, 90 s, 120 s, 150 s met of 5 measured; the day before 60 s of 60 s and 5 min: 0.5
    expect(body.touchpoints[0].reaction_time).toMatchObject({ target_ms: 150_000, met: 4, share_met: 0.8, share_met_previous: 0.5, trend: 0.3 });
    writeFileSync(file, 'touchpoints:\n  x: { channel: web }\n');
    const rejected = await query.reloadCatalogue();
    expect(rejected.ok).toBe(false);
    expect(!rejected.ok && rejected.error).toMatch(/touchpoints\.x: .*stage|touchpoints\.x\.stage/);
    expect((await get(`/v1/touchpoints?${day}`)).json().catalogue.version).toMatch(/^t-2\+/);
  });

  it('needs a read key, and rejects a range whose from is not before to', async () => {
    expect((await get(`/v1/touchpoints?${day}`, 'nope')).statusCode).toBe(401);
    const bad = await get('/v1/touchpoints?from=2024-07-02T00:00:00Z&to=2024-07-01T00:00:00Z');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_PARAMETER');
  });
});
