// Pseudonymisation at ingest and the `fresh` re-ingestion policy on a running stack (docs/architecture.md §14): the raw
// customer id reaches no store; erase (through the CLI's eraser) and export take the raw id; after the erasure a new
// event starts a fresh customer while redelivered old records of the same id stay dropped.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createClickHouse, type ClickHouseClient } from '@touchstream/clickhouse';
import { pseudonymousCustomerId } from '@touchstream/contracts';
import { createKafka, readLag, topicNames } from '@touchstream/kafka';
import { eventually, startTestRedis, type TestRedis } from '@touchstream/testkit';
import { eraseCustomers } from '../tools/cli/src/erase/erase.ts';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `pseudo-write-${run}`;
const READ_KEY = `pseudo-read-${run}`;
const ADMIN_KEY = `pseudo-admin-key-${run}`;
const SECRET = `pseudo-secret-${run}-0123456789abcdef`;
const PREFIX = `pseudo-${run}`;
const rawId = `alice-${run}@example.com`;
const pseudonym = pseudonymousCustomerId(SECRET, rawId);

let app: RunningApp;
let redis: Redis;
// A Redis of this file's own: other suites' apps read touchpoints.v1 from offset 0 with consumer groups of their own
// (and no PRIVACY_SECRET, or another), and would write this file's customers back into a shared Redis.
let privateRedis: TestRedis;
let clickhouse: ClickHouseClient;
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

async function touchpointsOf(customerId: string): Promise<number> {
  const r = await clickhouse.query({ query: 'SELECT count() AS n FROM touchpoints WHERE customer_id = {id:String}', query_params: { id: customerId }, format: 'JSONEachRow' });
  return Number((await r.json<{ n: string }>())[0]!.n);
}

async function caughtUp(): Promise<void> {
  const kadmin = createKafka({ brokers: inject('kafkaBrokers') }).admin();
  await kadmin.connect();
  try {
    let zeroes = 0;
    await eventually('caught up', async () => {
      const lag = await readLag(kadmin, [
        { groupId: `${PREFIX}-processor`, topics: [topicNames.touchpoints] },
        { groupId: `${PREFIX}-sink`, topics: [topicNames.touchpoints, topicNames.signals, topicNames.alerts, topicNames.profiles] },
      ]);
      zeroes = lag.partitions.every((p) => p.lag === 0) ? zeroes + 1 : 0;
      return zeroes >= 2;
    }, { timeoutMs: 60_000 });
  } finally {
    await kadmin.disconnect();
  }
}

const post = (events: object[]) =>
  fetch(`${app.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
const event = (msAgo: number, touchpoint: string) => ({ customer_id: rawId, occurred_at: iso(msAgo), channel: `pseudo_${run}`, touchpoint, initiator: 'customer' });

beforeAll(async () => {
  privateRedis = await startTestRedis();
  const clickhouseUrl = inject('clickhouseUrl');
  const chdbPath = clickhouseUrl ? undefined : mkdtempSync(path.join(os.tmpdir(), 'pseudo-chdb-'));
  app = await startApp(loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    REDIS_URL: privateRedis.url,
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: chdbPath }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${WRITE_KEY}=pseudo`,
    READ_KEYS: `${READ_KEY}=analyst`,
    ADMIN_KEY,
    PRIVACY_SECRET: SECRET,
    PSEUDONYMIZE_CUSTOMER_IDS: 'true',
    ERASED_CUSTOMER_POLICY: 'fresh',
    ERASURE_SETTLE_MS: '500',
    KAFKA_GROUP_PREFIX: PREFIX,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
  }));
  redis = new Redis(privateRedis.url);
  clickhouse = createClickHouse(clickhouseUrl ? { url: clickhouseUrl } : { path: chdbPath! });
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  redis?.disconnect();
  await app?.stop();
  await privateRedis?.stop();
});

describe('pseudonymisation at ingest', () => {
  it('stores only the pseudonym; export and erase take the raw id; a new event after the erasure starts afresh', async () => {
    expect((await post([event(5000, 'login_page'), event(4000, 'checkout_page')])).status).toBe(202);
    await eventually('stored under the pseudonym', async () => (await touchpointsOf(pseudonym)) === 2);
    expect(await touchpointsOf(rawId)).toBe(0);
    expect(await redis.exists(`ts:{${rawId}}:state`)).toBe(0);
    expect(await redis.hget(`ts:{${pseudonym}}:state`, 'events')).toBe('2');
    // A profile (docs/architecture.md §20.6) is keyed and stored under the pseudonym too, on either route.
    const profile = await fetch(`${app.url}/v1/customers/${encodeURIComponent(rawId)}/profile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { tier: 'gold' } }),
    });
    expect(profile.status).toBe(202);
    const rowsOfProfile = async (id: string) => {
      const r = await clickhouse.query({ query: 'SELECT count() AS n FROM customer_profiles WHERE customer_id = {id:String}', query_params: { id }, format: 'JSONEachRow' });
      return Number((await r.json<{ n: string }>())[0]!.n);
    };
    await eventually('the profile stored under the pseudonym', async () => (await rowsOfProfile(pseudonym)) === 1);
    expect(await rowsOfProfile(rawId)).toBe(0);

    const exported = await fetch(`${app.url}/v1/customers/${encodeURIComponent(rawId)}/export`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const lines = (await exported.text()).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    expect(lines.filter((l) => l.kind === 'touchpoint').map((l) => l.data.customer_id)).toEqual([pseudonym, pseudonym]);
    expect(JSON.stringify(lines)).not.toContain(rawId);
    await caughtUp();

    // The CLI's eraser, by raw id, with its progress.
    const progress: number[] = [];
    const summary = await eraseCustomers([rawId], { url: app.url, adminKey: ADMIN_KEY, onProgress: (done) => progress.push(done) });
    expect(summary).toMatchObject({ erased: 1, alreadyErased: 0, failed: [] });
    expect(summary.removed['clickhouse.touchpoints']).toBe(2);
    expect(summary.removed['clickhouse.customer_profiles']).toBe(1);
    expect(progress).toEqual([1]);
    expect(await touchpointsOf(pseudonym)).toBe(0);
    expect(await redis.exists(`ts:{${pseudonym}}:state`)).toBe(0);

    // fresh: a new event is accepted and starts a new customer; redelivered old records of the id stay dropped.
    expect((await post([event(1000, 'support_chat')])).status).toBe(202);
    await eventually('the fresh customer stored', async () => (await touchpointsOf(pseudonym)) === 1);
    expect(await redis.hget(`ts:{${pseudonym}}:state`, 'events')).toBe('1');
    const kafka = createKafka({ brokers: inject('kafkaBrokers') });
    const consumer = kafka.consumer({ groupId: `pseudo-reader-${randomUUID()}` });
    const old: Array<{ key: Buffer | null; value: Buffer | null; timestamp: string }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topicNames.touchpoints, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void (message.key?.toString() === pseudonym && old.push(message)) });
    await eventually('the 3 records of the id read back', async () => old.length >= 3);
    await consumer.disconnect();
    const raws = old.filter((m) => m.value!.includes(Buffer.from(rawId)));
    expect(raws).toEqual([]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: topicNames.touchpoints, messages: old.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
    await producer.disconnect();
    await caughtUp();
    expect(await touchpointsOf(pseudonym)).toBe(1);
    expect(await redis.hget(`ts:{${pseudonym}}:state`, 'events')).toBe('1');
  });
});
