// End to end, alert delivery: touchpoints posted to ingest raise an alert in the processor, which reaches a
// webhook configured through WEBHOOKS (signed, with the journey and channel of the touchpoint) and an SSE
// client of GET /v1/alerts/stream — the whole app as `touchstream run` builds it.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { startTestReceiver, type TestReceiver } from '../services/notifier/src/test-receiver.ts';
import { verifySignature } from '../services/notifier/src/delivery.ts';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `alerts-write-${run}`;
const READ_KEY = `alerts-read-${run}`;
const JOURNEY = `alerts_e2e_${run}`;
const SECRET = `alerts-e2e-secret-${run}`;

let app: RunningApp;
let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await startTestReceiver(() => 200);
  const clickhouseUrl = inject('clickhouseUrl');
  const config = loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    REDIS_URL: inject('redisUrl'),
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: mkdtempSync(path.join(os.tmpdir(), 'alerts-e2e-chdb-')) }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${WRITE_KEY}=e2e`,
    READ_KEYS: `${READ_KEY}=analyst`,
    KAFKA_GROUP_PREFIX: `alerts-e2e-${run}`,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
    // alerts.v1 is shared with the other test files: this run's journey only.
    WEBHOOKS: JSON.stringify({
      defaults: { retry: { base_ms: 50, cap_ms: 200, max_attempts: 3 } },
      destinations: [{ name: 'e2e', url: `${receiver.url}/hook`, secret: SECRET, journeys: [JOURNEY] }],
    }),
  });
  app = await startApp(config);
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  await app?.stop();
  await receiver?.close();
});

describe('alert delivery end to end', () => {
  it('an alert raised by posted touchpoints reaches the webhook and the SSE stream, with its journey and channel', async () => {
    const customer = `alerts-e2e-${run}-c1`;
    // The stream is open before the alert exists.
    const abort = new AbortController();
    const stream = await fetch(`${app.url}/v1/alerts/stream?journey=${JOURNEY}&key=${READ_KEY}`, { signal: abort.signal });
    expect(stream.status).toBe(200);
    let text = '';
    const reading = (async () => {
      try {
        for await (const chunk of stream.body!) text += Buffer.from(chunk as Uint8Array).toString('utf8');
      } catch {
        // aborted
      }
    })();

    const now = Date.now();
    const events = [
      { customer_id: customer, occurred_at: new Date(now - 60_000).toISOString(), channel: 'email', touchpoint: 'nps_survey', initiator: 'company', journey: JOURNEY, survey: { kind: 'NPS', score: 1 } },
      { customer_id: customer, occurred_at: new Date(now - 30_000).toISOString(), channel: 'phone', touchpoint: 'billing_call', initiator: 'customer', journey: JOURNEY, sentiment: -0.9, survey: { kind: 'CSAT', score: 1 } },
    ];
    const posted = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(posted.status).toBe(202);

    const deliveries = await eventually('two webhook deliveries (watch, then at_risk)', async () => receiver.to('/hook').length >= 2 && receiver.to('/hook'), { timeoutMs: 60_000 });
    const bodies = deliveries.map((r) => JSON.parse(r.body) as { alert: { level: string; journey: string; channel: string; customer_id: string; signals: Array<{ explanation: string }> } });
    expect(bodies.map((b) => [b.alert.level, b.alert.channel, b.alert.journey, b.alert.customer_id]), JSON.stringify(bodies.map((b) => [(b.alert as unknown as { alert_id: string }).alert_id, b.alert.level, b.alert.signals.map((s) => s.explanation)]))).toEqual([
      ['watch', 'email', JOURNEY, customer],
      ['at_risk', 'phone', JOURNEY, customer],
    ]);
    expect(bodies[1]!.alert.signals.map((s) => s.explanation).join(' ')).toMatch(/sentiment/);
    for (const r of deliveries) {
      expect(verifySignature(SECRET, { signature: String(r.headers['x-touchstream-signature']), timestamp: String(r.headers['x-touchstream-timestamp']) }, r.body)).toBe(true);
    }

    await eventually('both alerts on the stream', async () => (text.match(/event: alert/g) ?? []).length >= 2);
    const streamed = [...text.matchAll(/event: alert\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!) as { alert_id: string });
    expect(streamed.map((a) => a.alert_id)).toEqual(bodies.map((b) => (b.alert as unknown as { alert_id: string }).alert_id));
    abort.abort();
    await reading;
  }, 120_000);
});
