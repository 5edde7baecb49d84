// Issue 15's "Done when" on a running stack: a customer erased while their events are still in Kafka — redelivered
// (copies with their original timestamps) and replayed (a second processor and sink reading every topic from offset 0)
// — has no row in ClickHouse, no key in Redis, nothing in clear in erasures.v1 or the audit log; the aggregates'
// totals stay as they were (README: Privacy); a new event for the erased id is refused (409); erasing again is
// harmless; the export streams everything stored before, nothing after.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import type { KafkaMessage } from 'kafkajs';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createClickHouse, type ClickHouseClient } from '@touchstream/clickhouse';
import { createKafka, readLag, topicNames } from '@touchstream/kafka';
import { tablesHoldingCustomerIds } from '@touchstream/privacy';
import { eventually, startTestRedis, type TestRedis } from '@touchstream/testkit';
import { writeTestChurnModel } from '../services/processor/src/churn/test-model.test-support.ts';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `privacy-write-${run}`;
const READ_KEY = `privacy-read-${run}`;
const ADMIN_KEY = `privacy-admin-key-${run}`;
const SECRET = `privacy-secret-${run}-0123456789abcdef`;
const CHANNEL = `privacy_phone_${run}`;
const erasedId = `privacy-${run}-erased`;
const keptId = `privacy-${run}-kept`;

const brokers = () => inject('kafkaBrokers');
let app: RunningApp;
let replay: RunningApp | undefined;
let redis: Redis;
// A Redis of this file's own: other suites' apps read touchpoints.v1 from offset 0 with consumer groups of their own
// (and no PRIVACY_SECRET, or another), and would write this file's customers back into a shared Redis.
let privateRedis: TestRedis;
let clickhouse: ClickHouseClient;
let chdbPath: string | undefined;
// The processor scores churn risk with it, so the erasure has churn_scores rows and churn fields to remove (§22).
const churnModelFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'privacy-churn-')), 'model.json');

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

function configFor(prefix: string, targets: string) {
  const clickhouseUrl = inject('clickhouseUrl');
  return loadConfig({
    TOUCHSTREAM_TARGET: targets,
    KAFKA_BROKERS: brokers().join(','),
    REDIS_URL: privateRedis.url,
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: chdbPath }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${WRITE_KEY}=privacy`,
    READ_KEYS: `${READ_KEY}=analyst`,
    ADMIN_KEY,
    PRIVACY_SECRET: SECRET,
    ERASED_CUSTOMER_POLICY: 'refuse',
    ERASURE_SETTLE_MS: '500',
    CHURN_MODEL_FILE: churnModelFile,
    KAFKA_GROUP_PREFIX: prefix,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
  });
}

const admin = (method: string, pathAndQuery: string, key = ADMIN_KEY) =>
  fetch(`${app.url}${pathAndQuery}`, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });

async function channelEvents(): Promise<number> {
  const r = await fetch(`${app.url}/v1/kpis?from=${encodeURIComponent(iso(3_600_000))}&to=${encodeURIComponent(iso(-60_000))}&interval=hour&by=channel`, {
    headers: { authorization: `Bearer ${READ_KEY}` },
  });
  if (r.status !== 200) throw new Error(`kpis answered ${r.status}: ${await r.text()}`);
  const k = (await r.json()) as { buckets: Array<{ key?: string; events: number }> };
  return k.buckets.filter((b) => b.key === CHANNEL).reduce((n, b) => n + b.events, 0);
}

async function rowsOf(customerId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await tablesHoldingCustomerIds(clickhouse)) {
    const r = await clickhouse.query({ query: `SELECT count() AS n FROM ${table} WHERE customer_id = {id:String}`, query_params: { id: customerId }, format: 'JSONEachRow' });
    counts[table] = Number((await r.json<{ n: string }>())[0]!.n);
  }
  return counts;
}

/** Every Redis key or sorted-set member that names the customer. */
async function redisTraces(customerId: string): Promise<string[]> {
  const traces: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    traces.push(...keys.filter((k) => k.includes(customerId)));
  } while (cursor !== '0');
  if ((await redis.zscore('ts:timers:due', customerId)) !== null) traces.push('ts:timers:due member');
  return traces;
}

/** Reads a topic whole (from the beginning to its current end). */
async function readTopic(topic: string): Promise<KafkaMessage[]> {
  const kafka = createKafka({ brokers: brokers() });
  const kadmin = kafka.admin();
  await kadmin.connect();
  const ends = await kadmin.fetchTopicOffsets(topic).finally(() => kadmin.disconnect());
  const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const out: KafkaMessage[] = [];
  if (pending.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `privacy-reader-${run}-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        out.push(message);
        const end = pending.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) pending.delete(partition);
        if (pending.size === 0) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return out;
}

