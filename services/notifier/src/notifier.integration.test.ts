// The notifier against the real stack: alerts produced to a Kafka topic of this file's own reach local HTTP
// receivers, signed; retried, filtered, dead-lettered and never sent twice (Redis delivery records).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient, type RedisClient } from '@touchstream/runtime';
import type { Admin, Producer } from 'kafkajs';
import { codecs, type Alert, type DeadLetter } from '@touchstream/contracts';
import { createIdempotentProducer, createKafka, ensureTopics, type LogSink } from '@touchstream/kafka';
import type { ModuleInstance } from '@touchstream/runtime';
import { eventually } from '@touchstream/testkit';
import { verifySignature } from './delivery.ts';
import type { WebhookDestination } from './destinations.ts';
import { createNotifierModule, type NotifierModule } from './module.ts';
import { startTestReceiver, type TestReceiver } from './test-receiver.ts';

const runId = randomUUID().slice(0, 8);
const topic = `notifier-test-${runId}-alerts`;
const deadLetterTopic = `notifier-test-${runId}-deadletters`;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };
const kafka = createKafka({ brokers: inject('kafkaBrokers'), clientId: `notifier-test-${runId}`, log: quiet });
const secret = 'notifier-test-secret-0123';
const fastRetry = { baseMs: 20, capMs: 100, maxAttempts: 3 };

let producer: Producer;
let admin: Admin;
let redis: RedisClient;
let receiver: TestReceiver;
/** /recover answers 503 until this is set. */
let recoverUp = false;
const running: Array<{ module: NotifierModule; instance: ModuleInstance }> = [];

function destination(name: string, over: Partial<WebhookDestination> = {}): WebhookDestination {
  return {
    name,
    url: `${receiver.url}/${name}`,
    secret,
    filter: { levels: null, journeys: null, channels: null },
    retry: fastRetry,
    ...over,
  };
}

function destinations(): WebhookDestination[] {
  return [
    destination('all'),
    // Fails twice per alert, then accepts.
    destination('flaky', { filter: { levels: null, journeys: ['flaky'], channels: null } }),
    // Always 503.
    destination('down', { filter: { levels: null, journeys: ['down'], channels: null } }),
    // Always 503, with waits long enough that the others are clearly not waiting for it.
    destination('slow-down', { filter: { levels: null, journeys: ['slow'], channels: null }, retry: { baseMs: 1500, capMs: 1500, maxAttempts: 3 } }),
    destination('critical-phone', { filter: { levels: ['critical'], journeys: null, channels: ['phone'] } }),
  ];
}

async function startNotifier(groupId: string, dests: WebhookDestination[] = destinations()): Promise<{ module: NotifierModule; instance: ModuleInstance }> {
  const module = createNotifierModule({
    kafka,
    producer,
    redis,
    settings: { destinations: dests, timeoutMs: 2000, deliveredTtlMs: 3_600_000, concurrency: 4 },
    groupId,
    log: quiet,
    topic,
    deadLetterTopic,
    keyPrefix: `notifier-test:${runId}`,
    fromBeginning: true,
    random: () => 1,
  });
  const instance = await module.init({} as never);
  await instance.start();
  running.push({ module, instance });
  return { module, instance };
}

beforeAll(async () => {
  receiver = await startTestReceiver((path, nth) => {
    if (path === '/flaky') return nth <= 2 ? 500 : 200;
    if (path === '/recover') return recoverUp ? 200 : 503;
    if (path === '/down' || path === '/slow-down') return 503;
    return 200;
  });
  admin = kafka.admin();
  await admin.connect();
  // Under load the broker may answer metadata for a just-created topic with "unknown topic" for a moment.
  await eventually('the test topics', async () => {
    await ensureTopics(admin, [
      { topic, numPartitions: 2, replicationFactor: 1 },
      { topic: deadLetterTopic, numPartitions: 1, replicationFactor: 1 },
    ]);
    return (await admin.fetchTopicOffsets(topic)).length === 2 && (await admin.fetchTopicOffsets(deadLetterTopic)).length === 1;
  });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  redis = createRedisClient(inject('redisUrl'));
  await startNotifier(`notifier-test-${runId}`);
});

afterAll(async () => {
  for (const r of running.reverse()) await r.instance.stop();
  await producer?.disconnect();
  await admin?.disconnect();
  await redis?.quit();
  await receiver?.close();
});

