import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { enforceRoles, hashKey, isHashedKey, keyResolver, publicRoutes } from './access.ts';

describe('keyResolver', () => {
  const resolve = keyResolver({
    write: { 'write-key-web-1': 'web' },
    read: { [hashKey('read-key-alice')]: 'alice' },
    admin: { 'admin-key-0123456789': 'admin' },
  });

  it('finds a key given in clear or as sha256:<hex>, with its kind and name', () => {
    expect(resolve('write-key-web-1')).toEqual({ ok: true, caller: { kind: 'write', name: 'web' } });
    expect(resolve('read-key-alice')).toEqual({ ok: true, caller: { kind: 'read', name: 'alice' } });
    expect(resolve('admin-key-0123456789')).toEqual({ ok: true, caller: { kind: 'admin', name: 'admin' } });
  });

  it('does not take the digest itself as the key', () => {
    expect(resolve(hashKey('read-key-alice'))).toEqual({ ok: false, presented: true });
    expect(resolve('read-key-alic')).toEqual({ ok: false, presented: true });
  });

  it('hashKey writes what configuration takes', () => {
    expect(hashKey('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(isHashedKey(hashKey('abc'))).toBe(true);
    expect(isHashedKey('sha256:abc')).toBe(false);
  });
});

describe('enforceRoles', () => {
  async function server() {
    const app = Fastify({ logger: false });
    enforceRoles(app, {
      keys: { write: { 'write-key-web-1': 'web' }, read: { 'read-key-alice': 'alice' }, 'analyst-write': { 'aw-key-bob-1': 'bob' }, admin: { 'admin-key-0123456789': 'admin' } },
    });
    for (const role of ['public', 'write', 'read', 'analyst-write', 'admin'] as const) {
      app.get(`/${role}`, { config: { role } }, async (req) => ({ caller: req.caller ?? null }));
    }
    app.get('/stream', { config: { role: 'read', keyInQuery: true } }, async (req) => ({ caller: req.caller ?? null }));
    await app.ready();
    return app;
  }
  const keys = { write: 'write-key-web-1', read: 'read-key-alice', 'analyst-write': 'aw-key-bob-1', admin: 'admin-key-0123456789' } as const;
  // Route role → key kinds answered 200 (the others known: 403).
  const allowed: Record<string, string[]> = {
    write: ['write'],
    read: ['read', 'analyst-write', 'admin'],
    'analyst-write': ['analyst-write', 'admin'],
    admin: ['admin'],
  };

  it('answers 401 without or with an unknown key, 403 for a known key without the role, 200 otherwise', async () => {
    const app = await server();
    for (const [route, kinds] of Object.entries(allowed)) {
      expect((await app.inject(`/${route}`)).statusCode, route).toBe(401);
      expect((await app.inject({ url: `/${route}`, headers: { authorization: 'Bearer nope-nope-nope' } })).statusCode, route).toBe(401);
      for (const [kind, key] of Object.entries(keys)) {
        const res = await app.inject({ url: `/${route}`, headers: { authorization: `Bearer ${key}` } });
        expect(res.statusCode, `${kind} key on ${route}`).toBe(kinds.includes(kind) ? 200 : 403);
        if (res.statusCode === 200) expect(res.json().caller).toMatchObject({ kind });
      }
    }
    expect((await app.inject('/public')).json()).toEqual({ caller: null });
    await app.close();
  });

  it('takes HTTP Basic with the key as user and an empty password; ?key= only where the route allows it', async () => {
    const app = await server();
    const basic = (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` });
    expect((await app.inject({ url: '/write', headers: basic('write-key-web-1:') })).json()).toEqual({ caller: { kind: 'write', name: 'web' } });
    expect((await app.inject({ url: '/write', headers: basic('write-key-web-1') })).statusCode).toBe(200);
    expect((await app.inject({ url: '/write', headers: basic('write-key-web-1:secret') })).statusCode).toBe(401);
    expect((await app.inject({ url: '/write', headers: { authorization: 'Digest x' } })).statusCode).toBe(401);
    expect((await app.inject('/stream?key=read-key-alice')).statusCode).toBe(200);
    expect((await app.inject('/read?key=read-key-alice')).statusCode).toBe(401);
    await app.close();
  });

  it('refuses to start with a route that declares no role, naming it', async () => {
    const app = Fastify({ logger: false });
    enforceRoles(app, { keys: {} });
    app.get('/ok', { config: { role: 'public' } }, async () => 'ok');
    app.post('/forgotten', async () => 'oops');
    await expect(app.ready()).rejects.toThrow(/routes without a role: POST \/forgotten/);
  });

  it('publicRoutes gives the routes of a plugin that cannot declare config the role public', async () => {
    const app = Fastify({ logger: false });
    enforceRoles(app, { keys: {} });
    await app.register(publicRoutes(async (scope: import('fastify').FastifyInstance) => {
      scope.get('/static', async () => 'file');
    }, {}));
    await app.ready();
    expect((await app.inject('/static')).body).toBe('file');
    await app.close();
  });
});
