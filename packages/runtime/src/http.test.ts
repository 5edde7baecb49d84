import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { bearerKeyResolver, httpErrorHandler } from './http.ts';

describe('bearerKeyResolver', () => {
  const lookup = bearerKeyResolver({ 'key-of-web-123': 'web' });
  it('names the key owner, and tells a missing header from an unknown key', () => {
    expect(lookup('Bearer key-of-web-123')).toEqual({ ok: true, name: 'web' });
    expect(lookup('bearer   key-of-web-123 ')).toEqual({ ok: true, name: 'web' });
    expect(lookup('Bearer nope')).toEqual({ ok: false, presented: true });
    expect(lookup('Basic abc')).toEqual({ ok: false, presented: false });
    expect(lookup(undefined)).toEqual({ ok: false, presented: false });
  });
});

describe('httpErrorHandler', () => {
  it('hides 5xx details, keeps 4xx reasons, also for errors a route plugin passes on', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(httpErrorHandler);
    await app.register(async (child) => {
      child.setErrorHandler((err) => {
        throw err; // a plugin's own handler that answers nothing of this kind itself
      });
      child.get('/boom', async () => {
        throw new Error('connection string with a password');
      });
      child.get('/teapot', async () => {
        throw Object.assign(new Error('no coffee here'), { statusCode: 418, code: 'TEAPOT' });
      });
    });
    const boom = await app.inject('/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json().code).toBe('INTERNAL');
    expect(boom.body).not.toContain('password');
    const teapot = await app.inject('/teapot');
    expect(teapot.statusCode).toBe(418);
    expect(teapot.json()).toEqual({ code: 'TEAPOT', message: 'no coffee here' });
  });
});
