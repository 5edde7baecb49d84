// POST /v1/events against a real Kafka: the test stack's (vitest globalSetup provides `kafkaBrokers`), or the one
// KAFKA_BROKERS names. Isolated by topics of its own, so other test files' consumers never see these events.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { createIdempotentProducer, createKafka, ensureTopics, type LogSink } from '@touchstream/kafka';
import { enforceRoles } from '@touchstream/runtime';
import { codecs, type DeadLetter, type TouchpointEvent } from '@touchstream/contracts';
import type { ModuleInstance } from '@touchstream/runtime';
import { createIngestModule } from './module.ts';
import { ingestPlugin } from './plugin.ts';

const brokers = inject('kafkaBrokers');
if (!brokers?.length) {
  console.warn('ingest integration tests skipped: no Kafka (run them in the `integration` vitest project, which starts the test stack, or set KAFKA_BROKERS=host:port)');
}

const runId = randomBytes(4).toString('hex');
const topics = { touchpoints: `ingest-test-${runId}-touchpoints`, invalid: `ingest-test-${runId}-invalid` };
/**
 * Never created: the producer (no auto-creation) keeps retrying its metadata, as when partitions have no leader,
 * so the acknowledgement does not come in time.
 */
const missingTopic = `ingest-test-${runId}-missing`;
const quiet: LogSink = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const writeKeys = { 'web-key-0123456789': 'web', 'ivr-key-0123456789': 'ivr' };
const web = { authorization: 'Bearer web-key-0123456789' };

interface Received {
  key: string;
  headers: Record<string, string>;
  value: Buffer;
}

