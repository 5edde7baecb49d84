// The process's HTTP edges, on the real server: role check, CORS per service, security headers, rate limits.
import { describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServerOptions } from './server.ts';

const keys = { write: { 'write-key-web-1': 'web' }, read: { 'read-key-alice': 'alice' } };

async function server(opts: Partial<HttpServerOptions> = {}) {
  const http = await createHttpServer({ logLevel: 'silent', version: 'test', readiness: () => ({ ready: true, modules: {} }), keys, ...opts });
  http.post('/v1/events', { config: { role: 'write' } }, async () => ({ ok: true }));
  http.get('/v1/kpis', { config: { role: 'read' } }, async () => ({ ok: true }));
  await http.ready();
  return http;
}

const read = { authorization: 'Bearer read-key-alice' };

describe('createHttpServer', () => {
  it('allows no cross-origin caller by default, and the configured origins per service', async () => {
    const none = await server();
    const res = await none.inject({ url: '/v1/kpis', headers: { ...read, origin: 'https://evil.example' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    await none.close();

    const http = await server({ cors: { ingest: ['https://shop.example'], query: ['https://bi.example'] } });
    const preflight = (url: string, origin: string, method: string) =>
      http.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method } });
    expect((await preflight('/v1/events', 'https://shop.example', 'POST')).headers['access-control-allow-origin']).toBe('https://shop.example');
    expect((await preflight('/v1/events', 'https://bi.example', 'POST')).headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight('/v1/kpis', 'https://bi.example', 'GET')).headers['access-control-allow-origin']).toBe('https://bi.example');
    expect((await preflight('/v1/kpis', 'https://shop.example', 'GET')).headers['access-control-allow-origin']).toBeUndefined();
    const get = await http.inject({ url: '/v1/kpis', headers: { ...read, origin: 'https://bi.example' } });
    expect(get.headers['access-control-allow-origin']).toBe('https://bi.example');
    await http.close();
  });

  it('sends security headers and a content security policy without inline script', async () => {
    const http = await server();
    const res = await http.inject('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // /docs keeps Swagger UI's own policy (it allows the spec validator's badge); no inline script there either.
    const docs = await http.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(String(docs.headers['content-security-policy'])).toContain('validator.swagger.io');
    expect(docs.body).not.toMatch(/<script>/);
    await http.close();
  });

  it('limits requests per key with 429 and Retry-After; each key has its own budget', async () => {
    const http = await createHttpServer({
      logLevel: 'silent', version: 'test', readiness: () => ({ ready: true, modules: {} }),
      keys: { read: { 'read-key-alice': 'alice', 'read-key-carol': 'carol' } },
      rateLimits: { readPerMinute: 3 },
    });
    http.get('/v1/kpis', { config: { role: 'read' } }, async () => ({ ok: true }));
    await http.ready();
    const as = (key: string) => http.inject({ url: '/v1/kpis', headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 3; i++) expect((await as('read-key-alice')).statusCode).toBe(200);
    const limited = await as('read-key-alice');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/more than 3 requests per minute for this read key; retry after/) });
    expect((await as('read-key-carol')).statusCode).toBe(200);
    // Health checks are never limited.
    for (let i = 0; i < 5; i++) expect((await http.inject('/healthz')).statusCode).toBe(200);
    await http.close();
  });
});
