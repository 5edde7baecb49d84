// Dead letters round trip on real Kafka: ingest rejects → list → export → fix → replay through ingest.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { enforceRoles } from '@touchstream/runtime';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIdempotentProducer, createKafka, ensureTopics, ErasedCustomers } from '@touchstream/kafka';
import { ingestPlugin } from '@touchstream/ingest';
import { codecs, erasureKey } from '@touchstream/contracts';
import { readDeadLetters, replayExportFile, toExportLine, type ExportedDeadLetter } from './deadletters.ts';

const run = randomUUID().slice(0, 8);
const topics = { touchpoints: `dl-test-${run}-touchpoints`, invalid: `dl-test-${run}-invalid` };
const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const kafka = createKafka({ brokers: inject('kafkaBrokers'), log: quiet });
const producer = createIdempotentProducer(kafka);
const WRITE_KEY = `dl-write-${run}`;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })));
  await admin.disconnect();
  await producer.connect();
  app = Fastify();
  enforceRoles(app, { keys: { write: { [WRITE_KEY]: 'crm' } } });
  await app.register(ingestPlugin({ producer, topics, log: quiet }));
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await producer.disconnect();
});

async function touchpointsStored(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topics.touchpoints).finally(() => admin.disconnect());
  const total = ends.reduce((n, e) => n + Number(e.offset), 0);
  const consumer = kafka.consumer({ groupId: `dl-test-reader-${randomUUID()}` });
  const ids: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: topics.touchpoints, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        ids.push(codecs.touchpoint.decode(message.value!).event_id);
        if (ids.length >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return ids;
}

describe('dead letters', () => {
  it('are listed with reasons, exported, fixed and replayed through ingest under a stable event_id', async () => {
    const base = { occurred_at: new Date().toISOString(), channel: 'web', touchpoint: 'login_page', initiator: 'customer' };
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
      body: JSON.stringify([{ ...base, customer_id: `${run}-ok` }, { ...base }, { ...base, customer_id: `${run}-bad`, initiator: 'robot' }]),
    });
    expect(res.status).toBe(202);

    const progress: number[] = [];
    const listed = await readDeadLetters({ kafka, topic: topics.invalid, onProgress: (read) => progress.push(read) });
    expect(listed).toHaveLength(2);
    expect(progress.at(-1)).toBe(2);
    expect(listed.map((d) => d.deadLetter.source)).toEqual(['crm', 'crm']);
    const reasons = listed.flatMap((d) => d.deadLetter.reasons).join('\n');
    expect(reasons).toMatch(/customer_id: is required/);
    expect(reasons).toMatch(/initiator: must be one of/);
    expect(await readDeadLetters({ kafka, topic: topics.invalid, filter: { reason: 'initiator' } })).toHaveLength(1);

    // Fix one by hand (add the missing customer id), leave the other broken.
    const lines = listed.map((d) => JSON.parse(toExportLine(d)) as ExportedDeadLetter);
    const missingId = lines.find((l) => !(l.payload as { customer_id?: string }).customer_id)!;
    (missingId.payload as Record<string, unknown>).customer_id = `${run}-fixed`;
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dl-')), 'fixed.ndjson');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));

    const report = await replayExportFile(file, { url, writeKey: WRITE_KEY });
    expect(report.total).toBe(2);
    expect(report.accepted).toBe(1);
    expect(report.rejected).toHaveLength(1);
    expect(report.rejected[0]!.errors.join()).toMatch(/initiator/);

    // Replaying the same file again re-sends the same event_id: downstream idempotency stores it once.
    await replayExportFile(file, { url, writeKey: WRITE_KEY });
    const ids = await touchpointsStored();
    const fixedId = (missingId.payload as { event_id: string }).event_id;
    expect(fixedId).toMatch(/^dead-letter-/);
    expect(ids.filter((id) => id === fixedId)).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('skip dead letters, and lines of an export file, of customers erased since (docs/architecture.md §14)', async () => {
    const erasedTopic = { ...topics, invalid: `dl-test-${run}-invalid-erasure` };
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic: erasedTopic.invalid, numPartitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
    const erasing = Fastify();
    enforceRoles(erasing, { keys: { write: { [WRITE_KEY]: 'crm' } } });
    await erasing.register(ingestPlugin({ producer, topics: erasedTopic, log: quiet }));
    const erasingUrl = await erasing.listen({ host: '127.0.0.1', port: 0 });
    try {
      const bad = (customer: string) => ({ customer_id: customer, occurred_at: new Date().toISOString(), channel: 'web', touchpoint: 'login_page', initiator: 'robot' });
      const res = await fetch(`${erasingUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` },
        body: JSON.stringify([bad(`${run}-gone`), bad(`${run}-here`)]),
      });
      expect(res.status).toBe(400);
      const before = await readDeadLetters({ kafka, topic: erasedTopic.invalid });
      expect(before).toHaveLength(2);

      const secret = 'dead-letter-test-secret-of-32-characters';
      const erased = new ErasedCustomers(secret);
      erased.record(erasureKey(secret, `${run}-gone`), Date.now());
      const skipped = { erased: 0 };
      const listed = await readDeadLetters({ kafka, topic: erasedTopic.invalid, erasures: { erased }, skipped });
      expect(listed.map((d) => JSON.parse(d.deadLetter.payload.toString()).customer_id)).toEqual([`${run}-here`]);
      expect(skipped.erased).toBe(1);

      // An export written before the erasure: replay leaves the erased customer's line out.
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dl-')), 'before-erasure.ndjson');
      writeFileSync(file, before.map((d) => toExportLine(d)).join('\n'));
      const report = await replayExportFile(file, { url: erasingUrl, writeKey: WRITE_KEY, erasures: { erased } });
      expect(report.skippedErased).toBe(1);
      expect(report.total).toBe(1);
    } finally {
      await erasing.close();
    }
  });

  it('gives an empty list for an empty topic', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic: `dl-test-${run}-empty`, numPartitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
    expect(await readDeadLetters({ kafka, topic: `dl-test-${run}-empty` })).toEqual([]);
  });
});
