// End to end on the real engines: HTTP → ingest → Kafka → processor (Redis, signals, alerts) and
// sink (ClickHouse) → query API. One app in this process, the shared test stack for Kafka and Redis,
// and this file's own chDB directory.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Consumer } from 'kafkajs';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createKafka, topicNames } from '@touchstream/kafka';
import { codecs, type Alert, type DeadLetter } from '@touchstream/contracts';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `e2e-write-${run}`;
const READ_KEY = `e2e-read-${run}`;
/** A channel only this run uses, so KPI counts are not mixed with other test files' events. */
const CHANNEL = `e2e_phone_${run}`;
const customer = (name: string) => `e2e-${run}-${name}`;

let app: RunningApp;
let redis: Redis;
let observer: Consumer;
const alerts: Alert[] = [];
const deadLetters: DeadLetter[] = [];


function post(body: string, headers: Record<string, string> = {}) {
  return fetch(`${app.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

function get(pathAndQuery: string) {
  return fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
}

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

beforeAll(async () => {
  const brokers = inject('kafkaBrokers');
  const clickhouseUrl = inject('clickhouseUrl');
  const config = loadConfig({
    KAFKA_BROKERS: brokers.join(','),
    REDIS_URL: inject('redisUrl'),
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: mkdtempSync(path.join(os.tmpdir(), 'e2e-chdb-')) }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${WRITE_KEY}=e2e`,
    READ_KEYS: `${READ_KEY}=analyst`,
    KAFKA_GROUP_PREFIX: `e2e-${run}`,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
    INGEST_MAX_EVENTS: '50',
    INGEST_MAX_BODY_BYTES: '65536',
  });
  app = await startApp(config);
  redis = new Redis(inject('redisUrl'));

  observer = createKafka({ brokers }).consumer({ groupId: `e2e-observer-${run}` });
  await observer.connect();
  await observer.subscribe({ topics: [topicNames.alerts, topicNames.invalid], fromBeginning: true });
  await observer.run({
    eachMessage: async ({ topic, message }) => {
      if (topic === topicNames.alerts) alerts.push(codecs.alert.decode(message.value!));
      else deadLetters.push(codecs.deadLetter.decode(message.value!));
    },
  });
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  await observer?.disconnect();
  redis?.disconnect();
  await app?.stop();
});

describe('a touchpoint posted over HTTP', () => {
  it('reaches Redis state, alerts.v1, ClickHouse aggregates and the query API', async () => {
    const unhappy = customer('unhappy');
    const events = [
      { customer_id: unhappy, occurred_at: iso(5000), channel: CHANNEL, touchpoint: 'billing_inquiry_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'unresolved', wait_ms: 600000, sentiment: -0.8 },
      { customer_id: unhappy, occurred_at: iso(4000), channel: CHANNEL, touchpoint: 'billing_inquiry_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'resolved', sentiment: -0.7 },
      { customer_id: unhappy, occurred_at: iso(3000), channel: CHANNEL, touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: 2, comment: 'called twice' } },
      { customer_id: customer('happy'), occurred_at: iso(3000), channel: CHANNEL, touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: 10 } },
    ];
    const res = await post(JSON.stringify(events));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: unknown[] };
    expect(body).toMatchObject({ accepted: 4, rejected: [] });

    // Redis: the processor's live state for the customer.
    const state = await eventually('processor state in Redis', async () => {
      const s = await redis.hgetall(`ts:{${unhappy}}:state`);
      return s.events === '3' ? s : undefined;
    });
    expect(state.last_touchpoint).toBe('nps_survey');
    expect(Number(state.score)).toBeGreaterThan(0);

    // alerts.v1: negative sentiment ×2, repeat contact, detractor push the score over a level.
    const alert = await eventually('an alert on alerts.v1', async () => alerts.find((a) => a.customer_id === unhappy));
    expect(alert.signals.length).toBeGreaterThan(0);
    expect(alert.score).toBeGreaterThan(alert.score_before);

    // ClickHouse aggregates through the query API: 4 events, 2 customers, NPS (1 promoter − 1 detractor) / 2 = 0.
    const kpi = await eventually('KPIs from ClickHouse', async () => {
      const r = await get(`/v1/kpis?from=${encodeURIComponent(iso(3_600_000))}&to=${encodeURIComponent(iso(-60_000))}&interval=hour&by=channel`);
      if (r.status !== 200) throw new Error(`kpis answered ${r.status}: ${await r.text()}`);
      const k = (await r.json()) as { buckets: Array<{ key?: string; events: number; unique_customers: number; nps: number | null; nps_responses: number }> };
      const rows = k.buckets.filter((b) => b.key === CHANNEL);
      const events = rows.reduce((n, b) => n + b.events, 0);
      return events === 4 ? rows : undefined;
    });
    const responses = kpi.reduce((n, b) => n + b.nps_responses, 0);
    expect(responses).toBe(2);
    if (kpi.length === 1) {
      expect(kpi[0]!.unique_customers).toBe(2);
      expect(kpi[0]!.nps).toBe(0);
    }

    // One customer's journey: ClickHouse timeline plus live Redis state.
    const journey = await eventually('journey with 3 touchpoints', async () => {
      const r = await get(`/v1/customers/${encodeURIComponent(unhappy)}/journey`);
      if (r.status !== 200) return undefined;
      const j = (await r.json()) as { timeline: Array<{ touchpoint: string }>; live: { score: number; level: string } | null; alerts?: unknown[] };
      return j.timeline.length === 3 ? j : undefined;
    });
    // Newest first.
    expect(journey.timeline.map((t) => t.touchpoint)).toEqual(['nps_survey', 'billing_inquiry_call', 'billing_inquiry_call']);
    expect(journey.live?.score).toBeGreaterThan(0);

    const alertsApi = await eventually('alert in /v1/alerts', async () => {
      const r = await get(`/v1/alerts?customer_id=${encodeURIComponent(unhappy)}`);
      const j = (await r.json()) as { alerts: Array<{ alert_id: string }> };
      return j.alerts.length > 0 ? j.alerts : undefined;
    });
    expect(alertsApi[0]!.alert_id).toBe(alert.alert_id);
  });
});

