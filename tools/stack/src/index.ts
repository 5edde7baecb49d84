// The local engines without Docker: Kafka (KRaft, Apache jars from Maven Central), Redis (redis-server)
// and ClickHouse (embedded chDB, or a server at CLICKHOUSE_URL), on free local ports. Used by
// `touchstream up`, the stack CLI and the tests' global setup.
import fs from 'node:fs';
import path from 'node:path';
import { startKafka, waitForKafka, type KafkaService } from './kafka.ts';
import { startRedis, waitForRedis, type RedisService } from './redis.ts';
import { startRedisCluster, type RedisClusterService } from './redis-cluster.ts';
import type { Log, ServiceHandle } from './process.ts';
import { chooseEngines, dockerAnswers, parseEngineSetting, type EngineChoice } from './engines.ts';

export { checkPrerequisites, type PrerequisiteOptions } from './prerequisites.ts';
export { ensureKafkaJars, kafkaJarsResolved, repoRoot, startKafka, waitForKafka, type KafkaOptions, type KafkaService } from './kafka.ts';
export { startRedis, waitForRedis, type RedisOptions, type RedisService } from './redis.ts';
export { startRedisCluster, type RedisClusterOptions, type RedisClusterService } from './redis-cluster.ts';
export { freePort, freePorts, isPortFree } from './ports.ts';
export type { Log, ServiceHandle, StopOptions } from './process.ts';
export { hasPdeathsig } from './process.ts';

export interface StackOptions {
  /** State and logs, e.g. `.stack/<name>`: `kafka/`, `redis/`, `chdb/`, `kafka.log`, `redis.log`. */
  dir: string;
  /** `host:port,…` of an existing Kafka to use instead of starting one. */
  kafkaBrokers?: string;
  /** `redis://…` of an existing Redis to use instead of starting one. */
  redisUrl?: string;
  /** `http://host:8123` of a ClickHouse server to use instead of embedded chDB. */
  clickhouseUrl?: string;
  /** Progress lines (what starts, when it is ready, unexpected exits). */
  log?: (line: string) => void;
  /** Heap of the Kafka JVM, default 512 MB. */
  kafkaHeapMb?: number;
  /** How long each engine may take to answer, default 60 s. */
  readyTimeoutMs?: number;
  /** Redis' append-only fsync policy, default `always` (see RedisOptions). */
  redisAppendfsync?: 'always' | 'everysec';
  /** Also start a local Redis Cluster (docs/architecture.md §18): its URL is `redisClusterUrl`. */
  redisCluster?: { masters?: number; replicasPerMaster?: number; appendfsync?: 'always' | 'everysec' };
}

