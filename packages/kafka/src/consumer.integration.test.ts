// The group-commit consumer (handleBatches) against the test stack's real broker: every record worked on once, each
// key in offset order, several partitions in one call, offsets committed; a consumer kafkajs stops for good is
// replaced in-process and the failed batch is done again; lag is read from the broker.
import { randomBytes } from 'node:crypto';
import { KafkaJSNonRetriableError } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBatchConsumer, createIdempotentProducer, createKafka, ensureTopics, lagTotals, readLag, type ConsumedBatch, type LogSink } from './index.ts';

const brokers = inject('kafkaBrokers');
const runId = randomBytes(4).toString('hex');
const quiet: LogSink = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!brokers?.length)('the group-commit consumer', () => {
  const kafka = createKafka({ brokers: brokers ?? [], clientId: `consumer-test-${runId}`, log: quiet });
  const producer = createIdempotentProducer(kafka);
  const admin = kafka.admin();

  const fill = async (topic: string, keys: number, perKey: number) => {
    await ensureTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);
    const messages = [];
    for (let n = 0; n < perKey; n++) for (let k = 0; k < keys; k++) messages.push({ key: `k${k}`, value: Buffer.from(`k${k}:${n}`) });
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  };

  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  it('works on every record once, each key in order, several partitions per call, and commits what it did', async () => {
    const topic = `group-commit-${runId}`;
    await fill(topic, 40, 25);
    const seen = new Map<string, number[]>();
    const partitionsPerCall: number[] = [];
    const groupId = `group-commit-test-${runId}`;
    const consumer = createBatchConsumer({
      kafka,
      groupId,
      topics: [topic],
      producer,
      log: quiet,
      handleBatches: async (batches: ConsumedBatch[]) => {
        partitionsPerCall.push(new Set(batches.map((b) => b.partition)).size);
        return batches.map((b) =>
          b.records.map((r) => {
            const [key, n] = r.value!.toString().split(':');
            seen.set(key!, [...(seen.get(key!) ?? []), Number(n)]);
            return { kind: 'ok' as const };
          }),
        );
      },
    });
    await consumer.start();
    try {
      await until('all 1,000 records', () => [...seen.values()].reduce((n, l) => n + l.length, 0) >= 1000);
      await until('offsets committed', async () => [...lagTotals(await readLag(admin, [{ groupId, topics: [topic] }])).values()][0]?.get(topic) === 0);
    } finally {
      await consumer.stop();
    }
    expect(seen.size).toBe(40);
    for (const list of seen.values()) expect(list).toEqual(Array.from({ length: 25 }, (_, n) => n));
    // Produced in one request before the consumer started: the first fetch brings every partition at once.
    expect(Math.max(...partitionsPerCall)).toBeGreaterThan(1);
    expect(consumer.stats).toMatchObject({ records: 1000, ok: 1000 });
    expect(consumer.stats.calls).toBeLessThan(consumer.stats.batches);
  });

  it('replaces a consumer that kafkajs stopped for good, and the failed batch is done again', async () => {
    const topic = `group-commit-restart-${runId}`;
    await fill(topic, 8, 5);
    let failures = 0;
    let handled = 0;
    const groupId = `group-commit-restart-test-${runId}`;
    const consumer = createBatchConsumer({
      kafka,
      groupId,
      topics: [topic],
      producer,
      log: quiet,
      handleBatches: async (batches: ConsumedBatch[]) => {
        if (failures === 0) {
          failures++;
          // What kafkajs does not retry: the consumer crashes with restart: false.
          throw new KafkaJSNonRetriableError('refused for the test');
        }
        handled += batches.reduce((n, b) => n + b.records.length, 0);
        return batches.map((b) => b.records.map(() => ({ kind: 'ok' as const })));
      },
    });
    await consumer.start();
    try {
      await until('the records after the restart', () => handled >= 40, 90_000);
      await until('offsets committed', async () => [...lagTotals(await readLag(admin, [{ groupId, topics: [topic] }])).values()][0]?.get(topic) === 0);
      await until('ready again', () => consumer.ready().ready);
    } finally {
      await consumer.stop();
    }
    expect(failures).toBe(1);
    expect(handled).toBe(40);
  });
});
