// Route × role on the real app (every target in one process, the shared test stack): every route of the OpenAPI
// document, and every route registered without being documented (dashboard files, /docs, health), is called
// with no key, an unknown key and a key of each kind. No or an unknown key: 401; a known key without the route's
// role: 403; a key with it: 2xx (3xx for a redirect). Public routes answer whatever key is sent.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { acceptedKinds, hashKey, type DeclaredRoute, type KeyKind } from '@touchstream/runtime';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const keys: Record<KeyKind, string> = {
  write: `access-write-${run}`,
  read: `access-read-${run}`,
  'analyst-write': `access-analyst-${run}`,
  admin: `access-admin-key-${run}`,
};

let app: RunningApp;

beforeAll(async () => {
  const clickhouseUrl = inject('clickhouseUrl');
  app = await startApp(loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    REDIS_URL: inject('redisUrl'),
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: mkdtempSync(path.join(os.tmpdir(), 'access-chdb-')) }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    WRITE_KEYS: `${keys.write}=web`,
    // Given as its SHA-256 digest: configuration need not hold the key itself.
    READ_KEYS: `${hashKey(keys.read)}=analyst`,
    ANALYST_WRITE_KEYS: `${keys['analyst-write']}=bob`,
    ADMIN_KEY: keys.admin,
    // The privacy routes (erase, export) answer 503 without it.
    PRIVACY_SECRET: `access-test-privacy-secret-${'x'.repeat(16)}`,
    ERASURE_SETTLE_MS: '0',
    // GET /v1/personas answers 400 PERSONAS_NOT_CONFIGURED without it.
    PERSONAS_FILE: fileURLToPath(new URL('../personas/demo.yaml', import.meta.url)),
    KAFKA_GROUP_PREFIX: `access-${run}`,
    TOUCHPOINT_PARTITIONS: '2',
    TOPIC_PARTITIONS: '1',
  }));
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200, { timeoutMs: 120_000 });
});

afterAll(async () => {
  await app?.stop();
});

type Schema = { examples?: unknown[]; default?: unknown; enum?: unknown[]; type?: string | string[]; minimum?: number };
type MediaType = { schema?: Schema; example?: unknown; examples?: Record<string, { value: unknown }> };
type Operation = { parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>; requestBody?: { content: Record<string, MediaType> } };

const now = new Date();
const iso = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
const event = () => ({ customer_id: `access-${run}`, occurred_at: iso(1000), channel: 'web', touchpoint: 'home', initiator: 'customer' });

/** A value for a required parameter: the schema's example, default or first allowed value. */
function sampleOf(schema: Schema | undefined, name: string): string {
  const value = schema?.examples?.[0] ?? schema?.default ?? schema?.enum?.[0] ?? (schema?.type === 'integer' ? (schema.minimum ?? 1) : undefined);
  if (value !== undefined) return String(value);
  return name === 'customer_id' || name === 'id' ? `access-${run}` : 'x';
}

/** Parameters a route needs that its document does not mark required (one of several). */
const extraQuery: Record<string, Record<string, string>> = { '/v1/paths': { start: 'home' } };

/** Requests that need more than the document's examples to succeed. */
const wildcardPaths: Record<string, string> = {
  '/docs/static/*': '/docs/static/swagger-initializer.js',
  '/dashboard/*': '/dashboard/app.js',
  '/dashboard/vendor/*': '/dashboard/vendor/echarts.min.js',
};

interface Call {
  method: string;
  url: string;
  body?: string;
  contentType?: string;
}

function callFor(route: DeclaredRoute, op: Operation | undefined, annotationId: string): Call {
  let url = wildcardPaths[route.url] ?? route.url.replace(/\*$/, '');
  const query = new URLSearchParams();
  for (const p of op?.parameters ?? []) {
    if (p.in === 'path') url = url.replace(`:${p.name}`, encodeURIComponent(p.name === 'id' ? annotationId : sampleOf(p.schema, p.name)));
    else if (p.in === 'query' && p.required) query.set(p.name, sampleOf(p.schema, p.name));
  }
  for (const [name, value] of Object.entries(extraQuery[route.url] ?? {})) query.set(name, value);
  url = url.replace(/:[A-Za-z_]+/g, `access-${run}`);
  if (query.size) url += `?${query}`;
  if (route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE') return { method: route.method, url };
  if (route.url === '/v1/events') return { method: route.method, url, body: JSON.stringify(event()), contentType: 'application/json' };
  const content = op?.requestBody?.content;
  const mediaType = content ? Object.keys(content)[0]! : 'application/json';
  const media = content?.[mediaType];
  const example = media?.example ?? Object.values(media?.examples ?? {})[0]?.value ?? media?.schema?.examples?.[0];
  return { method: route.method, url, body: typeof example === 'string' ? example : JSON.stringify(example ?? {}), contentType: mediaType };
}

const lastBody = new Map<string, string>();

/** Status of a call (0: no answer within 15 s); a stream (SSE) is not read: its status line is enough. */
async function status(call: Call, authorization?: string): Promise<number> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  const res = await fetch(`${app.url}${call.url}`, {
    method: call.method,
    redirect: 'manual',
    signal: abort.signal,
    headers: { ...(authorization ? { authorization } : {}), ...(call.contentType ? { 'content-type': call.contentType } : {}) },
    body: call.body,
  }).catch(() => undefined);
  clearTimeout(timer);
  if (!res) return 0;
  if (res.status >= 400 && res.status !== 401 && res.status !== 403) lastBody.set(`${call.method} ${call.url}`, (await res.text()).slice(0, 300));
  abort.abort();
  await res.body?.cancel().catch(() => undefined);
  return res.status;
}

