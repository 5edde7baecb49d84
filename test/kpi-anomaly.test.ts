// End to end, KPI deviation alerts (docs/architecture.md §21): the whole app as `touchstream run` builds it (the
// `anomaly` target among the others). Half an hour of checkouts posted to ingest (10 % abandoned) is stored by the
// sink; the rules file is then edited to turn anomalies on, so the detector warm-starts its baseline from what
// ClickHouse holds (§21.1) instead of waiting for min_history. A minute with 60 % abandonment posted next raises a
// `kpi_anomaly` alert that arrives on alerts.v1, in GET /v1/alerts (through the sink), on the live SSE stream and at
// a notifier webhook. Short baseline knobs (min_history 20m, recent_half_life 5m) keep the test to minutes of data.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecs, type Alert } from '@touchstream/contracts';
import { createKafka, topicNames, type LogSink } from '@touchstream/kafka';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { startTestReceiver, type TestReceiver } from '../services/notifier/src/test-receiver.ts';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `kpi-write-${run}`;
const READ_KEY = `kpi-read-${run}`;
// A touchpoint of this run's own: the topics, the alerts table and the webhook are shared with other test files.
const TOUCHPOINT = `checkout_${run}`;
const SERIES = `kpi:touchpoint=${TOUCHPOINT}`;
const MINUTE_MS = 60_000;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };

const dir = mkdtempSync(path.join(os.tmpdir(), 'kpi-e2e-'));
const rulesFile = path.join(dir, 'rules.yaml');
const rules = (enabled: boolean) =>
  [
    'version: kpi-e2e',
    'anomalies:',
    `  enabled: ${enabled}`,
    '  dimensions: [touchpoint]',
    '  windows: [1m]',
    '  min_history: 20m',
    '  recent_half_life: 5m',
    '  lateness: 2s',
    '  metrics:',
    '    abandonment_rate: { threshold: 4.5, min_change: 0.5, min_count: 20 }',
  ].join('\n');

let app: RunningApp;
let receiver: TestReceiver;
const kafka = createKafka({ brokers: inject('kafkaBrokers'), clientId: `kpi-e2e-${run}`, log: quiet });
const onTopic: Alert[] = [];
let reader: ReturnType<typeof kafka.consumer> | undefined;

