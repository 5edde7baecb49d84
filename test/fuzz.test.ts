// Fuzz: property-based inputs (fast-check) against the running ingest — the real executable
// (`touchstream run --target ingest`) as a child process, a real HTTP port, the shared test stack's Kafka.
// At least 10,000 generated requests: random, truncated and deeply nested JSON, huge strings and arrays,
// binary and invalid UTF-8, duplicate keys, `__proto__` / `constructor` keys, timestamps far in the past or
// future, NaN / Infinity, numbers as strings, wrong content types, and mixed batches of valid and invalid
// events. Every answer must be 2xx or a 4xx with a reason (never 5xx, never a dropped connection); the process
// must survive and still answer /healthz; every event accepted must be on touchpoints.v1. The profile routes get the
// same treatment (odd attribute values, names, timestamps; every accepted profile on profiles.v1).
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fc from 'fast-check';
import { createKafka, topicNames } from '@touchstream/kafka';
import { codecs } from '@touchstream/contracts';
import { freePort } from '@touchstream/stack';
import { eventually, testSettings, childEnv } from '@touchstream/testkit';

const repoRoot = path.resolve(import.meta.dirname, '..');
const run = randomUUID().slice(0, 8);
const WRITE_KEY = `fuzz-write-${run}`;
const CUSTOMER_PREFIX = `fuzz-${run}-`;
const REQUESTS_PER_RUN = 10;
const RUNS = 1000;
const MAX_EVENTS = 200;
const MAX_BODY_BYTES = 256 * 1024;

let child: ChildProcess | undefined;
let url: string;
const output: string[] = [];

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'apps/touchstream/src/main.ts', 'run', '--target', 'ingest'], {
    cwd: repoRoot,
    env: childEnv({
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      HTTP_PORT: String(port),
      WRITE_KEYS: `${WRITE_KEY}=fuzz`,
      KAFKA_GROUP_PREFIX: `fuzz-${run}`,
      INGEST_MAX_EVENTS: String(MAX_EVENTS),
      INGEST_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      LOG_LEVEL: 'warn',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  await eventually('ingest /readyz 200', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, {
    timeoutMs: 60_000,
    abortIf: () => (child!.exitCode !== null ? `ingest exited (${child!.exitCode})` : undefined),
    context: () => output.join('').slice(-3000),
  });
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
});

// ── Generators ────────────────────────────────────────────────────────────────────────────────────────────

interface FuzzRequest {
  kind: string;
  contentType: string | null;
  body: Buffer;
  /** event_ids of the events in the body that must be accepted (mixed batches only). */
  valid?: string[];
}

const nowIso = () => new Date().toISOString();
let seq = 0;

/** A valid event, with an event_id of this run (fresh per generated value, so retries are not dedup'd away). */
const validEvent = fc
  .record({
    channel: fc.constantFrom('web', 'ivr', 'chat', 'phone', 'mobile_app'),
    touchpoint: fc.string({ minLength: 1, maxLength: 40 }),
    initiator: fc.constantFrom('customer', 'company'),
    outcome: fc.option(fc.constantFrom('started', 'completed', 'failed', 'abandoned'), { nil: undefined }),
    sentiment: fc.option(fc.double({ min: -1, max: 1, noNaN: true }), { nil: undefined }),
    wait_ms: fc.option(fc.nat({ max: 10_000_000 }), { nil: undefined }),
    attributes: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 50 }), { maxKeys: 5 }), { nil: undefined }),
    ageMs: fc.nat({ max: 40 * 24 * 3600 * 1000 }),
  })
  .map(({ ageMs, ...e }) => {
    const n = seq++;
    const event: Record<string, unknown> = {
      event_id: `${CUSTOMER_PREFIX}e${n}`,
      customer_id: `${CUSTOMER_PREFIX}c${n % 97}`,
      occurred_at: new Date(Date.now() - ageMs).toISOString(),
      ...e,
    };
    for (const k of Object.keys(event)) if (event[k] === undefined) delete event[k];
    // dictionary() may produce a "__proto__" attribute key, which ingest refuses by design.
    if (event.attributes && Object.keys(event.attributes as object).some((k) => k === '__proto__' || k === 'constructor')) delete event.attributes;
    return event;
  });

const weirdNumberText = fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e-400', '0x10', '01', '+1', '.5', '1.', '-0', '9007199254740993', '1e20');
const weirdTimestamp = fc.oneof(
  fc.constantFrom('0001-01-01T00:00:00Z', '1969-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z', '2026-02-30T10:00:00Z', '2026-01-01T25:00:00Z', '2026-01-01', 'yesterday', '', '2026-01-01T00:00:00.1234567890Z'),
  fc.integer({ min: -8.64e15, max: 8.64e15 }),
  fc.double({ noNaN: false }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e300, -1e300, 0),
);
const fieldNames = ['event_id', 'customer_id', 'occurred_at', 'channel', 'touchpoint', 'initiator', 'journey', 'stage', 'reason', 'outcome', 'duration_ms', 'wait_ms', 'sentiment', 'survey', 'agent_id', 'session_id', 'attributes', 'text', 'received_at'];

