// The route without a reachable Kafka: everything decided before producing (auth, content type, limits, JSON
// syntax) and the 503 a disconnected producer leads to. The paths that reach Kafka are in
// ingest.integration.test.ts, against a real broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { createIdempotentProducer, createKafka, type LogSink } from '@touchstream/kafka';
import { enforceRoles } from '@touchstream/runtime';
import { ingestPlugin } from './plugin.ts';
import { createIngestModule } from './module.ts';

const quiet: LogSink = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
// A real kafkajs producer that is never connected: send() fails at once, as after a disconnect.
const producer = createIdempotentProducer(createKafka({ brokers: ['127.0.0.1:9'], log: quiet }));
const auth = { authorization: 'Bearer web-key-123' };
const event = { customer_id: 'c-1', occurred_at: '2026-01-31T09:30:00Z', channel: 'web', touchpoint: 'home', initiator: 'customer' };
let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  // The process's role check, as the server installs it (the route declares role `write`).
  enforceRoles(app, { keys: { write: { 'web-key-123': 'web' }, read: { 'read-key-123': 'analyst' } } });
  await app.register(
    ingestPlugin({
      producer,
      limits: { maxEventsPerRequest: 3, maxBodyBytes: 2048, sendTimeoutMs: 2000, retryAfterSeconds: 7 },
      log: quiet,
    }),
  );
  await app.ready();
});
afterAll(() => app.close());

const post = (payload: string | object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...auth, ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

describe('POST /v1/events before Kafka', () => {
  it('wants a write key, and says how to pass it', async () => {
    const missing = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.json()).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('send a write key as "Authorization: Bearer <key>"') });

    const unknown = await post(event, { authorization: 'Bearer not-a-key' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().message).toMatch(/unknown key/);

    // A read key is known, but not a write key.
    const readKey = await post(event, { authorization: 'Bearer read-key-123' });
    expect(readKey.statusCode).toBe(403);
    expect(readKey.json()).toEqual({ code: 'FORBIDDEN', message: expect.stringMatching(/needs a write key; the key sent is a read key/) });

    // HTTP Basic: the key as user name and an empty password (Segment's libraries), nothing else.
    const withPassword = await post(event, { authorization: `Basic ${Buffer.from('web:key').toString('base64')}` });
    expect(withPassword.statusCode).toBe(401);
    expect(withPassword.json().message).toMatch(/key as user name and an empty password/);
    const segment = await post(event, { authorization: `Basic ${Buffer.from('web-key-123:').toString('base64')}` });
    expect(segment.statusCode).toBe(503); // past the key check: this producer is not connected
  });

  it('checks the key before reading the body', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'text/csv' }, payload: 'a,b' });
    expect(res.statusCode).toBe(401);
  });

  it('answers 415 with the accepted media types', async () => {
    const res = await post('customer_id=c-1', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: expect.stringContaining("'text/plain' is not accepted"),
      supported: ['application/json', 'application/x-ndjson', 'application/ndjson'],
    });
  });

  it('answers 413 for a body over the byte limit, saying the limit', async () => {
    const res = await post([{ ...event, attributes: { blob: 'x'.repeat(3000) } }]);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ code: 'BODY_TOO_LARGE', message: expect.stringContaining('2 KiB (2048 bytes)'), limit: 2048 });
  });

  it('answers 413 TOO_MANY_EVENTS above the event limit, for arrays and NDJSON', async () => {
    const array = await post([event, event, event, event]);
    expect(array.statusCode).toBe(413);
    expect(array.json()).toEqual({ code: 'TOO_MANY_EVENTS', message: expect.stringContaining('4 events; at most 3'), limit: 3 });
    const lines = await post(Array(4).fill(JSON.stringify(event)).join('\n'), { 'content-type': 'application/x-ndjson' });
    expect(lines.statusCode).toBe(413);
    expect(lines.json().code).toBe('TOO_MANY_EVENTS');
  });

  it('answers 400 INVALID_JSON with the position, even while Kafka is away', async () => {
    const res = await post('[{"customer_id": "c-1",}]');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_JSON', position: 23, line: 1, column: 24 });
    expect(res.json().message).toMatch(/not valid JSON/);
  });

  it('answers 400 EMPTY_BATCH for no events', async () => {
    for (const payload of ['[]', '']) {
      const res = await post(payload);
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().code).toBe('EMPTY_BATCH');
    }
    const blankLines = await post('\n\n', { 'content-type': 'application/x-ndjson' });
    expect(blankLines.json().code).toBe('EMPTY_BATCH');
  });

  it('answers 503 with Retry-After when Kafka cannot take the events, never 202', async () => {
    const res = await post([event, { ...event, customer_id: 7 }]);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json()).toEqual({ code: 'KAFKA_UNAVAILABLE', message: expect.stringContaining('Retry after 7 s') });
    // Even a batch with no valid event waits for its dead letters to be kept.
    const allInvalid = await post({ customer_id: 'c-1' });
    expect(allInvalid.statusCode).toBe(503);
  });

  it('leaves the rest of the server alone', async () => {
    const outer = Fastify();
    enforceRoles(outer, { keys: { write: { k: 'web' } } });
    outer.post('/other', { config: { role: 'public' } }, async (req) => ({ body: req.body }));
    await outer.register(ingestPlugin({ producer, log: quiet }));
    // The default JSON parser outside the ingest plugin.
    const res = await outer.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
    expect(res.json()).toEqual({ body: { a: 1 } });
    await outer.close();
  });
});

describe('createIngestModule', () => {
  it('registers the route and is not ready while the producer is not connected', async () => {
    const http = Fastify();
    enforceRoles(http, { keys: { write: { k: 'web' } } });
    const module = createIngestModule({ producer, log: quiet });
    expect(module).toMatchObject({ name: 'ingest', deps: [] });
    const instance = await module.init({ http, log: http.log });
    await instance.start();
    expect(instance.ready()).toEqual({ ready: false, reason: expect.stringMatching(/not connected/) });
    const res = await http.inject({ method: 'POST', url: '/v1/events', payload: {} });
    expect(res.statusCode).toBe(401);
    await instance.stop();
    await http.close();
  });
});

describe('the Segment routes before Kafka', () => {
  const track = { userId: 'c-1', event: 'Signed Up' };
  const segmentPost = (payload: object, headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/v1/track', headers, payload: JSON.stringify(payload) });

  it('take the write key as Basic user, or as writeKey in a text/plain body (the browser library), and refuse others', async () => {
    const basic = await segmentPost(track, { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('web-key-123:').toString('base64')}` });
    // Past authentication: the unreachable Kafka answers.
    expect(basic.statusCode).toBe(503);
    const inBody = await segmentPost({ ...track, writeKey: 'web-key-123' }, { 'content-type': 'text/plain;charset=UTF-8' });
    expect(inBody.statusCode).toBe(503);

    const unknown = await segmentPost({ ...track, writeKey: 'nope-nope' }, { 'content-type': 'text/plain' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.headers['www-authenticate']).toMatch(/^Basic/);
    expect(unknown.json().message).toMatch(/writeKey/);
    const none = await segmentPost(track, { 'content-type': 'application/json' });
    expect(none.statusCode).toBe(401);
    const wrongBasic = await segmentPost(track, { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('nope-nope:').toString('base64')}` });
    expect(wrongBasic.statusCode).toBe(401);
    expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('read text/plain only for themselves: /v1/events still answers 415', async () => {
    const res = await post(event, { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    const xml = await segmentPost(track, { 'content-type': 'application/xml', authorization: 'Bearer web-key-123' });
    expect(xml.statusCode).toBe(415);
  });
});