beforeAll(async () => {
  writeFileSync(rulesFile, rules(false));
  receiver = await startTestReceiver(() => 200);
  const clickhouseUrl = inject('clickhouseUrl');
  const config = loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    REDIS_URL: inject('redisUrl'),
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: path.join(dir, 'chdb') }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${WRITE_KEY}=e2e`,
    READ_KEYS: `${READ_KEY}=analyst`,
    KAFKA_GROUP_PREFIX: `kpi-e2e-${run}`,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
    RULES_FILE: rulesFile,
    WEBHOOKS: JSON.stringify({
      defaults: { retry: { base_ms: 50, cap_ms: 200, max_attempts: 3 } },
      destinations: [{ name: 'kpi', url: `${receiver.url}/hook`, secret: `kpi-e2e-secret-${run}` }],
    }),
  });
  app = await startApp(config);
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
  reader = kafka.consumer({ groupId: `kpi-e2e-${run}-reader` });
  await reader.connect();
  await reader.subscribe({ topic: topicNames.alerts, fromBeginning: false });
  await reader.run({ eachMessage: async ({ message }) => void onTopic.push(codecs.alert.decode(message.value!)) });
}, 180_000);

afterAll(async () => {
  await reader?.disconnect();
  await app?.stop();
  await receiver?.close();
});

/** 30 checkouts in one minute, half on web: every 10th abandoned, or in the degraded minute the first 18 (60 %). */
function minuteOf(minuteStartMs: number, degraded: boolean) {
  return Array.from({ length: 30 }, (_, i) => ({
    customer_id: `kpi-e2e-${run}-${i % 12}`,
    occurred_at: new Date(minuteStartMs + i * 1500).toISOString(),
    channel: i % 2 === 0 ? 'web' : 'mobile_app',
    touchpoint: TOUCHPOINT,
    initiator: 'customer',
    journey: 'purchase',
    outcome: (degraded ? i < 18 : i % 10 === 0) ? 'abandoned' : 'completed',
  }));
}

async function post(events: object[]) {
  const r = await fetch(`${app.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(r.status, await r.text()).toBe(202);
}

const get = (url: string) => fetch(`${app.url}${url}`, { headers: { authorization: `Bearer ${READ_KEY}` } });

describe('KPI deviation alerts end to end', () => {
  it('a degradation in posted traffic raises a kpi_anomaly alert on alerts.v1, in /v1/alerts, on the SSE stream and at a webhook', async () => {
    // 1. History: 30 minutes ending 5 minutes ago, stored by the sink while anomalies are still off.
    const thisMinute = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const historyFrom = thisMinute - 35 * MINUTE_MS;
    for (let m = 0; m < 30; m++) await post(minuteOf(historyFrom + m * MINUTE_MS, false));
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    await eventually('the history in ClickHouse', async () => {
      const r = await get(`/v1/kpis?from=${iso(historyFrom - 3_600_000)}&to=${iso(thisMinute + 3_600_000)}&interval=hour&by=touchpoint`);
      if (r.status !== 200) throw new Error(`kpis answered ${r.status}: ${await r.text()}`);
      const k = (await r.json()) as { buckets: Array<{ key?: string; events: number }> };
      return k.buckets.filter((b) => b.key === TOUCHPOINT).reduce((n, b) => n + b.events, 0) === 900;
    }, { timeoutMs: 120_000 });

    // 2. The live stream is open before the anomaly exists.
    const abort = new AbortController();
    const stream = await fetch(`${app.url}/v1/alerts/stream?key=${READ_KEY}`, { signal: abort.signal });
    expect(stream.status).toBe(200);
    let text = '';
    const reading = (async () => {
      try {
        for await (const chunk of stream.body!) text += Buffer.from(chunk as Uint8Array).toString('utf8');
      } catch {
        // aborted
      }
    })();

    // 3. Anomalies turned on in the rules file (reloaded on change): the detector warm-starts from the stored history.
    writeFileSync(rulesFile, rules(true));

    // 4. The degraded minute: the last whole minute, after the warm start's cut (two minutes before it runs).
    // The cut is at most the minute before the last whole one, whenever the warm start runs from now on.
    await post(minuteOf(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - MINUTE_MS, true));

    // alerts.v1
    const alert = await eventually('the kpi_anomaly alert on alerts.v1', async () => onTopic.find((a) => a.customer_id === SERIES), { timeoutMs: 120_000 });
    expect(alert).toMatchObject({ triggered_by: 'kpi_anomaly', rules_version: expect.stringContaining('kpi-e2e') });
    expect(alert.signals[0]!.explanation).toMatch(new RegExp(`^abandonment_rate at touchpoint=${TOUCHPOINT}: observed 60\\.0 % vs expected (9|10|11)\\.\\d %`));
    const detail = JSON.parse(alert.signals.find((s) => s.type === 'kpi_anomaly_detail')!.explanation) as { expected: number; observed: number; contributions: Array<{ dimension: string; value: string }> };
    expect(detail.observed).toBeCloseTo(0.6, 4);
    expect(detail.expected).toBeCloseTo(0.1, 1);
    // The degraded minute was spread evenly: both channels share it, each ~half.
    expect(detail.contributions.map((c) => `${c.dimension}=${c.value}`).sort()).toEqual(['channel=mobile_app', 'channel=web', 'journey=purchase']);

    // The notifier's webhook.
    type Delivered = { alert: { alert_id: string; customer_id: string; triggered_by: string } };
    const delivered = await eventually(
      'the webhook delivery',
      async () => receiver.to('/hook').map((r) => JSON.parse(r.body) as Delivered).find((b) => b.alert.alert_id === alert.alert_id),
      { timeoutMs: 60_000 },
    );
    expect(delivered.alert).toMatchObject({ customer_id: SERIES, triggered_by: 'kpi_anomaly' });

    // The live SSE stream.
    await eventually('the SSE event', async () => text.includes(alert.alert_id), { timeoutMs: 60_000 });
    abort.abort();
    await reading;

    // GET /v1/alerts, through the sink's alerts table.
    const listed = await eventually('the alert in /v1/alerts', async () => {
      const r = await get(`/v1/alerts?customer_id=${encodeURIComponent(SERIES)}&from=${iso(historyFrom - 3_600_000)}`);
      if (r.status !== 200) throw new Error(`alerts answered ${r.status}: ${await r.text()}`);
      const body = (await r.json()) as { alerts: Array<{ alert_id: string; triggered_by: string; score: number }> };
      return body.alerts.find((a) => a.alert_id === alert.alert_id);
    }, { timeoutMs: 60_000 });
    expect(listed.triggered_by).toBe('kpi_anomaly');
    expect(listed.score).toBeGreaterThanOrEqual(4.5);
  }, 600_000);
});