let seq = 0;
function alert(over: Partial<Alert> = {}): Alert {
  seq++;
  return {
    alert_id: `${runId}-alert-${seq}`,
    customer_id: `${runId}-c${seq}`,
    score: 7,
    score_before: 2,
    level: 'at_risk',
    signals: [{ signal_id: `s${seq}`, type: 'survey_detractor', weight: 3, event_id: `e${seq}`, explanation: 'NPS 3 ≤ 6: detractor' }],
    triggered_by: `e${seq}`,
    at: 1_764_000_000_000_000 + seq,
    rules_version: null,
    journey: null,
    channel: null,
    ...over,
  };
}

async function produce(...alerts: Alert[]) {
  await producer.send({ topic, acks: -1, messages: alerts.map((a) => ({ key: a.customer_id, value: codecs.alert.encode(a) })) });
}

const bodiesTo = (path: string) => receiver.to(path).filter((r) => r.status === 200).map((r) => JSON.parse(r.body) as { type: string; alert: { alert_id: string } });
const deliveredIds = (path: string) => bodiesTo(path).map((b) => b.alert.alert_id);

async function deadLetters(): Promise<DeadLetter[]> {
  const ends = await admin.fetchTopicOffsets(deadLetterTopic);
  const total = ends.reduce((n, e) => n + Number(e.offset), 0);
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: `notifier-test-dlq-${runId}-${randomUUID()}` });
  const found: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        found.push(codecs.deadLetter.decode(message.value!));
        if (found.length >= total) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return found;
}

/** Waits until the group committed past every record of the topic. */
async function committedAll(groupId: string) {
  await eventually(`group ${groupId} committed the whole topic`, async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    // A partition no alert went to has nothing to commit (its committed offset stays -1).
    return ends.every((e) => e.offset === e.low || committed!.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
  });
}

