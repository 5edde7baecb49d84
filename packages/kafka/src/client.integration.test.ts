// The producer and the write-health watch against the test stack's real broker.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIdempotentProducer, createKafka, ensureTopics, watchKafkaWrites, type LogSink } from './index.ts';

const brokers = inject('kafkaBrokers');
const runId = randomBytes(4).toString('hex');
const topic = `client-test-${runId}`;
const quiet: LogSink = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

describe.skipIf(!brokers?.length)('the idempotent producer and the write-health watch', () => {
  const kafka = createKafka({ brokers: brokers ?? [], clientId: `client-test-${runId}`, log: quiet });
  const producer = createIdempotentProducer(kafka);

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 2, replicationFactor: 1 }]);
    await admin.disconnect();
    await producer.connect();
  });
  afterAll(() => producer.disconnect());

  it('takes many concurrent sends to the same partitions: all acknowledged, in call order, none twice', async () => {
    // Concurrent sends through kafkajs' idempotent producer alone desynchronise its sequence numbers after a
    // retry; serializeSends queues and merges them into one request at a time.
    const calls = Array.from({ length: 300 }, (_, i) => i);
    const results = await Promise.all(
      calls.map((i) =>
        i % 3 === 0
          ? producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: [{ key: `k${i % 2}`, value: String(i) }] }] })
          : producer.send({ topic, acks: -1, messages: [{ key: `k${i % 2}`, value: String(i) }] }),
      ),
    );
    expect(results.every((r) => r.length > 0 && r.every((m) => m.topicName === topic && m.errorCode === 0))).toBe(true);

    const consumer = kafka.consumer({ groupId: `client-test-${runId}`, maxWaitTimeInMs: 100 });
    const byKey: Record<string, number[]> = { k0: [], k1: [] };
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void byKey[message.key!.toString()]!.push(Number(message.value!.toString())) });
      const deadline = Date.now() + 30_000;
      while (byKey.k0!.length + byKey.k1!.length < calls.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await consumer.disconnect();
    }
    // One key is one partition: its records are in the order the sends were called.
    expect(byKey.k0).toEqual(calls.filter((i) => i % 2 === 0));
    expect(byKey.k1).toEqual(calls.filter((i) => i % 2 === 1));
  });

  it('says whether a topic can take writes', async () => {
    const present = watchKafkaWrites(kafka, { topic });
    const missing = watchKafkaWrites(kafka, { topic: `${topic}-missing` });
    try {
      expect(await present.check()).toBe(true);
      expect(present.status()).toEqual({ ok: true });
      expect(await missing.check()).toBe(false);
      expect(missing.status()).toMatchObject({ ok: false, reason: expect.stringMatching(/^Kafka cannot take writes/) });
      // A failed send says so at once; a later check or send clears it.
      present.sendFailed('a send to Kafka failed: test');
      expect(present.status()).toEqual({ ok: false, reason: 'a send to Kafka failed: test' });
      expect(await present.check()).toBe(true);
    } finally {
      await present.stop();
      await missing.stop();
    }
  });
});
