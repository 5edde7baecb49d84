// The sink module end to end: real Kafka (the test stack) → sink → ClickHouse (chDB in a temp dir, or the
// stack's server). Isolated by topics of its own; dead letters go to the shared deadletters.v1.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { migrate } from '@touchstream/clickhouse';
import { createIdempotentProducer, createKafka, ensureTopics, topicNames, topicSpecs, type LogSink } from '@touchstream/kafka';
import { codecs } from '@touchstream/contracts';
import type { ModuleContext, ModuleInstance } from '@touchstream/runtime';
import { createSinkModule } from './module.ts';
import { encode, signal, touchpoint, alert } from './fixtures.test-support.ts';

const runId = randomBytes(4).toString('hex');
const topics = { touchpoints: `sink-test-${runId}-touchpoints`, signals: `sink-test-${runId}-signals`, alerts: `sink-test-${runId}-alerts`, profiles: `sink-test-${runId}-profiles` };
const quiet: LogSink = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const kafka = createKafka({ brokers: inject('kafkaBrokers'), clientId: `sink-test-${runId}`, log: quiet });
const producer = createIdempotentProducer(kafka);
let ch: TestClickHouse;

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  // In the app the shared clickhouse module migrates before the sink starts.
  await migrate(ch.client);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    ...topicSpecs().filter((s) => s.topic === topicNames.deadLetters),
    ...Object.values(topics).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })),
  ]);
  await admin.disconnect();
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  await ch?.close();
});

async function startSink(): Promise<ModuleInstance> {
  const module = createSinkModule({ kafka, producer, clickhouse: ch.client, groupId: `sink-test-${runId}`, log: quiet, topics });
  // The sink registers no routes and logs through its own deps.
  const instance = await module.init({} as ModuleContext);
  await instance.start();
  return instance;
}

async function produce(topic: string, messages: Array<{ key: string; value: Buffer }>): Promise<void> {
  await producer.send({ topic, acks: -1, messages });
}

async function scalar(query: string, params: Record<string, unknown> = {}): Promise<number> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  const [row] = await rs.json<{ n: number | string }>();
  return Number(row!.n);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const channel = `sink_e2e_${runId}`;
const tp = (i: number, customer: string) =>
  ({ key: customer, value: encode.touchpoint(touchpoint({ event_id: `${runId}-e${i}`, customer_id: customer, channel })) });

describe('sink module', () => {
  it('stores touchpoints, signals and alerts, dead-letters poison, and counts resent records once across a restart', async () => {
    const customers = [`${runId}-c1`, `${runId}-c2`, `${runId}-c3`];
    await produce(topics.touchpoints, [0, 1, 2, 3, 4, 5].map((i) => tp(i, customers[i % 3]!)));
    await produce(topics.touchpoints, [{ key: customers[0]!, value: Buffer.from('garbage') }]);
    await produce(topics.signals, [
      { key: customers[0]!, value: encode.signal(signal({ signal_id: `${runId}-s1`, customer_id: customers[0]!, channel })) },
    ]);
    await produce(topics.alerts, [{ key: customers[0]!, value: encode.alert(alert({ alert_id: `${runId}-a1`, customer_id: customers[0]! })) }]);

    let sink = await startSink();
    await eventually('the first records in ClickHouse', async () =>
      (await scalar('SELECT count() AS n FROM touchpoints WHERE channel = {channel:String}', { channel })) === 6 &&
      (await scalar('SELECT count() AS n FROM signals WHERE channel = {channel:String}', { channel })) === 1 &&
      (await scalar('SELECT count() AS n FROM alerts WHERE alert_id = {id:String}', { id: `${runId}-a1` })) === 1,
    );
    await eventually('the sink to report ready', async () => sink.ready().ready);
    await sink.stop();

    // While it is down: a client resends two events, the processor replays its signal, and new events arrive.
    await produce(topics.touchpoints, [tp(1, customers[1]!), tp(2, customers[2]!), tp(6, customers[0]!), tp(7, customers[1]!)]);
    await produce(topics.signals, [
      { key: customers[0]!, value: encode.signal(signal({ signal_id: `${runId}-s1`, customer_id: customers[0]!, channel })) },
    ]);

    sink = await startSink();
    try {
      await eventually('the new records in ClickHouse', async () =>
        (await scalar('SELECT count() AS n FROM touchpoints WHERE channel = {channel:String}', { channel })) >= 8,
      );
      // Give the resent copies (in the same partitions, before the new ones) no chance to hide behind timing.
      await eventually('the committed offsets to reach the end', async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          const [committed] = await admin.fetchOffsets({ groupId: `sink-test-${runId}`, topics: [topics.touchpoints, topics.signals] });
          const ends = await admin.fetchTopicOffsets(topics.touchpoints);
          // A partition that never got a record (the customers may all hash to one) has nothing to commit.
          return ends.every((e) => e.offset === '0' || committed!.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
        } finally {
          await admin.disconnect();
        }
      });
      expect(await scalar('SELECT count() AS n FROM touchpoints WHERE channel = {channel:String}', { channel })).toBe(8);
      expect(await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1m WHERE channel = {channel:String}', { channel })).toBe(8);
      expect(await scalar('SELECT count() AS n FROM signals WHERE channel = {channel:String}', { channel })).toBe(1);
      expect(await scalar('SELECT countMerge(signals) AS n FROM signal_agg_1m WHERE channel = {channel:String}', { channel })).toBe(1);
    } finally {
      await sink.stop();
    }

    // The garbage record went to the dead-letter topic with its origin.
    const consumer = kafka.consumer({ groupId: `sink-test-${runId}-dlq-reader` });
    const deadLetters: Array<{ origin_topic: string | null; origin_partition: number | null; origin_offset: string | null; reasons: string[]; stage: string }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topicNames.deadLetters, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const dl = codecs.deadLetter.decode(message.value!);
        if (dl.origin_topic === topics.touchpoints) deadLetters.push(dl);
      },
    });
    try {
      await eventually('the dead letter', async () => deadLetters.length > 0);
    } finally {
      await consumer.disconnect();
    }
    // One poison record. A batch redelivered after a rebalance (a slow, loaded machine) dead-letters it again,
    // identically: the dead-letter topic is at-least-once, identified by the record's origin.
    expect(new Set(deadLetters.map((d) => `${d.origin_partition}:${d.origin_offset}`)).size).toBe(1);
    expect(deadLetters[0]).toMatchObject({ stage: 'sink', reasons: [expect.stringMatching(/touchpoints record cannot be decoded/)] });
  });
});