describe.skipIf(!brokers?.length)('POST /v1/events with Kafka', () => {
  const kafka = createKafka({ brokers: brokers ?? [], clientId: `ingest-test-${runId}`, log: quiet });
  const producer = createIdempotentProducer(kafka);
  const consumer = kafka.consumer({ groupId: `ingest-test-${runId}`, maxWaitTimeInMs: 100 });
  const received: Record<string, Received[]> = { [topics.touchpoints]: [], [topics.invalid]: [] };
  let app: FastifyInstance;
  let ingest: ModuleInstance;
  let readyBeforeConnect: { ready: boolean; reason?: string };

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic: topics.touchpoints, numPartitions: 3, replicationFactor: 1 },
      { topic: topics.invalid, numPartitions: 1, replicationFactor: 1 },
    ]);
    await admin.disconnect();

    app = Fastify();
    enforceRoles(app, { keys: { write: writeKeys } });
    // As in the composition root: the module exists (and listens to the producer) before the producer connects.
    const module = createIngestModule({ producer, topics, limits: { maxEventsPerRequest: 50, maxBodyBytes: 64 * 1024 }, log: quiet });
    ingest = await module.init({ http: app, log: app.log });
    await ingest.start();
    readyBeforeConnect = ingest.ready();
    await producer.connect();
    await app.ready();

    await consumer.connect();
    await consumer.subscribe({ topics: Object.values(topics), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        received[topic]!.push({ key: message.key!.toString(), headers, value: message.value! });
      },
    });
  });

  afterAll(async () => {
    await consumer.disconnect();
    await ingest?.stop();
    await app?.close();
    await producer.disconnect();
  });

  const post = (payload: string | object, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', ...web, ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  const event = (customerId: string, fields: Record<string, unknown> = {}) => ({
    customer_id: customerId,
    occurred_at: new Date(Date.now() - 60_000).toISOString(),
    channel: 'web',
    touchpoint: 'checkout_page',
    initiator: 'customer',
    ...fields,
  });

  async function eventually<T>(what: string, read: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = read();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function touchpointsOf(customerPrefix: string): Array<{ key: string; headers: Record<string, string>; event: TouchpointEvent }> {
    return received[topics.touchpoints]!
      .filter((m) => m.key.startsWith(customerPrefix))
      .map((m) => ({ key: m.key, headers: m.headers, event: codecs.touchpoint.decode(m.value) }));
  }

  function deadLettersWhere(match: (d: DeadLetter) => boolean): DeadLetter[] {
    return received[topics.invalid]!.map((m) => codecs.deadLetter.decode(m.value)).filter(match);
  }

  const atLeast = <T>(n: number, items: T[]) => (items.length >= n ? items : undefined);

  it('follows the producer connection for readiness', () => {
    expect(readyBeforeConnect).toMatchObject({ ready: false });
    expect(ingest.ready()).toEqual({ ready: true });
  });

  it('accepts the valid events of a mixed batch and dead-letters the rest with reasons', async () => {
    const c = `mixed-${runId}-`;
    const batch = [
      event(`${c}1`, { event_id: `${c}evt-1`, outcome: 'abandoned', attributes: { cart: '3' } }),
      event(`${c}2`, { customer_id: 42, session_id: `${c}2` }), // wrong type
      { occurred_at: '2026-01-31T09:30:00Z', channel: 'web', touchpoint: 'home', initiator: 'customer', session_id: `${c}no-customer` }, // missing customer_id
      event(`${c}3`, { sentiment: 'very bad', initiator: 'bot' }), // wrong types
      event(`${c}4`),
    ];
    const res = await post(batch);
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.event_ids).toHaveLength(2);
    expect(body.event_ids[0]).toBe(`${c}evt-1`);
    expect(body.rejected).toEqual([
      { index: 1, errors: ['customer_id: must be string'] },
      { index: 2, errors: ['customer_id: is required'] },
      { index: 3, errors: expect.arrayContaining(['sentiment: must be number', 'initiator: must be one of customer, company']) },
    ]);

    const arrived = await eventually('2 touchpoints', () => atLeast(2, touchpointsOf(c)));
    expect(arrived).toHaveLength(2);
    const byCustomer = Object.fromEntries(arrived.map((a) => [a.key, a]));
    expect(byCustomer[`${c}1`]!.event).toMatchObject({ event_id: `${c}evt-1`, customer_id: `${c}1`, outcome: 'abandoned', attributes: { cart: '3' } });
    expect(byCustomer[`${c}1`]!.headers).toEqual({ source: 'web' });
    expect(byCustomer[`${c}4`]!.event.event_id).toBe(body.event_ids[1]);
    expect(byCustomer[`${c}4`]!.event.received_at).toBeGreaterThan(byCustomer[`${c}4`]!.event.occurred_at);

    const deadLetters = await eventually('3 dead letters', () =>
      atLeast(3, deadLettersWhere((d) => d.payload.toString().includes(c))),
    );
    expect(deadLetters.map((d) => d.request_index).sort()).toEqual([1, 2, 3]);
    for (const d of deadLetters) {
      expect(d).toMatchObject({ source: 'web', stage: 'ingest', content_type: 'application/json' });
      expect(d.reasons).toEqual(body.rejected.find((r: { index: number }) => r.index === d.request_index).errors);
      expect(JSON.parse(d.payload.toString())).toEqual(batch[d.request_index!]);
    }
    const invalidKeys = received[topics.invalid]!.filter((m) => m.value.toString('latin1').includes(c)).map((m) => m.key);
    expect(new Set(invalidKeys)).toEqual(new Set(['web']));
  });

  it('reads NDJSON line by line: blank lines ignored, a malformed line rejected alone', async () => {
    const c = `ndjson-${runId}-`;
    const lines = [JSON.stringify(event(`${c}1`)), '', `{"customer_id": "${c}broken", `, JSON.stringify(event(`${c}2`))];
    const res = await post(lines.join('\n') + '\n', { 'content-type': 'application/x-ndjson', authorization: 'Bearer ivr-key-0123456789' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: [{ index: 2, errors: [expect.stringMatching(/^line 3: invalid JSON/)] }] });

    const arrived = await eventually('2 touchpoints', () => atLeast(2, touchpointsOf(c)));
    expect(arrived.map((a) => a.headers.source)).toEqual(['ivr', 'ivr']);
    const [deadLetter] = await eventually('the broken line', () => atLeast(1, deadLettersWhere((d) => d.payload.toString().includes(`${c}broken`))));
    expect(deadLetter).toMatchObject({ source: 'ivr', request_index: 2, content_type: 'application/x-ndjson' });
    expect(deadLetter!.payload.toString()).toBe(lines[2]);
  });

  it('answers 400 when no event is valid, and still dead-letters them', async () => {
    const c = `none-${runId}-`;
    const res = await post(event(`${c}1`, { occurred_at: 'yesterday' }));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      code: 'NO_VALID_EVENTS',
      message: expect.any(String),
      accepted: 0,
      rejected: [{ index: 0, errors: [expect.stringMatching(/^occurred_at/)] }],
      event_ids: [],
    });
    await eventually('its dead letter', () => atLeast(1, deadLettersWhere((d) => d.payload.toString().includes(c))));
  });

  it('answers 400 INVALID_JSON with the position for a malformed body, and keeps the body', async () => {
    const c = `malformed-${runId}-`;
    const text = `[{"customer_id": "${c}1", "channel": web}]`;
    const res = await post(text);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ code: 'INVALID_JSON', position: text.indexOf('web}'), line: 1 });
    const [deadLetter] = await eventually('the body', () => atLeast(1, deadLettersWhere((d) => d.payload.toString().includes(c))));
    expect(deadLetter).toMatchObject({ request_index: null, payload: Buffer.from(text) });
  });

  it('refuses oversized bodies, unknown content types and missing or wrong keys before producing', async () => {
    const c = `refused-${runId}-`;
    const big = await post([event(`${c}1`, { attributes: { blob: 'x'.repeat(70 * 1024) } })]);
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'BODY_TOO_LARGE', limit: 64 * 1024 });
    const tooMany = await post(Array.from({ length: 51 }, (_, i) => event(`${c}${i}`)));
    expect(tooMany.json()).toMatchObject({ code: 'TOO_MANY_EVENTS', limit: 50 });
    const csv = await post(`customer_id\n${c}1`, { 'content-type': 'text/csv' });
    expect(csv.statusCode).toBe(415);
    const noKey = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(event(`${c}1`)) });
    expect(noKey.statusCode).toBe(401);
    const wrongKey = await post(event(`${c}1`), { authorization: 'Bearer read-key-is-not-a-write-key' });
    expect(wrongKey.statusCode).toBe(401);

    // A marker request after them: once it has arrived, anything the refused requests produced would have too.
    const marker = await post(event(`${c}marker`));
    expect(marker.statusCode).toBe(202);
    await eventually('the marker', () => atLeast(1, touchpointsOf(`${c}marker`)));
    expect(touchpointsOf(c).map((t) => t.key)).toEqual([`${c}marker`]);
    expect(deadLettersWhere((d) => d.payload.toString().includes(c))).toEqual([]);
  });

  it('answers 503 with Retry-After when Kafka does not acknowledge in time', async () => {
    const stuck = Fastify();
    enforceRoles(stuck, { keys: { write: writeKeys } });
    await stuck.register(
      ingestPlugin({ producer, topics: { touchpoints: missingTopic, invalid: topics.invalid }, limits: { sendTimeoutMs: 1500 }, log: quiet }),
    );
    const started = Date.now();
    const res = await stuck.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...web }, payload: JSON.stringify(event(`stuck-${runId}`)) });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ code: 'KAFKA_UNAVAILABLE', message: expect.stringContaining('within 1500 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - started).toBeLessThan(5_000);
    await stuck.close();
  });

  it('refuses at once with 503 KAFKA_BACKLOG_FULL while its in-flight bound is taken by sends Kafka has not acknowledged', async () => {
    // A producer of its own: its send to the never-created topic keeps retrying after the 503 and holds the bound.
    const stuckProducer = createIdempotentProducer(kafka);
    await stuckProducer.connect();
    const stuck = Fastify();
    enforceRoles(stuck, { keys: { write: writeKeys } });
    await stuck.register(
      ingestPlugin({ producer: stuckProducer, topics: { touchpoints: missingTopic, invalid: topics.invalid }, limits: { sendTimeoutMs: 500, maxInFlightBytes: 1 }, log: quiet }),
    );
    const send = () => stuck.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...web }, payload: JSON.stringify(event(`backlog-${runId}`)) });
    const first = await send();
    expect(first.statusCode).toBe(503);
    expect(first.json()).toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    const started = Date.now();
    const second = await send();
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('5');
    expect(second.json()).toMatchObject({ code: 'KAFKA_BACKLOG_FULL' });
    console.log(`backlog full: refused in ${Date.now() - started} ms (send timeout 500 ms)`);
    await stuck.close();
    await Promise.race([stuckProducer.disconnect(), new Promise((r) => setTimeout(r, 5000))]);
  });

  it('is not ready once the producer disconnects', async () => {
    await producer.disconnect();
    expect(ingest.ready()).toMatchObject({ ready: false });
    const res = await post(event(`late-${runId}`));
    expect(res.statusCode).toBe(503);
  });
});
