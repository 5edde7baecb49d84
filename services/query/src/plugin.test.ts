// Parameter validation and authentication happen before any store is touched, so these tests hand the plugin
// stores that fail loudly if they are ever reached.
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { Redis } from 'ioredis';
import { enforceRoles } from '@touchstream/runtime';
import { queryPlugin } from './plugin.ts';

const unreachable = new Proxy({}, {
  get: (_t, prop) => {
    if (prop === 'then') return undefined;
    return () => { throw new Error(`store touched: ${String(prop)}`); };
  },
});

const readKey = 'rk-analyst-1';
const analystWriteKey = 'awk-analyst-1';
const adminKey = 'admin-key-0123456789';
const app = Fastify();
beforeAll(async () => {
  // The process's role check, as the server installs it: each route declares its role.
  enforceRoles(app, { keys: { read: { [readKey]: 'alice' }, 'analyst-write': { [analystWriteKey]: 'bob' }, admin: { [adminKey]: 'admin' }, write: { 'wk-web-source': 'web' } } });
  await app.register(swagger, { openapi: { info: { title: 'touchstream', version: 'test' } } });
  await app.register(queryPlugin({
    clickhouse: unreachable as ClickHouseClient,
    redis: unreachable as Redis,
    halfLifeMs: 3_600_000,
    now: () => Date.UTC(2024, 4, 1, 12),
    log: app.log,
  }));
  await app.ready();
});
afterAll(() => app.close());

const get = (url: string, key: string | null = readKey) =>
  app.inject({ method: 'GET', url, headers: key === null ? {} : { authorization: `Bearer ${key}` } });

describe('authentication', () => {
  it.each(['/v1/kpis', '/v1/alerts', '/v1/customers/c1/journey'])('401 without a key on %s', async (url) => {
    const res = await get(url, null);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('401 for a key that is none of ours, 403 for a known key without the role (a write key)', async () => {
    const unknown = await get('/v1/kpis', 'rk-not-configured');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().code).toBe('UNAUTHORIZED');
    const res = await get('/v1/kpis', 'wk-web-source');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ code: 'FORBIDDEN', message: expect.stringMatching(/needs a read key or an analyst-write key or an admin key; the key sent is a write key/) });
  });

  it('an analyst-write key and the admin key read too (admin ⊇ analyst-write ⊇ read)', async () => {
    // Past the role check: the parameter is what is wrong.
    expect((await get('/v1/kpis?interval=week', analystWriteKey)).statusCode).toBe(400);
    expect((await get('/v1/kpis?interval=week', adminKey)).statusCode).toBe(400);
  });

  it('401 before validation: a bad parameter without a key is still 401', async () => {
    const res = await get('/v1/kpis?interval=week', null);
    expect(res.statusCode).toBe(401);
  });

  it('401 for a non-bearer scheme', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/kpis', headers: { authorization: `Basic ${readKey}` } });
    expect(res.statusCode).toBe(401);
  });
});

describe('parameter validation', () => {
  const cases: Array<[string, RegExp]> = [
    ['/v1/kpis?interval=week', /interval must be one of: minute, hour, day \(got "week"\)/],
    ['/v1/kpis?by=agent_id', /by must be one of: channel, touchpoint, journey, stage, initiator, persona, churn_risk \(got "agent_id"\)/],
    ['/v1/kpis?from=yesterday', /from must be an ISO-8601 .*got "yesterday"/],
    ['/v1/kpis?to=2024-02-30T00:00:00Z', /to must be an ISO-8601 .*got "2024-02-30T00:00:00Z"/],
    ['/v1/kpis?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z', /from must be before to/],
    ['/v1/kpis?interval=minute&from=2024-01-01&to=2024-05-01', /spans \d+ minute buckets; at most 10080/],
    ['/v1/alerts?level=urgent', /level must be one of: watch, at_risk, critical/],
    ['/v1/alerts?limit=0', /limit must be >= 1/],
    ['/v1/alerts?limit=many', /limit must be integer/],
    ['/v1/alerts?from=2024-13-01', /from must be an ISO-8601/],
    ['/v1/customers/c1/journey?limit=5000', /limit must be <= 1000/],
    ['/v1/kpis?fcr_days=0', /fcr_days must be >= 1/],
    ['/v1/heatmap?metrics=nps,happiness', /metrics must be a comma list of: .*unknown: "happiness"/],
    ['/v1/heatmap?targets=nps:10:20', /targets: nps is higher is better, so its warn threshold must be at most the target/],
    ['/v1/heatmap?targets=wait:5', /targets: "wait" is not a heat map metric/],
    ['/v1/cohorts?period=year', /period must be one of: week, month/],
    ['/v1/cohorts?periods=500', /periods must be <= 104/],
    ['/v1/cohorts?from=2024-05-01&to=2024-04-01', /from must be before to/],
    ['/v1/annotations?from=soon', /from must be an ISO-8601/],
    ['/v1/annotations/a1/impact?window=2w', /window must match pattern/],
    ['/v1/annotations/a1/impact?window=400d', /window must be a whole number of days or hours .* at most 366d/],
    ['/v1/customers/c1/journey?cursor=x', /cursor must be the next_cursor of a previous page/],
    ['/v1/kpis?format=xlsx', /format must be one of: json, csv/],
  ];
  it.each(cases)('%s → 400', async (url, reason) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json();
    expect(body.code).toBe('INVALID_PARAMETER');
    expect(body.message).toMatch(reason);
  });
});

