// The query module on a bare Fastify for the integration tests: a read key, a Redis that fails the test if any route
// touches it (these tests read ClickHouse only), init, ready, start. Shared so each test states only its options.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { enforceRoles } from '@touchstream/runtime';
import { createQueryModule, type QueryModule, type QueryModuleOptions } from './module.ts';

/** A Redis whose every command throws: proves a route answered from ClickHouse alone. */
export const redisNotUsed = new Proxy({}, { get: () => () => { throw new Error('redis touched'); } }) as unknown as Redis;

export interface QueryModuleUnderTest {
  app: FastifyInstance;
  query: QueryModule;
  stop(): Promise<void>;
}

export async function startQueryModule(
  readKey: string,
  options: Omit<QueryModuleOptions, 'redis' | 'log' | 'halfLifeMs'> & Partial<Pick<QueryModuleOptions, 'halfLifeMs'>>,
): Promise<QueryModuleUnderTest> {
  const app = Fastify();
  enforceRoles(app, { keys: { read: { [readKey]: 'tester' } } });
  const query = createQueryModule({ halfLifeMs: 3_600_000, ...options, redis: redisNotUsed, log: app.log });
  const instance = await query.init({ http: app, log: app.log } as never);
  await app.ready();
  // start() also pings ClickHouse and starts the catalogue and personas pollers.
  await instance.start();
  return { app, query, stop: async () => { await instance.stop(); await app.close(); } };
}
