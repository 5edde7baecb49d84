// Test helpers: a private redis-server child process on a free port (never the system one on 6379), and
// touchpoint builders. Only imported by tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { TouchpointEvent } from '@touchstream/contracts';
import { touchpointEvent } from '@touchstream/contracts/fixtures';

export interface TestRedis {
  url: string;
  client: Redis;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!output.includes('Ready to accept connections')) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  return {
    url,
    client,
    async stop() {
      await client.quit().catch(() => client.disconnect());
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

let sequence = 0;

/** A touchpoint with sensible defaults; `occurredAtMs` is event time in epoch ms. */
export function touchpoint(
  customerId: string,
  occurredAtMs: number,
  fields: Partial<TouchpointEvent> = {},
): TouchpointEvent {
  sequence++;
  return touchpointEvent({
    event_id: `evt-${customerId}-${sequence}`,
    customer_id: customerId,
    occurred_at: occurredAtMs * 1000,
    received_at: occurredAtMs * 1000,
    touchpoint: 'account_page',
    ...fields,
  });
}

/** A unique customer id per call, so tests sharing one Redis never see each other's state. */
export function uniqueCustomer(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${(sequence++).toString(36)}`;
}

/**
 * A private redis-server for the calling test file: started before its tests, stopped after them. The returned
 * object reads through to it, so tests use `redis.client` and `redis.url` as with startTestRedis.
 */
export function useTestRedis(): TestRedis {
  let started: TestRedis | undefined;
  beforeAll(async () => {
    started = await startTestRedis();
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
