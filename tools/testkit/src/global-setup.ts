// Starts one real stack for the whole test run (Kafka in KRaft mode and a private redis-server), unless
// KAFKA_BROKERS / REDIS_URL point at existing ones, and hands the endpoints to the tests. Where a Docker engine
// answers, the stack runs on containers (testcontainers) and adds a ClickHouse server, so the suite also runs
// against a real server (clickhouseUrl); elsewhere the process launcher and chDB (docs/architecture.md §17).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startTestStack, type Stack } from '@touchstream/stack';
import { testSettings } from './settings.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    redisUrl: string;
    /** The run's Redis Cluster (3 masters); in the `integration-cluster` project `redisUrl` is this too. */
    redisClusterUrl: string;
    redisTopology: 'standalone' | 'cluster';
    clickhouseUrl: string | null;
  }
}

// The integration and end-to-end tiers are two vitest projects; each runs this setup, in the same process.
// They share one stack per run: the first setup starts it, the last teardown stops it.
interface SharedStack {
  ready: Promise<{ stack: Stack; dir: string }>;
  users: number;
}
const holder = globalThis as { touchstreamTestStack?: SharedStack };

async function startSharedStack(): Promise<{ stack: Stack; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-test-'));
  const started = Date.now();
  const settings = testSettings();
  const stack = await startTestStack({
    dir, kafkaBrokers: settings.kafkaBrokers, redisUrl: settings.redisUrl, clickhouseUrl: settings.clickhouseUrl, engines: settings.engines,
    // The processor, query and notifier suites run again on a 3-master cluster (vitest project integration-cluster).
    redisCluster: settings.redisClusterUrl ? undefined : { masters: 3, appendfsync: 'everysec' },
  });
  stack.redisClusterUrl ??= settings.redisClusterUrl;
  const clickhouse = 'url' in stack.clickhouse ? `ClickHouse ${new URL(stack.clickhouse.url).host}` : 'chDB';
  console.log(`test stack (${stack.choice.engine}: ${stack.choice.reason}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s: Kafka ${stack.kafkaBrokers.join(',')}, Redis ${stack.redisUrl}, Redis Cluster ${stack.redisClusterUrl}, ${clickhouse} (logs in ${dir})`);
  return { stack, dir };
}

export async function setup(project: TestProject) {
  holder.touchstreamTestStack ??= { ready: startSharedStack(), users: 0 };
  holder.touchstreamTestStack.users++;
  const { stack } = await holder.touchstreamTestStack.ready;
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  const cluster = project.name === 'integration-cluster';
  project.provide('redisUrl', cluster ? stack.redisClusterUrl! : stack.redisUrl);
  project.provide('redisClusterUrl', stack.redisClusterUrl!);
  project.provide('redisTopology', cluster ? 'cluster' : 'standalone');
  project.provide('clickhouseUrl', 'url' in stack.clickhouse ? stack.clickhouse.url : null);
}

export async function teardown() {
  const shared = holder.touchstreamTestStack;
  if (!shared || --shared.users > 0) return;
  holder.touchstreamTestStack = undefined;
  const { stack, dir } = await shared.ready;
  await stack.stop();
  if (!testSettings().keepStack) rmSync(dir, { recursive: true, force: true });
}
