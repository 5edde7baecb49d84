// A private Redis for one test file, for tests that need a Redis of their own (e.g. FLUSHALL, or the global
// timer index): started through the stack launcher (@touchstream/stack), the one place redis-server is run.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { createRedisClient, type RedisClient } from '@touchstream/runtime';
import { startRedis } from '@touchstream/stack';

export interface TestRedis {
  url: string;
  client: RedisClient;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-test-redis-'));
  // Tests never crash Redis itself: fsync once a second is enough and keeps them fast.
  const server = await startRedis({ dir, appendfsync: 'everysec' });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  return {
    url: server.url,
    client,
    async stop() {
      await client.quit().catch(() => client.disconnect());
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A client of the run's shared Redis (or Redis Cluster) at `url`; stop() only closes the client. */
export function sharedTestRedis(url: string): TestRedis {
  const client = createRedisClient(url, { maxRetriesPerRequest: 1 });
  return { url, client, stop: () => client.quit().then(() => undefined, () => client.disconnect()) };
}

/**
 * A private redis-server for the calling test file: started before its tests, stopped after them. The returned
 * object reads through to it, so tests use `redis.client` and `redis.url` as with startTestRedis.
 */
export function useTestRedis(): TestRedis {
  let started: TestRedis | undefined;
  beforeAll(async () => {
    // In the integration-cluster project, the run's shared Redis Cluster (tests isolate by customer and index key).
    started = inject('redisTopology') === 'cluster' ? sharedTestRedis(inject('redisUrl')) : await startTestRedis();
  });
  afterAll(async () => {
    await started?.stop();
  });
  const current = (): TestRedis => {
    if (!started) throw new Error('the test Redis starts in beforeAll: use it inside a test or hook');
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    get client() {
      return current().client;
    },
    stop: () => current().stop(),
  };
}
