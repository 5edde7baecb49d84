import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { httpErrorHandler } from './http.ts';

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
