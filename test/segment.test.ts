// Segment-compatible intake end to end (docs/architecture.md §16): the real @segment/analytics-node client,
// pointed at ingest with its `host` option and authenticating as it does (HTTP Basic, write key as user), sends
// track, page, screen and identify calls; the mapped touchpoints show in the customer's journey (ClickHouse via
// the query API), and what cannot be mapped or validated is dead-lettered with its reason, as on /v1/events.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { Analytics } from '@segment/analytics-node';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createKafka, topicNames } from '@touchstream/kafka';
import { codecs, type CustomerProfile, type DeadLetter } from '@touchstream/contracts';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `segment-write-${run}`;
const READ_KEY = `segment-read-${run}`;
const customer = (name: string) => `seg-${run}-${name}`;

let app: RunningApp;
let observer: Consumer;
const deadLetters: DeadLetter[] = [];
/** Profile updates of this run's customers (identify calls). */
const identifies: CustomerProfile[] = [];

// A configured mapping, so the test also shows the file is read: a named event with fixed fields, and a channel
// rule ahead of the defaults.
const mappingYaml = `
events:
  Order Completed: { touchpoint: order_completed, set: { journey: purchase, outcome: completed } }
channel:
  from: properties.channel
  rules:
    - { path: context.library.name, equals: "@segment/analytics-node", channel: backend }
  default: web
`;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'segment-e2e-'));
  const mappingFile = path.join(dir, 'segment-mapping.yaml');
  writeFileSync(mappingFile, mappingYaml);
  const brokers = inject('kafkaBrokers');
  const clickhouseUrl = inject('clickhouseUrl');
  app = await startApp(
    loadConfig({
      KAFKA_BROKERS: brokers.join(','),
      REDIS_URL: inject('redisUrl'),
      ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: path.join(dir, 'chdb') }),
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      WRITE_KEYS: `${WRITE_KEY}=segment`,
      READ_KEYS: `${READ_KEY}=analyst`,
      KAFKA_GROUP_PREFIX: `segment-${run}`,
      TOUCHPOINT_PARTITIONS: '3',
      TOPIC_PARTITIONS: '2',
      SEGMENT_MAPPING_FILE: mappingFile,
    }),
  );
  observer = createKafka({ brokers }).consumer({ groupId: `segment-observer-${run}` });
  await observer.connect();
  await observer.subscribe({ topics: [topicNames.invalid, topicNames.profiles], fromBeginning: true });
  await observer.run({
    eachMessage: async ({ topic, message }) => {
      if (topic === topicNames.profiles) {
        const profile = codecs.profile.decode(message.value!);
        if (profile.customer_id.startsWith(`seg-${run}-`)) identifies.push(profile);
        return;
      }
      deadLetters.push(codecs.deadLetter.decode(message.value!));
    },
  });
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  await observer?.disconnect();
  await app?.stop();
});

