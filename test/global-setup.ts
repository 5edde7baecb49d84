// Starts one real stack for the whole test run (Kafka in KRaft mode and a private redis-server), unless
// KAFKA_BROKERS / REDIS_URL point at existing ones, and hands the endpoints to the tests.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startStack, type Stack } from '@touchstream/stack';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    redisUrl: string;
    clickhouseUrl: string | null;
  }
}

let stack: Stack | undefined;
let stackDir: string | undefined;

export async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-test-'));
  stackDir = dir;
  const started = Date.now();
  stack = await startStack({
    dir,
    kafkaBrokers: process.env.KAFKA_BROKERS || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    clickhouseUrl: process.env.CLICKHOUSE_URL || undefined,
  });
  console.log(`test stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s: Kafka ${stack.kafkaBrokers.join(',')}, Redis ${stack.redisUrl} (logs in ${dir})`);
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('redisUrl', stack.redisUrl);
  project.provide('clickhouseUrl', 'url' in stack.clickhouse ? stack.clickhouse.url : null);
  // Libraries' own integration tests that look at the environment find the shared stack too.
  process.env.KAFKA_BROKERS = stack.kafkaBrokers.join(',');
  process.env.REDIS_URL = stack.redisUrl;
}

export async function teardown() {
  await stack?.stop();
  // TOUCHSTREAM_KEEP_TEST_STACK=1 keeps the engines' data and logs for inspection.
  if (stackDir && !process.env.TOUCHSTREAM_KEEP_TEST_STACK) rmSync(stackDir, { recursive: true, force: true });
}