describe('route × role on the running app', () => {
  it('every route declares a role, and /v1 has no public route', () => {
    const routes = app.http.declaredRoutes();
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !r.role)).toEqual([]);
    expect(routes.filter((r) => r.url.startsWith('/v1/') && r.role === 'public')).toEqual([]);
    // The decisions the README states.
    const roleOf = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url)?.role;
    expect(roleOf('POST', '/v1/events')).toBe('write');
    expect(roleOf('POST', '/v1/annotations')).toBe('analyst-write');
    expect(roleOf('GET', '/v1/annotations')).toBe('read');
    expect(roleOf('GET', '/v1/alerts/stream')).toBe('read');
    expect(roleOf('GET', '/v1/kpis')).toBe('read');
    expect(roleOf('GET', '/healthz')).toBe('public');
    expect(roleOf('GET', '/dashboard/*')).toBe('public');
  });

  it('answers 401 without or with an unknown key, 403 with a key of another role, 2xx with one of the role', async () => {
    const doc = (await (await fetch(`${app.url}/docs/json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const routes = app.http.declaredRoutes();
    // Every documented operation is one of the registered routes walked below.
    for (const [docPath, operations] of Object.entries(doc.paths)) {
      const url = docPath.replace(/\{([^}]+)\}/g, ':$1');
      for (const method of Object.keys(operations)) {
        expect(routes.some((r) => r.url === url && r.method === method.toUpperCase()), `${method} ${docPath}`).toBe(true);
      }
    }
    // An annotation to measure the impact of (and the key allowed to create one).
    const created = await fetch(`${app.url}/v1/annotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys['analyst-write']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `access ${run}`, at: iso(3_600_000) }),
    });
    expect(created.status).toBe(201);
    const annotationId = ((await created.json()) as { id: string }).id;

    const failures: string[] = [];
    let calls = 0;
    for (const route of routes) {
      const docPath = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      // HEAD routes are the GET routes' (Fastify adds them): same parameters.
      const call = callFor(route, doc.paths[docPath]?.[route.method === 'HEAD' ? 'get' : route.method.toLowerCase()], annotationId);
      const expect_ = (got: number, want: 'ok' | 401 | 403, who: string) => {
        calls++;
        const ok = want === 'ok' ? got >= 200 && got < 400 : got === want;
        if (!ok) failures.push(`${route.method} ${route.url} (${call.url}) with ${who}: ${got}, expected ${want === 'ok' ? '2xx' : want} ${lastBody.get(`${call.method} ${call.url}`) ?? ''}`);
      };
      const role = route.role!;
      const started = Date.now();
      if (role === 'public') {
        expect_(await status(call), 'ok', 'no key');
        expect_(await status(call, 'Bearer not-a-key-at-all'), 'ok', 'an unknown key');
        continue;
      }
      expect_(await status(call), 401, 'no key');
      expect_(await status(call, 'Bearer not-a-key-at-all'), 401, 'an unknown key');
      for (const [kind, key] of Object.entries(keys) as Array<[KeyKind, string]>) {
        expect_(await status(call, `Bearer ${key}`), acceptedKinds[role].includes(kind) ? 'ok' : 403, `the ${kind} key`);
      }
      if (Date.now() - started > 5_000) console.log(`slow: ${route.method} ${call.url} ${Date.now() - started} ms`);
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(100);
  }, 600_000);

  it('takes a write key as HTTP Basic user with an empty password (Segment trackers)', async () => {
    const res = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${keys.write}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(event()),
    });
    expect(res.status).toBe(202);
  });
});