async function journeyOf(customerId: string, touchpoints: number) {
  return eventually(`journey of ${customerId} with ${touchpoints} touchpoints`, async () => {
    const r = await fetch(`${app.url}/v1/customers/${encodeURIComponent(customerId)}/journey`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    if (r.status !== 200) return undefined;
    const j = (await r.json()) as { timeline: Array<Record<string, unknown>> };
    return j.timeline.length === touchpoints ? j.timeline : undefined;
  });
}

describe('@segment/analytics-node pointed at ingest', () => {
  it("populates the customer's journey, and dead-letters what it cannot map with the reason", async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: app.url, flushAt: 20, flushInterval: 200, maxRetries: 1 });
    const statuses: number[] = [];
    const errors: unknown[] = [];
    analytics.on('http_request', () => {});
    // The client's own view of each request: its status, and any delivery error it reports.
    (analytics as unknown as { on(e: string, f: (x: { status: number }) => void): void }).on('http_response', (res) => statuses.push(res.status));
    analytics.on('error', (err) => errors.push(err));

    const buyer = customer('buyer');
    const visitor = customer('visitor');
    const t0 = Date.now() - 60_000;
    const at = (s: number) => new Date(t0 + s * 1000);
    analytics.page({ userId: buyer, name: 'Pricing', properties: { path: '/pricing', channel: 'web' }, timestamp: at(1) });
    analytics.track({ userId: buyer, event: 'Checkout Started', properties: { journey: 'purchase', stage: 'checkout', cart_value: 129.9 }, timestamp: at(2) });
    analytics.track({ userId: buyer, event: 'Order Completed', properties: { order_id: `o-${run}`, duration_ms: '4200' }, timestamp: at(3) });
    analytics.screen({ anonymousId: visitor, name: 'Home', properties: { channel: 'app' }, timestamp: at(4) });
    analytics.identify({ userId: buyer, traits: { plan: 'pro', marker: `identify-${run}` } });
    // Mapped, but not a valid touchpoint: sentiment outside −1…1.
    analytics.track({ userId: buyer, event: 'Chat Rated', properties: { sentiment: 5, marker: `bad-${run}` }, timestamp: at(5) });
    await analytics.closeAndFlush({ timeout: 20_000 });

    expect(errors).toEqual([]);
    // Segment clients resend a batch not answered 2xx: a batch with rejected messages is still 200.
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const timeline = await journeyOf(buyer, 3);
    // Newest first.
    expect(timeline.map((t) => t.touchpoint)).toEqual(['order_completed', 'checkout_started', 'page_view']);
    expect(timeline[0]).toMatchObject({ channel: 'backend', journey: 'purchase', outcome: 'completed', duration_ms: 4200, initiator: 'customer', attributes: { order_id: `o-${run}` } });
    expect(timeline[1]).toMatchObject({ channel: 'backend', journey: 'purchase', stage: 'checkout', attributes: { cart_value: '129.9' } });
    expect(timeline[2]).toMatchObject({ channel: 'web', attributes: { path: '/pricing', page_name: 'Pricing' } });
    // messageId became the event_id (so a resent batch is counted once).
    expect(String(timeline[0]!.event_id)).not.toBe('');

    const anonymous = await journeyOf(visitor, 1);
    expect(anonymous[0]).toMatchObject({ touchpoint: 'screen_view', channel: 'app', attributes: { screen_name: 'Home' } });

    const invalid = await eventually('the dead letter of the invalid track', async () => deadLetters.find((d) => d.payload.toString().includes(`bad-${run}`)));
    expect(invalid).toMatchObject({ source: 'segment', stage: 'ingest', content_type: 'application/json' });
    expect(invalid.reasons).toEqual([expect.stringMatching(/^sentiment: /)]);
    // The identify became a profile update (docs/architecture.md §20.6), not a dead letter.
    await eventually('the identify on profiles.v1', async () => identifies.some((p) => p.customer_id === buyer));
    expect(identifies.filter((p) => p.customer_id === buyer)).toHaveLength(1);
    expect(identifies.find((p) => p.customer_id === buyer)).toMatchObject({ customer_id: buyer, profile_id: expect.any(String), attributes: { plan: 'pro', marker: `identify-${run}` } });
    expect(deadLetters.some((d) => d.payload.toString().includes(`identify-${run}`))).toBe(false);
    expect(JSON.parse(invalid.payload.toString())).toMatchObject({ type: 'track', event: 'Chat Rated' });
  });

  it('answers each route as the Segment HTTP API does, with the per-message outcome', async () => {
    const basic = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
    const post = (route: string, body: unknown, authorization = basic) =>
      fetch(`${app.url}/v1/${route}`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const track = await post('track', { userId: customer('direct'), event: 'Signed Up', messageId: `m-${run}` });
    expect(track.status).toBe(200);
    expect(await track.json()).toEqual({ success: true, accepted: 1, rejected: [], event_ids: [`m-${run}`], profile_ids: [] });

    // A page, an alias (rejected), an identify (a profile update) and an identify without traits (rejected by the profile validator).
    const mixed = await post('batch', { batch: [
      { type: 'page', userId: customer('direct'), name: 'Docs' }, { type: 'alias', userId: 'a', previousId: 'b' },
      { type: 'identify', userId: customer('direct'), messageId: `id-${run}`, traits: { plan: 'team' } }, { type: 'identify', userId: customer('direct') },
    ] });
    expect(mixed.status).toBe(200);
    expect(await mixed.json()).toMatchObject({
      success: true, accepted: 2, profile_ids: [`id-${run}`],
      rejected: [{ index: 1, errors: [expect.stringMatching(/alias messages are not supported/)] }, { index: 3, errors: ['attributes: must name at least one attribute'] }],
    });

    expect((await post('batch', [{ type: 'track' }])).status).toBe(400);
    const unauthorized = await post('track', {}, `Basic ${Buffer.from('nope:').toString('base64')}`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toMatch(/^Basic/);

    await journeyOf(customer('direct'), 2);

    // Documented in /docs with their request and response schemas.
    const openapi = (await (await fetch(`${app.url}/docs/json`)).json()) as { paths: Record<string, { post?: { requestBody?: unknown; responses?: Record<string, unknown> } }> };
    for (const route of ['batch', 'track', 'page', 'screen', 'identify']) {
      const post = openapi.paths[`/v1/${route}`]?.post;
      expect(post?.requestBody, route).toBeDefined();
      expect(Object.keys(post?.responses ?? {}).sort(), route).toEqual(['200', '400', '401', '413', '415', '503']);
    }
  });
});