/** Waits until the groups of a prefix have consumed everything (twice in a row: the processor feeds the sink). */
async function caughtUp(prefix: string): Promise<void> {
  const kadmin = createKafka({ brokers: brokers() }).admin();
  await kadmin.connect();
  try {
    let zeroes = 0;
    await eventually(`${prefix} caught up`, async () => {
      const lag = await readLag(kadmin, [
        { groupId: `${prefix}-processor`, topics: [topicNames.touchpoints] },
        { groupId: `${prefix}-sink`, topics: [topicNames.touchpoints, topicNames.signals, topicNames.alerts, topicNames.churnScores, topicNames.profiles] },
      ]);
      const behind = lag.partitions.reduce((n, p) => n + p.lag, 0);
      zeroes = behind === 0 ? zeroes + 1 : 0;
      return zeroes >= 2;
    }, { timeoutMs: 60_000 });
  } finally {
    await kadmin.disconnect();
  }
}

beforeAll(async () => {
  privateRedis = await startTestRedis();
  await writeTestChurnModel(churnModelFile);
  if (!inject('clickhouseUrl')) chdbPath = mkdtempSync(path.join(os.tmpdir(), 'privacy-chdb-'));
  app = await startApp(configFor(`privacy-${run}`, 'all'));
  redis = new Redis(privateRedis.url);
  // In chDB mode the same data directory in this process: the one the app writes.
  clickhouse = createClickHouse(inject('clickhouseUrl') ? { url: inject('clickhouseUrl')! } : { path: chdbPath! });
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  await replay?.stop();
  redis?.disconnect();
  await app?.stop();
  await privateRedis?.stop();
});

