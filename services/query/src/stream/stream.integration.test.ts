// GET /v1/alerts/stream against real Kafka: alerts produced to a topic of this file's own reach SSE clients,
// filtered; a client resuming with Last-Event-ID gets exactly what it missed, from the buffer or from Kafka.
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Admin, Producer } from 'kafkajs';
import { codecs, type Alert } from '@touchstream/contracts';
import { createIdempotentProducer, createKafka, ensureTopics, type LogSink } from '@touchstream/kafka';
import { enforceRoles, type ModuleInstance } from '@touchstream/runtime';
import { eventually } from '@touchstream/testkit';
import { decodeCursor } from './cursor.ts';
import { createAlertStreamModule } from './module.ts';

const runId = randomUUID().slice(0, 8);
const topic = `stream-test-${runId}-alerts`;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };
const kafka = createKafka({ brokers: inject('kafkaBrokers'), clientId: `stream-test-${runId}`, log: quiet });
const readKey = 'stream-test-read-key';

let producer: Producer;
let admin: Admin;
const servers: Array<{ http: FastifyInstance; instance: ModuleInstance; url: string }> = [];

async function startServer(opts: { bufferSize?: number; maxQueuedPerClient?: number } = {}) {
  const http = Fastify({ logger: false });
  enforceRoles(http, { keys: { read: { [readKey]: 'analyst' }, write: { 'stream-test-write-key': 'web' } } });
  const module = createAlertStreamModule({ kafka, groupPrefix: `stream-test-${runId}`, log: quiet, topic, heartbeatMs: 300, ...opts });
  const instance = await module.init({ http, log: http.log });
  const url = await http.listen({ host: '127.0.0.1', port: 0 });
  await instance.start();
  const server = { http, instance, url };
  servers.push(server);
  return server;
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  // Under load the broker may answer metadata for a just-created topic with "unknown topic" for a moment.
  await eventually('the test topic', async () => {
    await ensureTopics(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
    return (await admin.fetchTopicOffsets(topic)).length === 3;
  });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
});

afterAll(async () => {
  for (const s of servers) {
    await s.http.close();
    await s.instance.stop();
  }
  await producer?.disconnect();
  await admin?.disconnect();
});

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

interface SseClient {
  status: number;
  events: SseEvent[];
  alerts(): Array<{ id: string; alert: { alert_id: string } }>;
  ended: Promise<void>;
  close(): void;
}