describe('bad input', () => {
  const valid = (name: string) => ({ customer_id: customer(name), occurred_at: iso(1000), channel: CHANNEL, touchpoint: 'chat_message', initiator: 'customer', attributes: { batch: `${name.split('-')[0]}-${run}` } });

  it('rejects each invalid event with reasons, keeps it as a dead letter, and still accepts the valid ones', async () => {
    const items = [
      valid('mixed-ok-1'),
      { ...valid('mixed-bad-1'), customer_id: undefined },
      { ...valid('mixed-bad-2'), duration_ms: 'long' },
      { ...valid('mixed-bad-3'), occurred_at: iso(-3_600_000) },
      valid('mixed-ok-2'),
    ];
    const res = await post(JSON.stringify(items));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: Array<{ index: number; errors: string[] }> };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(body.rejected[0]!.errors.join()).toMatch(/customer_id/);
    expect(body.rejected[1]!.errors.join()).toMatch(/duration_ms/);
    expect(body.rejected[2]!.errors.join()).toMatch(/future/);

    await eventually('dead letters for the 3 rejected events', async () =>
      deadLetters.filter((d) => d.payload.toString().includes(`mixed-${run}`)).length === 3);
    const ok = await eventually('valid events of the mixed batch processed', async () => {
      const a = await redis.hget(`ts:{${customer('mixed-ok-1')}}:state`, 'events');
      const b = await redis.hget(`ts:{${customer('mixed-ok-2')}}:state`, 'events');
      return a === '1' && b === '1';
    });
    expect(ok).toBe(true);
  });

  it('answers 400 when no event is valid', async () => {
    const res = await post(JSON.stringify([{ ...valid('x'), initiator: 'robot' }]));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { accepted: number; rejected: Array<{ errors: string[] }> };
    expect(body.accepted).toBe(0);
    expect(body.rejected[0]!.errors.join()).toMatch(/initiator/);
  });

  it('answers 400 INVALID_JSON for malformed JSON', async () => {
    const res = await post('{"customer_id": "c1", ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('INVALID_JSON');
  });

  it('accepts NDJSON and rejects only its malformed line', async () => {
    const lines = [JSON.stringify(valid('ndjson-1')), '{not json', JSON.stringify(valid('ndjson-2'))].join('\n');
    const res = await post(lines, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: Array<{ index: number }> };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => r.index)).toEqual([1]);
  });

  it('answers 413 for a body over the limit and for too many events', async () => {
    const big = await post(JSON.stringify([{ ...valid('big'), attributes: { note: 'x'.repeat(1000) } }]).padEnd(70_000, ' '));
    expect(big.status).toBe(413);
    const many = await post(JSON.stringify(Array.from({ length: 51 }, () => valid('many'))));
    expect(many.status).toBe(413);
  });

  it('answers 415 for an unknown content type', async () => {
    const res = await post('customer_id=c1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
  });

  it('answers 401 without a key or with a wrong key, 403 with a key of another role', async () => {
    const body = JSON.stringify(valid('auth'));
    const none = await fetch(`${app.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(none.status).toBe(401);
    expect((await post(body, { authorization: 'Bearer nope-nope-nope' })).status).toBe(401);
    expect((await post(body, { authorization: `Bearer ${READ_KEY}` })).status).toBe(403);
    expect((await get('/v1/kpis')).status).toBe(200);
    const writeKeyOnQuery = await fetch(`${app.url}/v1/kpis`, { headers: { authorization: `Bearer ${WRITE_KEY}` } });
    expect(writeKeyOnQuery.status).toBe(403);
  });

  it('serves the dashboard, whose every API call is a documented route', async () => {
    const page = await fetch(`${app.url}/dashboard/`);
    expect(page.status).toBe(200);
    // The workspace's modules: the pages call the API, app.js and ui.js route and sign in.
    const script = (await Promise.all(['app.js', 'pages.js', 'ui.js'].map(async (file) => {
      const res = await fetch(`${app.url}/dashboard/${file}`);
      expect(res.status, file).toBe(200);
      return res.text();
    }))).join('\n');
    // The routes the page calls, e.g. `/v1/customers/${…}/journey` → /v1/customers/{}/journey.
    const called = new Set([...script.matchAll(/[`'](\/v1\/[^`'?]*)/g)].map((m) => m[1]!.replace(/\$\{[^}]*\}/g, '{}')));
    expect(called.size).toBeGreaterThanOrEqual(5);
    const openapi = (await (await fetch(`${app.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    const documented = new Set(Object.keys(openapi.paths).map((p) => p.replace(/\{[^}]*\}/g, '{}')));
    expect([...called].filter((p) => !documented.has(p))).toEqual([]);
  });
});