describe('erasing a customer', () => {
  it('needs the admin key', async () => {
    expect((await admin('DELETE', `/v1/customers/${erasedId}`, '')).status).toBe(401);
    expect((await admin('DELETE', `/v1/customers/${erasedId}`, READ_KEY)).status).toBe(403);
    expect((await admin('GET', `/v1/customers/${erasedId}/export`, WRITE_KEY)).status).toBe(403);
  });

  it('leaves no row or key behind, even when the events come again from Kafka, and keeps the aggregates', async () => {
    const events = (id: string) => [
      { customer_id: id, occurred_at: iso(5000), channel: CHANNEL, touchpoint: 'billing_inquiry_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'unresolved', wait_ms: 600000, sentiment: -0.8 },
      { customer_id: id, occurred_at: iso(4000), channel: CHANNEL, touchpoint: 'billing_inquiry_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'resolved', sentiment: -0.7 },
      { customer_id: id, occurred_at: iso(3500), channel: CHANNEL, touchpoint: 'address_change', initiator: 'customer', journey: 'address_change', outcome: 'started' },
      { customer_id: id, occurred_at: iso(3000), channel: CHANNEL, touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: 2, comment: 'called twice' } },
    ];
    const posted = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify([...events(erasedId), ...events(keptId)]),
    });
    expect(posted.status).toBe(202);
    // And a profile (docs/architecture.md §20.6): two updates of the erased customer, one of the kept one.
    const profiles = await fetch(`${app.url}/v1/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { customer_id: erasedId, updated_at: iso(6000), attributes: { tier: 'gold', age: 71 } },
        { customer_id: erasedId, updated_at: iso(5500), attributes: { tier: 'platinum' } },
        { customer_id: keptId, updated_at: iso(6000), attributes: { tier: 'silver' } },
      ]),
    });
    expect(profiles.status).toBe(202);

    // Stored everywhere: raw rows, signals, alerts, FCR contacts, customer activity, profiles; live state and a journey timer.
    await eventually('the customer stored in ClickHouse', async () => {
      const rows = await rowsOf(erasedId);
      return rows.touchpoints === 4 && rows.signals! > 0 && rows.alerts! > 0 && rows.customer_activity_1d! > 0 && rows.fcr_contacts! > 0 && rows.churn_scores! > 0
        // customer_profiles: 3 rows (tier twice, age) until a merge collapses the tiers
        && rows.profile_updates === 2 && rows.customer_profiles! >= 2 ? rows : undefined;
    });
    expect(await redisTraces(erasedId)).toEqual(expect.arrayContaining([`ts:{${erasedId}}:state`, `ts:{${erasedId}}:timers`, 'ts:timers:due member']));
    expect(await redis.hget(`ts:{${erasedId}}:state`, 'churn_band')).toMatch(/^(low|medium|high)$/);
    await eventually('the kept customer stored', async () => (await rowsOf(keptId)).touchpoints === 4);
    await caughtUp(`privacy-${run}`);
    const eventsBefore = await channelEvents();
    expect(eventsBefore).toBe(8);

    // The export streams everything stored, one JSON object per line.
    const exported = await admin('GET', `/v1/customers/${erasedId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await exported.text()).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    const kinds = lines.map((l) => l.kind);
    expect(kinds.filter((k) => k === 'touchpoint')).toHaveLength(4);
    expect(kinds).toEqual(expect.arrayContaining(['live_state', 'score', 'timeline_entry', 'journey_timer', 'signal', 'alert', 'churn_score']));
    expect(kinds.filter((k) => k === 'profile_update')).toHaveLength(2);
    expect(lines.find((l) => l.kind === 'touchpoint')!.data.customer_id).toBe(erasedId);

    // Erase.
    const erased = await admin('DELETE', `/v1/customers/${encodeURIComponent(erasedId)}`);
    expect(erased.status).toBe(200);
    const report = (await erased.json()) as { customer_key: string; previously_erased: boolean; removed: { redis: { keys: number; timer_index_entries: number }; clickhouse: Record<string, number> } };
    expect(report.previously_erased).toBe(false);
    expect(report.customer_key).toMatch(/^[0-9a-f]{64}$/);
    expect(report.removed.redis.keys).toBeGreaterThanOrEqual(4);
    expect(report.removed.redis.timer_index_entries).toBe(1);
    expect(report.removed.clickhouse).toMatchObject({ touchpoints: 4, customer_activity_1d: 1 });
    expect(report.removed.clickhouse.signals).toBeGreaterThan(0);
    expect(report.removed.clickhouse.alerts).toBeGreaterThan(0);
    expect(report.removed.clickhouse.fcr_contacts).toBeGreaterThan(0);
    expect(report.removed.clickhouse.churn_scores).toBeGreaterThan(0);
    expect(report.removed.clickhouse.profile_updates).toBe(2);
    expect(report.removed.clickhouse.customer_profiles).toBeGreaterThanOrEqual(2);

    // Redelivery: the customer's records again, with their original timestamps (as a redelivered batch has them).
    const originals = (await readTopic(topicNames.touchpoints)).filter((m) => m.key?.toString() === erasedId);
    const originalProfiles = (await readTopic(topicNames.profiles)).filter((m) => m.key?.toString() === erasedId);
    expect(originalProfiles).toHaveLength(2);
    const derived = [...(await readTopic(topicNames.signals)), ...(await readTopic(topicNames.alerts))].filter((m) => m.key?.toString() === erasedId);
    expect(originals).toHaveLength(4);
    expect(derived.length).toBeGreaterThan(0);
    const producer = createKafka({ brokers: brokers() }).producer();
    await producer.connect();
    await producer.send({ topic: topicNames.touchpoints, messages: originals.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
    await producer.send({ topic: topicNames.profiles, messages: originalProfiles.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
    await producer.disconnect();
    // Replay: a second processor and sink whose groups start at offset 0 of every topic.
    replay = await startApp(configFor(`privacy-replay-${run}`, 'processor,sink,query'));
    await caughtUp(`privacy-${run}`);
    await caughtUp(`privacy-replay-${run}`);

    expect(await rowsOf(erasedId)).toSatisfy((rows: Record<string, number>) => Object.values(rows).every((n) => n === 0));
    expect(await redisTraces(erasedId)).toEqual([]);
    expect((await admin('GET', `/v1/customers/${erasedId}/export`).then((r) => r.text())).trim()).toBe('');
    // The kept customer is untouched, and the aggregates count what they counted (README: Privacy).
    expect(await rowsOf(keptId)).toMatchObject({ touchpoints: 4, profile_updates: 1, customer_profiles: 1 });
    expect(await channelEvents()).toBe(eventsBefore);

    // erasures.v1 and the audit log name the customer only by the keyed hash.
    const erasureRecords = await readTopic(topicNames.erasures);
    const mine = erasureRecords.filter((m) => m.key?.toString() === report.customer_key);
    expect(mine).toHaveLength(1);
    expect(erasureRecords.some((m) => `${m.key?.toString()}${m.value?.toString()}`.includes(erasedId))).toBe(false);
    const audit = await clickhouse.query({ query: 'SELECT * FROM customer_erasures WHERE customer_key = {k:String}', query_params: { k: report.customer_key }, format: 'JSONEachRow' });
    const auditRows = await audit.json<Record<string, string>>();
    expect(auditRows).toHaveLength(1);
    expect(JSON.stringify(auditRows)).not.toContain(erasedId);
    expect(JSON.parse(auditRows[0]!.removed!)).toMatchObject({ clickhouse: { touchpoints: 4 } });
  });

  it('shows the kept customer\'s live churn risk on the journey and splits the KPIs by it (§22)', async () => {
    const read = (pathAndQuery: string) => fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    const journey = (await (await read(`/v1/customers/${encodeURIComponent(keptId)}/journey`)).json()) as { live: { churn_risk: { score: number; band: string; model_version: string } | null } };
    expect(journey.live.churn_risk).toMatchObject({ band: expect.stringMatching(/^(low|medium|high)$/), model_version: expect.any(String) });
    expect(journey.live.churn_risk!.score).toBeGreaterThanOrEqual(0);
    const range = `from=${encodeURIComponent(iso(3_600_000))}&to=${encodeURIComponent(iso(-60_000))}`;
    const kpis = (await (await read(`/v1/kpis?${range}&interval=hour&by=churn_risk`)).json()) as { by: string; totals: Array<{ key: string; events: number }> };
    expect(kpis.by).toBe('churn_risk');
    // At least the kept customer's 4 touchpoints, in their band.
    expect(kpis.totals.find((t) => t.key === journey.live.churn_risk!.band)?.events).toBeGreaterThanOrEqual(4);
    const filtered = await read(`/v1/kpis?${range}&interval=hour&churn_risk=${journey.live.churn_risk!.band}`);
    expect(filtered.status).toBe(200);
    expect((await read(`/v1/kpis?${range}&churn_risk=doomed`)).status).toBe(400);
  });

  it('refuses a new event for the erased id with 409 and keeps the rest of the batch', async () => {
    const event = (id: string) => ({ customer_id: id, occurred_at: iso(1000), channel: CHANNEL, touchpoint: 'chat_message', initiator: 'customer' });
    const only = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify([event(erasedId)]),
    });
    expect(only.status).toBe(409);
    expect(await only.json()).toMatchObject({ code: 'CUSTOMER_ERASED', accepted: 0, rejected: [{ index: 0, code: 'CUSTOMER_ERASED' }] });
    const mixed = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify([event(keptId), event(erasedId)]),
    });
    expect(mixed.status).toBe(202);
    expect(await mixed.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'CUSTOMER_ERASED' }] });
  });

  it('is idempotent: erasing again answers 200 with nothing left to remove', async () => {
    const again = await admin('DELETE', `/v1/customers/${encodeURIComponent(erasedId)}`);
    expect(again.status).toBe(200);
    const report = (await again.json()) as { previously_erased: boolean; removed: { redis: { keys: number }; clickhouse: Record<string, number> } };
    expect(report.previously_erased).toBe(true);
    expect(report.removed.redis.keys).toBe(0);
    expect(Object.values(report.removed.clickhouse).every((n) => n === 0)).toBe(true);
  });
});