async function connect(url: string, headers: Record<string, string> = { authorization: `Bearer ${readKey}` }): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  let ended: Promise<void> = Promise.resolve();
  if (res.status === 200) {
    ended = (async () => {
      const decoder = new TextDecoder();
      let text = '';
      try {
        for await (const chunk of res.body!) {
          text += decoder.decode(chunk as Uint8Array, { stream: true });
          let cut: number;
          while ((cut = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            const e: SseEvent = {};
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) e.comment = line.slice(1).trim();
              const m = /^(id|event|data): ?(.*)$/.exec(line);
              if (m) e[m[1] as 'id' | 'event' | 'data'] = m[2]!;
            }
            events.push(e);
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  return {
    status: res.status,
    events,
    alerts: () => events.filter((e) => e.event === 'alert').map((e) => ({ id: e.id!, alert: JSON.parse(e.data!) })),
    ended,
    close: () => abort.abort(),
  };
}

let seq = 0;
function alert(over: Partial<Alert> = {}): Alert {
  seq++;
  return {
    alert_id: `${runId}-a${seq}`,
    customer_id: `${runId}-c${seq % 5}`,
    score: 6.5,
    score_before: 3,
    level: 'at_risk',
    signals: [{ signal_id: `s${seq}`, type: 'repeat_contact', weight: 3, event_id: `e${seq}`, explanation: '2nd contact about billing_dispute within 7 days' }],
    triggered_by: `e${seq}`,
    at: 1_764_000_000_000_000,
    rules_version: null,
    journey: 'billing_support',
    channel: 'phone',
    ...over,
  };
}

async function produce(...alerts: Alert[]) {
  await producer.send({ topic, acks: -1, messages: alerts.map((a) => ({ key: a.customer_id, value: codecs.alert.encode(a) })) });
}

const ids = (c: SseClient) => c.alerts().map((a) => a.alert.alert_id);

describe('GET /v1/alerts/stream', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });

  it('needs a read key, in the header or as ?key=, and refuses an id it did not send', async () => {
    const base = `${server.url}/v1/alerts/stream`;
    expect((await connect(base, {})).status).toBe(401);
    expect((await connect(base, { authorization: 'Bearer not-a-read-key' })).status).toBe(401);
    const bad = await fetch(`${base}?last_event_id=yesterday`, { headers: { authorization: `Bearer ${readKey}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'INVALID_PARAMETER', message: expect.stringMatching(/not an id of this stream/) });
    const viaQuery = await connect(`${base}?key=${readKey}`, {});
    expect(viaQuery.status).toBe(200);
    viaQuery.close();
  });

  it('streams an alert produced to Kafka, with a resumable id, and heartbeats', async () => {
    const client = await connect(`${server.url}/v1/alerts/stream`);
    expect(client.status).toBe(200);
    const a = alert();
    await produce(a);
    const [got] = await eventually('the alert on the stream', async () => client.alerts().length > 0 && client.alerts());
    expect(got!.alert).toMatchObject({ alert_id: a.alert_id, level: 'at_risk', journey: 'billing_support', channel: 'phone', at: '2025-11-24T16:00:00.000000Z', signals: a.signals });
    const cursor = decodeCursor(got!.id)!;
    expect([...cursor.keys()].sort()).toEqual([0, 1, 2]);
    await eventually('a heartbeat', async () => client.events.some((e) => e.comment === 'heartbeat'));
    client.close();
  });

  it('sends an alert produced again (a redelivered processor batch) only once', async () => {
    const client = await connect(`${server.url}/v1/alerts/stream`);
    const a = alert();
    const b = alert();
    // Same ids and bytes, new offsets: what the processor re-emits after a crash or rebalance.
    await produce(a, b);
    await produce(a);
    await produce(b, a);
    const marker = alert();
    await produce(marker);
    await eventually('the marker after the copies', async () => ids(client).includes(marker.alert_id));
    // Each once (alerts of different customers may arrive in either order: different partitions).
    expect(ids(client).sort()).toEqual([a.alert_id, b.alert_id, marker.alert_id].sort());
    client.close();
  });

  it('applies min_level, journey, channel and customer_id filters', async () => {
    const customer = `${runId}-filtered`;
    const client = await connect(`${server.url}/v1/alerts/stream?min_level=at_risk&journey=billing_support&channel=phone&customer_id=${customer}`);
    const wanted = [alert({ customer_id: customer, level: 'at_risk' }), alert({ customer_id: customer, level: 'critical' })];
    const unwanted = [
      alert({ customer_id: customer, level: 'watch' }),
      alert({ customer_id: customer, journey: 'checkout' }),
      alert({ customer_id: customer, channel: 'chat' }),
      alert({ customer_id: customer, journey: null }),
      alert({ customer_id: `${runId}-other`, level: 'critical' }),
    ];
    await produce(...unwanted.slice(0, 3), wanted[0]!, ...unwanted.slice(3), wanted[1]!);
    await eventually('both wanted alerts', async () => ids(client).length >= 2);
    // One more for the same customer marks the end: everything before it has been through the filter.
    const last = alert({ customer_id: customer, level: 'critical' });
    await produce(last);
    await eventually('the last alert', async () => ids(client).includes(last.alert_id));
    expect(ids(client)).toEqual([...wanted, last].map((a) => a.alert_id));
    client.close();
  });

  it('kind=kpi keeps the KPI deviation alerts, kind=customer the others', async () => {
    const series = `kpi:channel=${runId}`;
    const kpiOnly = await connect(`${server.url}/v1/alerts/stream?kind=kpi&channel=${runId}`);
    const customersOnly = await connect(`${server.url}/v1/alerts/stream?kind=customer&channel=${runId}`);
    const kpi = alert({ customer_id: series, triggered_by: 'kpi_anomaly', channel: runId, journey: null });
    // One key per stream, so each stream's alerts share a partition and arrive in order.
    const customer = alert({ customer_id: `${runId}-kind`, channel: runId });
    await produce(customer, kpi);
    // Each stream's last alert marks the end: everything before it has been through the filter.
    const kpiLast = alert({ customer_id: series, triggered_by: 'kpi_anomaly', channel: runId, journey: null });
    const customerLast = alert({ customer_id: `${runId}-kind`, channel: runId });
    await produce(kpiLast, customerLast);
    await eventually('the last alert of each', async () => ids(kpiOnly).includes(kpiLast.alert_id) && ids(customersOnly).includes(customerLast.alert_id));
    expect(ids(kpiOnly)).toEqual([kpi.alert_id, kpiLast.alert_id]);
    expect(ids(customersOnly)).toEqual([customer.alert_id, customerLast.alert_id]);
    kpiOnly.close();
    customersOnly.close();
    const bad = await fetch(`${server.url}/v1/alerts/stream?kind=customers`, { headers: { authorization: `Bearer ${readKey}` } });
    expect(bad.status).toBe(400);
  });

  it('resumes with Last-Event-ID (or ?last_event_id=) with exactly the missed alerts, then live ones', async () => {
    const customer = `${runId}-resume`;
    const filter = `customer_id=${customer}`;
    const first = await connect(`${server.url}/v1/alerts/stream?${filter}`);
    const a1 = alert({ customer_id: customer });
    await produce(a1);
    const [got] = await eventually('a1', async () => first.alerts().length > 0 && first.alerts());
    first.close();
    await first.ended;

    // Alerts of several customers, so of several partitions, while the client is away.
    const missed = [alert({ customer_id: customer }), alert({ customer_id: customer }), alert({ customer_id: customer })];
    await produce(...missed, alert({ customer_id: `${runId}-noise-1` }), alert({ customer_id: `${runId}-noise-2` }));
    await eventually('the server has the missed alerts', async () => {
      const probe = await connect(`${server.url}/v1/alerts/stream?${filter}`, { authorization: `Bearer ${readKey}`, 'last-event-id': got!.id });
      await new Promise((r) => setTimeout(r, 300));
      probe.close();
      return ids(probe).length === 3;
    });

    const resumed = await connect(`${server.url}/v1/alerts/stream?${filter}`, { authorization: `Bearer ${readKey}`, 'last-event-id': got!.id });
    const viaQuery = await connect(`${server.url}/v1/alerts/stream?${filter}&last_event_id=${encodeURIComponent(got!.id)}`);
    const live = alert({ customer_id: customer });
    await produce(live);
    for (const client of [resumed, viaQuery]) {
      await eventually('missed and live alerts', async () => ids(client).includes(live.alert_id));
      expect(ids(client)).toEqual([...missed, live].map((a) => a.alert_id));
      client.close();
    }
  });

  it('resumes an id older than its buffer (or from another instance) by reading Kafka again', async () => {
    const customer = `${runId}-replay`;
    const filter = `customer_id=${customer}`;
    const first = await connect(`${server.url}/v1/alerts/stream?${filter}`);
    const a1 = alert({ customer_id: customer });
    await produce(a1);
    const [got] = await eventually('a1', async () => first.alerts().length > 0 && first.alerts());
    first.close();
    const missed = [alert({ customer_id: customer }), alert({ customer_id: customer, level: 'critical' })];
    await produce(...missed);

    // A new instance (started after the alerts, buffer of one) knows none of them.
    const other = await startServer({ bufferSize: 1 });
    const resumed = await connect(`${other.url}/v1/alerts/stream?${filter}`, { authorization: `Bearer ${readKey}`, 'last-event-id': got!.id });
    await eventually('the missed alerts from Kafka', async () => ids(resumed).length >= 2);
    const live = [alert({ customer_id: customer }), alert({ customer_id: customer })];
    await produce(...live);
    await eventually('live alerts after the replay', async () => ids(resumed).length >= 4);
    expect(ids(resumed)).toEqual([...missed, ...live].map((a) => a.alert_id));

    // Closing the server ends the stream with a shutdown event that says where to resume.
    await other.http.close();
    await resumed.ended;
    const final = resumed.events.at(-1)!;
    expect(final.event).toBe('shutdown');
    expect(JSON.parse(final.data!).resume_with).toBe(resumed.alerts().at(-1)!.id);
  }, 120_000);
});

describe('a client that does not read', () => {
  it('is dropped with a final event saying where to resume, and the others keep streaming', async () => {
    const server = await startServer({ maxQueuedPerClient: 100 });
    const customer = `${runId}-slow`;
    // A raw socket that stops reading right after its request: the server's writes back up.
    const { port } = new URL(server.url);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /v1/alerts/stream?customer_id=${customer} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${readKey}\r\n\r\n`);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await eventually('the stream opened', async () => received.includes('retry: 2000'));
    socket.pause();
    const healthy = await connect(`${server.url}/v1/alerts/stream?customer_id=${customer}`);

    // Big alerts (about 64 KiB each) fill the socket buffers quickly. The queue bound is above one Kafka
    // fetch's worth of them (1 MiB), so a reading client keeps up with the bursts.
    const padding = 'x'.repeat(64 * 1024);
    const many = Array.from({ length: 400 }, () => alert({ customer_id: customer, signals: [{ signal_id: 's', type: 't', weight: 1, event_id: 'e', explanation: padding }] }));
    for (let i = 0; i < many.length; i += 5) await produce(...many.slice(i, i + 5)); // under the 1 MiB request limit
    await eventually('the healthy client got them all', async () => ids(healthy).length === many.length, { timeoutMs: 60_000 });
    healthy.close();

    socket.resume();
    await eventually('the dropped event', async () => received.includes('event: dropped'), { timeoutMs: 30_000 });
    const dropped = /event: dropped\ndata: (.*)\n/.exec(received)![1]!;
    expect(JSON.parse(dropped)).toMatchObject({ reason: 'client too slow: more than 100 alerts waiting', resume_with: expect.stringMatching(/^\d+:\d+/) });
    socket.destroy();
  }, 120_000);
});