export interface Stack {
  kafkaBrokers: string[];
  redisUrl: string;
  /** `redis+cluster://…` of the Redis Cluster started with `redisCluster`. */
  redisClusterUrl?: string;
  /** A server to connect to, or the directory where the process itself opens embedded chDB. */
  clickhouse: { url: string } | { path: string };
  /** Log file per started engine: `kafka`, `redis`. */
  logs: Record<string, string>;
  /** The engines this stack started (absent when an existing one was given): stop/start/restart them. */
  services: { kafka?: KafkaService; redis?: RedisService; redisCluster?: RedisClusterService };
  /** Stops the started engines in reverse order; idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** Waits until a ClickHouse server answers `GET /ping` with `Ok.`. */
export async function waitForClickHouse(url: string, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
  // fetch refuses URLs with credentials, and /ping needs none.
  const ping = new URL(url);
  ping.username = '';
  ping.password = '';
  ping.pathname = `${ping.pathname.replace(/\/+$/, '')}/ping`;
  ping.search = '';
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(ping, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.ok && body.startsWith('Ok.')) return;
      lastError = `HTTP ${res.status}: ${body.slice(0, 200)}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`clickhouse: ${ping.origin} did not answer /ping within ${timeoutMs / 1000} s (last error: ${lastError})`);
}

/**
 * Starts (or, for the ones given as URLs, waits for) Kafka, Redis and ClickHouse, in parallel. When one of
 * them fails, the others that were started are stopped again before the error is thrown.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  const log: Log = opts.log ?? (() => undefined);
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;

  const brokers = opts.kafkaBrokers?.split(',').map((b) => b.trim()).filter(Boolean);
  const kafka: Promise<KafkaService | string[]> = brokers?.length
    ? waitForKafka(brokers, { timeoutMs }).then(() => brokers)
    : startKafka({ dir, heapMb: opts.kafkaHeapMb, readyTimeoutMs: timeoutMs, log });
  const redis: Promise<RedisService | string> = opts.redisUrl
    ? waitForRedis(opts.redisUrl, { timeoutMs }).then(() => opts.redisUrl!)
    : startRedis({ dir, readyTimeoutMs: timeoutMs, log, appendfsync: opts.redisAppendfsync });
  const clickhouse: Promise<Stack['clickhouse']> = opts.clickhouseUrl
    ? waitForClickHouse(opts.clickhouseUrl, timeoutMs).then(() => ({ url: opts.clickhouseUrl! }))
    : Promise.resolve({ path: path.join(dir, 'chdb') });

  const cluster: Promise<RedisClusterService | undefined> = opts.redisCluster
    ? startRedisCluster({ dir, appendfsync: opts.redisAppendfsync, ...opts.redisCluster, readyTimeoutMs: timeoutMs, log })
    : Promise.resolve(undefined);

  const [k, r, c, rc] = await Promise.allSettled([kafka, redis, clickhouse, cluster]);
  const services: Stack['services'] = {};
  if (k.status === 'fulfilled' && !Array.isArray(k.value)) services.kafka = k.value;
  if (r.status === 'fulfilled' && typeof r.value !== 'string') services.redis = r.value;
  if (rc.status === 'fulfilled' && rc.value) services.redisCluster = rc.value;
  // Start order, for stopping in reverse.
  const started: ServiceHandle[] = [services.kafka, services.redis].filter((s): s is KafkaService | RedisService => !!s);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await services.redisCluster?.stop();
      for (const service of [...started].reverse()) {
        await service.stop().catch((err: Error) => log(`${service.name}: stop failed: ${err.message}`));
      }
    })());

  const failures = [k, r, c, rc].filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length > 0) {
    await stop();
    throw new Error(failures.map((f) => (f.reason as Error).message).join('\n'));
  }

  const kv = (k as PromiseFulfilledResult<KafkaService | string[]>).value;
  const rv = (r as PromiseFulfilledResult<RedisService | string>).value;
  return {
    kafkaBrokers: Array.isArray(kv) ? kv : kv.brokers,
    redisUrl: typeof rv === 'string' ? rv : rv.url,
    redisClusterUrl: services.redisCluster?.url,
    clickhouse: (c as PromiseFulfilledResult<Stack['clickhouse']>).value,
    logs: Object.fromEntries(started.map((s) => [s.name, s.logFile])),
    services,
    stop,
  };
}

export { chooseEngines, dockerAnswers, dockerEndpoint, parseEngineSetting, type EngineChoice, type EngineSetting } from './engines.ts';

/**
 * The tests' stack (tools/testkit global-setup): on containers when a Docker engine answers (then also a real
 * ClickHouse server instead of chDB), on the process launcher otherwise; one Stack either way.
 */
export async function startTestStack(opts: StackOptions & { engines?: string; env?: Record<string, string | undefined> }): Promise<Stack & { choice: EngineChoice }> {
  const setting = parseEngineSetting(opts.engines);
  const choice = chooseEngines({
    setting,
    // Not even probed when the setting or the given engines decide.
    dockerAnswers: setting === 'processes' ? false : await dockerAnswers(opts.env ?? process.env),
    given: { kafka: !!opts.kafkaBrokers, redis: !!opts.redisUrl },
  });
  opts.log?.(`test engines: ${choice.engine} (${choice.reason})`);
  if (choice.engine === 'containers') {
    // Loaded only here: machines without Docker never load testcontainers.
    const { startContainerStack } = await import('./containers.ts');
    const stack = await startContainerStack({ kafkaBrokers: opts.kafkaBrokers, redisUrl: opts.redisUrl, clickhouseUrl: opts.clickhouseUrl, log: opts.log });
    if (!opts.redisCluster) return { ...stack, choice };
    // testcontainers has no Redis Cluster module: the cluster's nodes run as processes beside the containers.
    const cluster = await startRedisCluster({ dir: opts.dir, ...opts.redisCluster, log: opts.log }).catch(async (err: unknown) => {
      await stack.stop();
      throw err;
    });
    const stop = async () => {
      await cluster.stop();
      await stack.stop();
    };
    return { ...stack, redisClusterUrl: cluster.url, services: { redisCluster: cluster }, stop, choice };
  }
  return { ...(await startStack(opts)), choice };
}