/** An event with one thing wrong (or odd), as text so that it can carry what JSON.stringify cannot. */
const oddEventText: fc.Arbitrary<string> = fc.tuple(validEvent, fc.nat()).chain(([event, pick]) => {
  const base = JSON.stringify(event).slice(1, -1);
  const field = fieldNames[pick % fieldNames.length]!;
  return fc.oneof(
    weirdNumberText.map((n) => `{${base},"${field}":${n}}`),
    weirdTimestamp.map((t) => JSON.stringify({ ...event, occurred_at: t })),
    fc.nat({ max: 100_000 }).map((n) => JSON.stringify({ ...event, [field]: String(n) })),
    fc.jsonValue().map((v) => `{${base},"${field}":${JSON.stringify(v) ?? 'null'}}`),
    fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) => `{${base},"attributes":{"${k}":{"polluted":"yes"}},"${k}":{"prototype":{"x":1}}}`),
    fc.string().map((s) => `{${base},"customer_id":"dup-a","customer_id":${JSON.stringify(s)}}`),
    fc.integer({ min: 257, max: 300_000 }).map((n) => JSON.stringify({ ...event, [field]: 'x'.repeat(n) })),
    fc.integer({ min: 51, max: 500 }).map((n) => JSON.stringify({ ...event, attributes: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])) })),
    fc.integer({ min: 10, max: 50_000 }).map((n) => `{${base},"attributes":${'{"a":'.repeat(n)}"x"${'}'.repeat(n)}}`),
    fc.constant(JSON.stringify({ ...event, customer_id: '' })),
    fc.constant(JSON.stringify({ ...event, survey: { kind: 'NPS', score: 11 } })),
    fc.constant(JSON.stringify({ ...event, sentiment: 1.5 })),
  );
});

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const json = (contentType = 'application/json') => (text: string) => ({ contentType, body: Buffer.from(text, 'utf8') });

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => ({ kind: 'random json', ...json()(JSON.stringify(v) ?? 'null') })) },
  { weight: 2, arbitrary: fc.tuple(fc.array(validEvent, { minLength: 1, maxLength: 5 }), fc.nat()).map(([events, cut]) => {
    const text = JSON.stringify(events);
    return { kind: 'truncated json', ...json()(text.slice(0, cut % text.length)) };
  }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => ({ kind: 'deep nesting', ...json()('['.repeat(n) + ']'.repeat(n)) })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((n) => ({ kind: 'deep nesting', ...json()(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`) })) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 400_000 }).map((n) => ({ kind: 'huge string', ...json()(JSON.stringify('x'.repeat(n))) })) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_EVENTS - 5, max: 5000 }).map((n) => ({ kind: 'huge array', ...json()(JSON.stringify(Array.from({ length: n }, (_, i) => i))) })) },
  { weight: 2, arbitrary: fc.tuple(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('application/json', 'application/x-ndjson')).map(([bytes, ct]) => ({ kind: 'binary', contentType: ct, body: Buffer.from(bytes) })) },
  { weight: 2, arbitrary: fc.tuple(validEvent, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([event, bytes]) => {
    // Invalid UTF-8 inside a string value: bytes ≥ 0x80 without their continuation.
    const text = JSON.stringify(event);
    const at = text.indexOf('"touchpoint":"') + 14;
    return { kind: 'invalid utf-8', contentType: 'application/json', body: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes.map((b) => b | 0x80)), Buffer.from(text.slice(at))]) };
  }) },
  { weight: 6, arbitrary: oddEventText.map((t) => ({ kind: 'odd event', ...json()(t) })) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 200 }), fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/jsonx', 'json', '', 'application/octet-stream', null))
    .map(([s, ct]) => ({ kind: 'wrong content type', contentType: ct, body: Buffer.from(s) })) },
  { weight: 6, arbitrary: fc.array(fc.oneof(validEvent.map((e) => ({ valid: true as const, text: JSON.stringify(e), id: e.event_id as string })), oddEventText.map((t) => ({ valid: false as const, text: t, id: '' }))), { minLength: 1, maxLength: 30 })
    .chain((all) => fc.constantFrom('application/json', 'application/x-ndjson').map((ct) => {
      // In a JSON array one item that is not JSON makes the whole body invalid (answered 400 INVALID_JSON, tried
      // in 'odd event'); in NDJSON each line stands alone.
      const items = ct === 'application/json' ? all.filter((i) => i.valid || parses(i.text)) : all;
      const text = ct === 'application/json' ? `[${items.map((i) => i.text).join(',')}]` : items.map((i) => i.text).join('\n');
      return { kind: 'mixed batch', contentType: ct, body: Buffer.from(text), valid: items.filter((i) => i.valid).map((i) => i.id) };
    })) },
);

// ── The property ──────────────────────────────────────────────────────────────────────────────────────────

interface Outcome {
  status: number | 'network-error';
  body: { code?: unknown; message?: unknown; accepted?: number; event_ids?: string[]; rejected?: unknown[] };
}

async function send(req: FuzzRequest): Promise<Outcome> {
  const headers: Record<string, string> = { authorization: `Bearer ${WRITE_KEY}` };
  if (req.contentType !== null) headers['content-type'] = req.contentType;
  try {
    const r = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: new Uint8Array(req.body), signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    let body: Outcome['body'] = {};
    try {
      body = JSON.parse(text) as Outcome['body'];
    } catch {
      // a non-JSON answer fails the property below
    }
    return { status: r.status, body };
  } catch {
    return { status: 'network-error', body: {} };
  }
}

describe('fuzz: POST /v1/events on the running ingest', () => {
  it(`answers ${RUNS * REQUESTS_PER_RUN} generated requests with 2xx or a 4xx with a reason, survives, and delivers what it accepted`, async () => {
    const histogram: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    const accepted: string[] = [];
    let mustBeAccepted = 0;
    const started = Date.now();
    const seed = testSettings().fuzzSeed;

    await fc.assert(
      fc.asyncProperty(fc.array(fuzzRequest, { minLength: REQUESTS_PER_RUN, maxLength: REQUESTS_PER_RUN }), async (requests) => {
        const outcomes = await Promise.all(requests.map(send));
        outcomes.forEach((o, i) => {
          const req = requests[i]!;
          kinds[req.kind] = (kinds[req.kind] ?? 0) + 1;
          const key = `${o.status}${typeof o.body.code === 'string' ? ` ${o.body.code}` : ''}`;
          histogram[key] = (histogram[key] ?? 0) + 1;
          const where = `${req.kind} (${req.contentType}, ${req.body.length} bytes: ${req.body.subarray(0, 200).toString('latin1')}…)`;
          expect(o.status, where).not.toBe('network-error');
          const status = o.status as number;
          expect(status >= 200 && status < 300 || status >= 400 && status < 500, `${where} → ${status} ${JSON.stringify(o.body)}\n${output.join('').slice(-2000)}`).toBe(true);
          if (status >= 400) {
            // A reason: a stable code and a message for humans.
            expect(typeof o.body.code === 'string' && typeof o.body.message === 'string', `${where} → ${status} ${JSON.stringify(o.body)}`).toBe(true);
          } else {
            expect(o.body.event_ids?.length, where).toBe(o.body.accepted);
            accepted.push(...o.body.event_ids!);
          }
          if (req.valid && req.valid.length > 0 && req.body.length > MAX_BODY_BYTES) {
            expect(status, where).toBe(413);
          } else if (req.valid && req.valid.length > 0) {
            // Valid events of a mixed batch are all accepted, under their own ids, in order.
            mustBeAccepted += req.valid.length;
            expect(status, `${where} → ${JSON.stringify(o.body)}`).toBe(202);
            const validIds = new Set(req.valid);
            expect(o.body.event_ids!.filter((id) => validIds.has(id)), where).toEqual(req.valid);
          }
        });
      }),
      { numRuns: RUNS, seed, endOnFailure: true },
    );
    const elapsed = Date.now() - started;

    // The process is alive and answers.
    expect(child!.exitCode, output.join('').slice(-3000)).toBeNull();
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);

    // Everything accepted is on touchpoints.v1.
    const wanted = new Set(accepted);
    const kafka = createKafka({ brokers: inject('kafkaBrokers') });
    const consumer = kafka.consumer({ groupId: `fuzz-check-${run}`, maxWaitTimeInMs: 200 });
    const found = new Set<string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topicNames.touchpoints], fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (!m.value) continue;
            const id = codecs.touchpoint.decode(m.value).event_id;
            if (wanted.has(id)) found.add(id);
          }
        },
      });
      await eventually('every accepted event on touchpoints.v1', async () => found.size === wanted.size, { timeoutMs: 60_000 });
    } finally {
      await consumer.disconnect();
    }

    console.log(
      `fuzz: ${RUNS * REQUESTS_PER_RUN} requests (seed ${seed}) in ${(elapsed / 1000).toFixed(1)} s; by kind ${JSON.stringify(kinds)}; ` +
        `status histogram ${JSON.stringify(Object.fromEntries(Object.entries(histogram).sort()))}; ` +
        `${accepted.length} events accepted (${mustBeAccepted} valid events in mixed batches), all ${found.size} found on touchpoints.v1; ingest alive, /healthz 200`,
    );
    expect(accepted.length).toBeGreaterThanOrEqual(mustBeAccepted);
    expect(mustBeAccepted).toBeGreaterThan(1000);
  }, 300_000);
});

// ── Customer profiles (docs/architecture.md §20.6) ──────────────────────────────────────────────────────────

const PROFILE_REQUESTS = 2000;

/** A profile item: sometimes valid, often with odd attribute values, names, timestamps or fields. */
const fuzzProfile: fc.Arbitrary<unknown> = fc.record({
  customer_id: fc.oneof(fc.constant(`${CUSTOMER_PREFIX}p`), fc.string({ maxLength: 300 }), fc.constant(undefined), fc.integer()),
  attributes: fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.oneof(fc.string({ maxLength: 300 }), fc.double(), fc.boolean(), fc.constant(null)), { maxKeys: 8 }) },
    { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 80 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 120 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  ),
  updated_at: fc.option(weirdTimestamp, { nil: undefined }),
  profile_id: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 300 }), fc.integer()), { nil: undefined }),
  extra: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
}, { requiredKeys: [] });

const fuzzProfileRequest = fc.oneof(
  { weight: 3, arbitrary: fc.array(fuzzProfile, { minLength: 1, maxLength: 20 }).map((items) => ({ route: '/v1/profiles', body: JSON.stringify(items) })) },
  { weight: 2, arbitrary: fc.array(fuzzProfile, { minLength: 1, maxLength: 20 }).map((items) => ({ route: '/v1/profiles', body: items.map((i) => JSON.stringify(i)).join('\n'), ndjson: true })) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 300 }), fuzzProfile).map(([id, p]) => ({ route: `/v1/customers/${encodeURIComponent(id)}/profile`, body: JSON.stringify(p) })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => ({ route: '/v1/profiles', body: JSON.stringify(v) ?? 'null' })) },
);

describe('fuzz: the profile routes on the running ingest', () => {
  it(`answers ${PROFILE_REQUESTS} generated requests with 2xx or a 4xx with a reason, and delivers what it accepted to profiles.v1`, async () => {
    const accepted: string[] = [];
    const histogram: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzProfileRequest, { minLength: 10, maxLength: 10 }), async (requests) => {
        await Promise.all(requests.map(async (req) => {
          const r = await fetch(`${url}${req.route}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'ndjson' in req ? 'application/x-ndjson' : 'application/json' },
            body: req.body,
            signal: AbortSignal.timeout(30_000),
          });
          const body = (await r.json().catch(() => ({}))) as { code?: unknown; message?: unknown; accepted?: number; profile_ids?: string[] };
          const where = `${req.route} ${req.body.slice(0, 200)} → ${r.status} ${JSON.stringify(body).slice(0, 300)}`;
          histogram[`${r.status}${typeof body.code === 'string' ? ` ${body.code}` : ''}`] = (histogram[`${r.status}${typeof body.code === 'string' ? ` ${body.code}` : ''}`] ?? 0) + 1;
          expect((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500), where).toBe(true);
          if (r.status >= 400) expect(typeof body.code === 'string' && typeof body.message === 'string', where).toBe(true);
          else {
            expect(body.profile_ids?.length, where).toBe(body.accepted);
            accepted.push(...body.profile_ids!);
          }
        }));
      }),
      { numRuns: PROFILE_REQUESTS / 10, seed: testSettings().fuzzSeed, endOnFailure: true },
    );
    expect(child!.exitCode, output.join('').slice(-3000)).toBeNull();
    expect(accepted.length).toBeGreaterThan(0);

    const wanted = new Set(accepted);
    const found = new Set<string>();
    const consumer = createKafka({ brokers: inject('kafkaBrokers') }).consumer({ groupId: `fuzz-profiles-${run}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topicNames.profiles], fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (!m.value) continue;
            const id = codecs.profile.decode(m.value).profile_id;
            if (wanted.has(id)) found.add(id);
          }
        },
      });
      await eventually('every accepted profile on profiles.v1', async () => found.size === wanted.size, { timeoutMs: 60_000 });
    } finally {
      await consumer.disconnect();
    }
    console.log(`fuzz profiles: ${PROFILE_REQUESTS} requests; status histogram ${JSON.stringify(Object.fromEntries(Object.entries(histogram).sort()))}; ${accepted.length} profiles accepted, all on profiles.v1`);
  }, 300_000);
});