describe('POST /v1/annotations validation', () => {
  const post = (body: unknown) =>
    app.inject({ method: 'POST', url: '/v1/annotations', headers: { authorization: `Bearer ${analystWriteKey}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it.each<[unknown, RegExp]>([
    [{ at: '2024-05-01T00:00:00Z' }, /title is required/],
    [{ title: '', at: '2024-05-01T00:00:00Z' }, /title must NOT have fewer than 1 characters/],
    [{ title: 'x', at: 'tomorrow' }, /at must be an ISO-8601 .*got "tomorrow"/],
    [{ title: 'x', at: '2024-05-01T00:00:00Z', scope: { agent: 'a1' } }, /scope must be one of: channel, journey, touchpoint, stage|property name must be valid/],
  ])('%j → 400', async (body, reason) => {
    const res = await post(body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toEqual({ code: 'INVALID_PARAMETER', message: expect.stringMatching(reason) });
  });

  it('401 without a key, 403 with a read key: annotating needs an analyst-write or the admin key', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/annotations', payload: { title: 'x', at: '2024-05-01T00:00:00Z' } });
    expect(res.statusCode).toBe(401);
    const read = await app.inject({ method: 'POST', url: '/v1/annotations', headers: { authorization: `Bearer ${readKey}` }, payload: { title: 'x', at: '2024-05-01T00:00:00Z' } });
    expect(read.statusCode).toBe(403);
    const admin = await app.inject({ method: 'POST', url: '/v1/annotations', headers: { authorization: `Bearer ${adminKey}` }, payload: { title: '', at: '2024-05-01T00:00:00Z' } });
    expect(admin.statusCode).toBe(400); // past the role check
  });
});

describe('OpenAPI', () => {
  it('documents every route with tag, summary, parameters and responses', () => {
    type Operation = { tags: string[]; summary: string; parameters: Array<{ name: string }>; responses: Record<string, unknown> };
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> };
    expect(Object.keys(doc.paths).sort()).toEqual(expect.arrayContaining([
      '/v1/alerts', '/v1/annotations', '/v1/annotations/{id}/impact', '/v1/cohorts', '/v1/customers/{customer_id}/journey', '/v1/heatmap', '/v1/kpis',
      '/v1/funnels', '/v1/funnels/dropped', '/v1/paths', '/v1/drivers', '/v1/attribution', '/v1/touchpoints', '/v1/touchpoints/evaluation', '/v1/personas',
    ]));
    for (const [route, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        expect(op.tags, `${method} ${route}`).toEqual(['query']);
        expect(op.summary, `${method} ${route}`).toBeTruthy();
        expect(Object.keys(op.responses), `${method} ${route}`).toEqual(expect.arrayContaining([method === 'post' && !route.startsWith('/v1/funnels') ? '201' : '200', '400', '401', '403']));
      }
    }
    // /v1/kpis documents both representations.
    const kpis200 = doc.paths['/v1/kpis']!.get!.responses['200'] as { content: Record<string, unknown> };
    expect(Object.keys(kpis200.content).sort()).toEqual(['application/json', 'text/csv']);
    expect(doc.paths['/v1/kpis']!.get!.parameters.map((p) => p.name)).toEqual(['from', 'to', 'interval', 'by', 'channel', 'journey', 'touchpoint', 'persona', 'churn_risk', 'fcr_days', 'format']);
    expect(doc.paths['/v1/alerts']!.get!.parameters.find((p) => p.name === 'kind')).toMatchObject({ schema: { enum: ['customer', 'kpi'] } });
    // The churn-risk band is a segment filter of every analysis that takes persona (docs/architecture.md §22).
    const bands = { schema: { type: 'string', enum: ['low', 'medium', 'high', 'unscored'] } };
    for (const route of ['/v1/heatmap', '/v1/heatmap/cell', '/v1/paths', '/v1/drivers', '/v1/attribution', '/v1/cohorts', '/v1/alerts']) {
      expect(doc.paths[route]!.get!.parameters.find((p) => p.name === 'churn_risk'), route).toMatchObject(bands);
    }
    const funnelBody = doc.paths['/v1/funnels']!.post as unknown as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } };
    expect(funnelBody.requestBody.content['application/json']!.schema.properties.churn_risk).toMatchObject(bands.schema);
  });
});