describe('notifier', () => {
  it('POSTs each alert once, signed, with the alert id as idempotency key', async () => {
    const a = alert({ journey: 'billing_support', channel: 'web' });
    await produce(a);
    await eventually('delivery to /all', async () => deliveredIds('/all').includes(a.alert_id));
    const req = receiver.to('/all').find((r) => r.headers['idempotency-key'] === a.alert_id)!;
    expect(req.headers['x-touchstream-alert-id']).toBe(a.alert_id);
    expect(verifySignature(secret, { signature: String(req.headers['x-touchstream-signature']), timestamp: String(req.headers['x-touchstream-timestamp']) }, req.body)).toBe(true);
    expect(verifySignature('wrong-secret-0123456789', { signature: String(req.headers['x-touchstream-signature']), timestamp: String(req.headers['x-touchstream-timestamp']) }, req.body)).toBe(false);
    expect(JSON.parse(req.body)).toEqual({
      type: 'alert',
      alert: {
        alert_id: a.alert_id, customer_id: a.customer_id, level: 'at_risk', score: 7, score_before: 2,
        at: '2025-11-24T16:00:00.000000Z'.replace('000000Z', `${String(a.at % 1_000_000).padStart(6, '0')}Z`),
        triggered_by: a.triggered_by, journey: 'billing_support', channel: 'web', signals: a.signals, rules_version: null,
      },
    });
  });

  it('retries a receiver that fails twice and delivers once', async () => {
    const a = alert({ journey: 'flaky' });
    await produce(a);
    await eventually('delivery to /flaky', async () => deliveredIds('/flaky').includes(a.alert_id));
    await committedAll(`notifier-test-${runId}`);
    expect(receiver.to('/flaky').filter((r) => r.headers['idempotency-key'] === a.alert_id).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(receiver.to('/flaky').filter((r) => r.headers['x-touchstream-attempt'] === '3')).toHaveLength(1);
  });

  it('dead-letters a delivery after the attempts run out, with the reason, and still commits', async () => {
    const a = alert({ journey: 'down' });
    await produce(a);
    const dead = await eventually('dead letter for /down', async () =>
      (await deadLetters()).find((d) => d.source === 'webhook:down' && JSON.parse(d.payload.toString()).alert.alert_id === a.alert_id));
    expect(dead).toMatchObject({ stage: 'notifier', origin_topic: topic, content_type: 'application/json' });
    expect(dead.reasons).toEqual([`webhook down (${receiver.url}/down) not delivered: gave up after 3 attempts; last: HTTP 503`]);
    expect(receiver.to('/down').filter((r) => r.headers['idempotency-key'] === a.alert_id)).toHaveLength(3);
    // The other destinations got it; the batch is committed.
    expect(deliveredIds('/all')).toContain(a.alert_id);
    await committedAll(`notifier-test-${runId}`);
  });

  it('does not make the other destinations wait for a failing one', async () => {
    const a = alert({ journey: 'slow' });
    await produce(a);
    await eventually('delivery to /all', async () => deliveredIds('/all').includes(a.alert_id));
    // /slow-down needs two 1.5 s waits before giving up: when /all has it, /slow-down is still retrying.
    expect(receiver.to('/slow-down').filter((r) => r.headers['idempotency-key'] === a.alert_id).length).toBeLessThan(3);
    expect((await deadLetters()).some((d) => d.source === 'webhook:slow-down')).toBe(false);
    await eventually('dead letter for /slow-down', async () => (await deadLetters()).some((d) => d.source === 'webhook:slow-down'));
  });

  it('applies level and channel filters', async () => {
    const wanted = alert({ level: 'critical', channel: 'phone' });
    const wrongLevel = alert({ level: 'at_risk', channel: 'phone' });
    const wrongChannel = alert({ level: 'critical', channel: 'chat' });
    const noChannel = alert({ level: 'critical', channel: null });
    await produce(wanted, wrongLevel, wrongChannel, noChannel);
    await eventually('all four at /all', async () => [wanted, wrongLevel, wrongChannel, noChannel].every((x) => deliveredIds('/all').includes(x.alert_id)));
    await committedAll(`notifier-test-${runId}`);
    const got = deliveredIds('/critical-phone').filter((id) => [wanted, wrongLevel, wrongChannel, noChannel].some((x) => x.alert_id === id));
    expect(got).toEqual([wanted.alert_id]);
  });

  it('never delivers an alert id twice: not when it is produced again, not when a new group replays the topic', async () => {
    const a = alert({ journey: 'flaky' });
    await produce(a);
    await eventually('first delivery', async () => deliveredIds('/all').includes(a.alert_id) && deliveredIds('/flaky').includes(a.alert_id));
    await produce(a); // the processor re-emits the same alert on a redelivered touchpoint
    await committedAll(`notifier-test-${runId}`);
    expect(deliveredIds('/all').filter((id) => id === a.alert_id)).toHaveLength(1);

    // A second notifier group reads the whole topic from the start (a replay, or offsets lost).
    const before = receiver.requests.length;
    const replayGroup = `notifier-test-${runId}-replay`;
    await startNotifier(replayGroup);
    await committedAll(replayGroup);
    const again = receiver.requests.slice(before).filter((r) => r.status === 200);
    expect(again).toEqual([]);
    // Only the deliveries that never succeeded are attempted again (and dead-lettered again).
    expect(new Set(receiver.requests.slice(before).map((r) => r.path))).toEqual(new Set(['/down', '/slow-down']));
  }, 120_000);

  it('on stop, ends a delivery waiting to retry without committing it; the next instance delivers it', async () => {
    const groupId = `notifier-test-${runId}-stop`;
    const recover = [destination('recover', { filter: { levels: null, journeys: ['recover'], channels: null }, retry: { baseMs: 60_000, capMs: 60_000, maxAttempts: 5 } })];
    const first = await startNotifier(groupId, recover);
    const a = alert({ journey: 'recover' });
    await produce(a);
    await eventually('the first attempt', async () => receiver.to('/recover').some((r) => r.headers['idempotency-key'] === a.alert_id));
    // Now waiting up to a minute before the second attempt: stop must not wait for it.
    await first.instance.stop();
    running.splice(running.indexOf(first), 1);
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitionsBehind = ends.filter((e) => e.offset !== e.low && committed!.partitions.find((p) => p.partition === e.partition)!.offset !== e.offset);
    expect(partitionsBehind.length).toBeGreaterThan(0);

    recoverUp = true;
    await startNotifier(groupId, recover);
    await eventually('delivered by the next instance', async () => deliveredIds('/recover').includes(a.alert_id));
    await committedAll(groupId);
    expect(deliveredIds('/recover').filter((id) => id === a.alert_id)).toHaveLength(1);
  }, 120_000);
});
