// KPI deviation alerts on the real Kafka (docs/architecture.md §21): touchpoints produced to a topic of this file's
// own, an hour of normal traffic then a 3× abandonment spike at one touchpoint; the runner's consumer group raises one
// kpi_anomaly Alert on the alerts topic (the same Avro record and producer path as alerts.v1), with the figures and
// the contribution of the channel that carries the spike. The stream then goes quiet: the wall-clock tick closes the
// last minutes.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecs, type Alert } from '@touchstream/contracts';
import { createIdempotentProducer, createKafka, ensureTopics, type LogSink } from '@touchstream/kafka';
import { eventually, MINUTE_MS, touchpoint } from '@touchstream/testkit';
import { defaultKpiAnomalyConfig, type KpiAnomalyConfig } from './detector.ts';
import { createKpiAnomalyRunner, type KpiAnomalyRunner } from './runner.ts';

const runId = randomUUID().slice(0, 8);
const touchpointsTopic = `kpi-test-${runId}-touchpoints`;
const alertsTopic = `kpi-test-${runId}-alerts`;
const deadLetterTopic = `kpi-test-${runId}-deadletters`;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };
const kafka = createKafka({ brokers: inject('kafkaBrokers'), clientId: `kpi-test-${runId}`, log: quiet });

type Kafka = ReturnType<typeof createKafka>;
let admin: ReturnType<Kafka['admin']>;
let producer: ReturnType<typeof createIdempotentProducer>;
let consumer: ReturnType<Kafka['consumer']>;
let runner: KpiAnomalyRunner | undefined;
const alerts: Alert[] = [];

const config: KpiAnomalyConfig = {
  ...defaultKpiAnomalyConfig,
  enabled: true,
  dimensions: ['touchpoint', 'channel'],
  metrics: { abandonment_rate: { threshold: 5, minChange: 0.5, direction: 'up', minCount: 30 } },
  windowsMinutes: [1],
  minHistoryMinutes: 30,
  latenessMs: 1000,
};

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await eventually('the test topics', async () => {
    await ensureTopics(admin, [
      { topic: touchpointsTopic, numPartitions: 3, replicationFactor: 1 },
      { topic: alertsTopic, numPartitions: 1, replicationFactor: 1 },
      { topic: deadLetterTopic, numPartitions: 1, replicationFactor: 1 },
    ]);
    return (await admin.fetchTopicOffsets(touchpointsTopic)).length === 3 && (await admin.fetchTopicOffsets(alertsTopic)).length === 1;
  });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  consumer = kafka.consumer({ groupId: `kpi-test-${runId}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: alertsTopic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void alerts.push(codecs.alert.decode(message.value!)) });
});

afterAll(async () => {
  await runner?.stop();
  await consumer?.disconnect();
  await producer?.disconnect();
  await admin?.disconnect();
});

describe('KPI anomaly runner on Kafka', () => {
  it('raises a kpi_anomaly alert when abandonment at one touchpoint jumps in live traffic', async () => {
    runner = createKpiAnomalyRunner({
      kafka, producer, groupId: `kpi-test-${runId}`, log: quiet, config, rulesVersion: 'kpi-test',
      touchpointsTopic, alertsTopic, deadLetterTopic, fromBeginning: true, tickMs: 200,
    });
    await runner.start();

    // 45 minutes of 60 checkouts a minute at 10 % abandonment (half on web, half on mobile_app), then two minutes
    // at 55 %: every web checkout abandoned, mobile_app as before (3 of 30). Event times end a minute ago, so the quiet-stream tick closes them.
    const start = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 48 * MINUTE_MS;
    const messages = [];
    for (let m = 0; m < 47; m++) {
      const spike = m >= 45;
      for (let i = 0; i < 60; i++) {
        const web = i % 2 === 0;
        const abandoned = spike ? web || i >= 54 : i % 10 === 0;
        const e = touchpoint(`kpi-${runId}-${m}-${i}`, start + m * MINUTE_MS + i * 900, {
          touchpoint: 'checkout_page', channel: web ? 'web' : 'mobile_app', journey: 'purchase', outcome: abandoned ? 'abandoned' : 'completed',
        });
        messages.push({ key: e.customer_id, value: codecs.touchpoint.encode(e) });
      }
    }
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: touchpointsTopic, messages: messages.slice(i, i + 500) });

    const alert = await eventually('a kpi_anomaly alert for checkout_page', async () => alerts.find((a) => a.customer_id === 'kpi:touchpoint=checkout_page'), { timeoutMs: 60_000 });
    expect(alert).toMatchObject({ triggered_by: 'kpi_anomaly', rules_version: 'kpi-test', channel: null });
    expect(alert.signals[0]!.type).toBe('kpi_anomaly');
    expect(alert.signals[0]!.explanation).toMatch(/^abandonment_rate at touchpoint=checkout_page: observed 55\.0 % vs expected (9|10)\.\d %/);
    const detail = JSON.parse(alert.signals.find((s) => s.type === 'kpi_anomaly_detail')!.explanation) as { window_start: string; observed: number; expected: number; contributions: Array<{ dimension: string; value: string; share: number }> };
    // The first spike minute is the one reported (the second is within the cooldown).
    expect(detail.window_start).toBe(new Date(start + 45 * MINUTE_MS).toISOString());
    expect(detail.expected).toBeCloseTo(0.1, 2);
    expect(detail.observed).toBeCloseTo(0.55, 4);
    // 30 abandonments on web where 3 were expected, 3 on mobile where 3 were: web explains all of it.
    expect(detail.contributions[0]).toMatchObject({ dimension: 'channel', value: 'web' });
    expect(detail.contributions[0]!.share).toBeGreaterThan(0.9);
    expect(alert.score).toBeGreaterThanOrEqual(5);
    // The channel series moved too (web's abandonment rose from 20 % to 100 %); mobile_app did not.
    await eventually('the web channel alert', async () => alerts.find((a) => a.customer_id === 'kpi:channel=web'), { timeoutMs: 10_000 });
    expect(alerts.some((a) => a.customer_id === 'kpi:channel=mobile_app')).toBe(false);
    // A burst produced at once reaches the partitions' batches in any order: every partition is known from the start
    // and holds stream time back until heard from, so no minute closed before all three had delivered it (§21).
    expect(runner.detector.stats.lateTouchpoints).toBe(0);
  }, 120_000);

  it('says in the log when a second instance joins its group (each would count only its partitions)', async () => {
    const errors: string[] = [];
    const log: LogSink = { ...quiet, error: (_obj, msg) => void errors.push(msg ?? '') };
    const groupId = `kpi-test-${runId}-pair`;
    const pair = [0, 1].map(() =>
      createKpiAnomalyRunner({
        kafka, producer, groupId, log, config, rulesVersion: 'kpi-test',
        touchpointsTopic, alertsTopic, deadLetterTopic, tickMs: 200, membershipCheckMs: 300,
      }),
    );
    try {
      for (const r of pair) await r.start();
      await eventually('the several-members error', async () => errors.some((m) => /several members/.test(m)), { timeoutMs: 60_000 });
    } finally {
      for (const r of pair) await r.stop();
    }
  }, 120_000);
});
