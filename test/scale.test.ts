// Scale out (docs/architecture.md §18): processors added and removed under load on a Redis Cluster, and a Redis
// master killed -9 with its replica promoted, proven with the chaos suite's invariants (test/chaos.test.ts), shared with
// it in test/invariants.test-support.ts.
//
// Its own stack: Kafka, and a Redis Cluster of 3 masters with one replica each (appendfsync always), which this test
// kills masters of. The services are the real executable: one ingest, one store (`sink,query`: embedded chDB lives
// in one process, so several sinks need a ClickHouse server — README "Scaling out") and 1 to 3 processors in one
// consumer group, each its own process. Under a steady load (test/chaos-load.test-support.ts): a second and a third
// processor join (rebalances while batches are in flight), one leaves by SIGTERM (drain), one is killed -9 (its
// partitions move after the session timeout and its uncommitted batch is redone by another member), and a Redis
// master is killed -9 (its replica is promoted; the processor retries through the failover). Afterwards: every
// acknowledged event stored once, aggregates = raw counts, the processors' per-customer counters = acknowledged
// events, every signal and alert once. Throughput per processor count is measured by `./touchstream bench`, not here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startStack, freePort, type Stack } from '@touchstream/stack';
import { createRedisClient, type RedisClient } from '@touchstream/runtime';
import { testSettings } from '@touchstream/testkit';
import { Fleet, assertExactlyOnce, probeEndToEnd, sleep, startLoad, type LoadGenerator, type ScenarioFigures } from './invariants.test-support.js';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `scale-write-${run}`;
const READ_KEY = `scale-read-${run}`;
const CHANNEL = `scale_${run}`;
const PROBE_CHANNEL = `scale_probe_${run}`;
const CUSTOMER_PREFIX = `scale-${run}-c`;
const CUSTOMERS = 60;
const SEND_TIMEOUT_MS = 2000;
/** Load before and after each change. */
const STEADY_MS = 3000;
/** 100 events/s: batches of 20 every 200 ms. */
const RATE = { batchSize: 20, intervalMs: 200, concurrency: 4 };
const settings = testSettings();

let dir: string;
let stack: Stack | undefined;
let redis: RedisClient | undefined;
let load: LoadGenerator | undefined;
let env: Record<string, string>;
let processorsStarted = 0;
/** Running children by role: `ingest`, `store`, `processor-<n>`; a timed-out wait prints every processor's output. */
const fleet: Fleet = new Fleet({
  env: () => env,
  stack: () => stack,
  alsoShow: () => [...fleet.current.values()].filter((c) => c.role.startsWith('processor')),
});
const current = fleet.current;
const eventually = fleet.eventually.bind(fleet);

const start = async (role: string, target: string) => fleet.start(role, target, await freePort());
const waitReady = fleet.waitReady.bind(fleet);
const addProcessor = async () => waitReady(await start(`processor-${++processorsStarted}`, 'processor'));

/** The processor started first among those still running. */
const oldestProcessor = () => [...current.values()].find((c) => c.role.startsWith('processor'))!;

const probe = (scenario: string, since: number) =>
  probeEndToEnd({ fleet, redis: redis!, label: 'scale', run, scenario, since, timeoutMs: 240_000, probeChannel: PROBE_CHANNEL, writeKey: WRITE_KEY, readKey: READ_KEY, sendTimeoutMs: SEND_TIMEOUT_MS });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-scale-'));
  const started = Date.now();
  stack = await startStack({ dir, kafkaHeapMb: 384, redisAppendfsync: 'always', redisCluster: { masters: 3, replicasPerMaster: 1 } });
  console.log(`scale: own stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${dir}); Redis Cluster ${stack.redisClusterUrl}`);
  env = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    REDIS_URL: stack.redisClusterUrl!,
    CLICKHOUSE_PATH: path.join(dir, 'chdb'),
    WRITE_KEYS: `${WRITE_KEY}=scale`,
    READ_KEYS: `${READ_KEY}=analyst`,
    KAFKA_GROUP_PREFIX: `scale-${run}`,
    // Enough partitions for three processors to each own some.
    TOUCHPOINT_PARTITIONS: '6',
    TOPIC_PARTITIONS: '2',
    INGEST_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS),
    SHUTDOWN_TIMEOUT_MS: '15000',
    // The default 30 s: on a shared 2-core machine a sink's chDB store can outlast a 10 s session (the chaos suite's).
    KAFKA_SESSION_TIMEOUT_MS: '30000',
    LOG_LEVEL: 'warn',
  };
  redis = createRedisClient(stack.redisClusterUrl!, { maxRetriesPerRequest: 5 });
  redis.on('error', () => undefined);
  await waitReady(await start('ingest', 'ingest'));
  await Promise.all([addProcessor(), start('store', 'sink,query').then(waitReady)]);
}, 240_000);

afterAll(async () => {
  load?.proc.kill('SIGKILL');
  await fleet.killAll();
  redis?.disconnect();
  await stack?.stop();
  if (dir && !settings.keepStack) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('scale out: processors join and leave, a Redis master fails over, under load', () => {
  it('loses no acknowledged event and counts none twice', async () => {
    const ackFile = path.join(dir, 'acked.ndjson');
    writeFileSync(ackFile, '');
    load = startLoad({
      url: fleet.get('ingest').url,
      writeKey: WRITE_KEY,
      customerPrefix: CUSTOMER_PREFIX,
      customers: CUSTOMERS,
      channel: CHANNEL,
      rate: RATE,
      ackFile,
      requestTimeoutMs: SEND_TIMEOUT_MS + 3000,
    });
    const phase = load.phase;

    type Outcome = { note?: string };
    const scenarios: Array<{ name: string; fault: () => Promise<void | Outcome> }> = [
      { name: 'one processor', fault: async () => {} },
      { name: 'second processor joins', fault: async () => void (await addProcessor()) },
      { name: 'third processor joins', fault: async () => void (await addProcessor()) },
      { name: 'a processor leaves (SIGTERM)', fault: async () => {
        const leaving = oldestProcessor();
        await fleet.stopGracefully(leaving);
        current.delete(leaving.role);
      } },
      { name: 'a processor is killed -9', fault: async () => {
        const killed = oldestProcessor();
        killed.proc.kill('SIGKILL');
        await killed.exited;
        current.delete(killed.role);
        await addProcessor();
      } },
      { name: 'redis master kill -9 (failover)', fault: async () => {
        const cluster = stack!.services.redisCluster!;
        const masters = await cluster.masterPorts();
        const victim = cluster.nodes.find((n) => n.port === masters[0])!;
        const t0 = Date.now();
        await victim.stop({ signal: 'SIGKILL' });
        // Promoted once the live nodes count as many masters as before (the victim's replica took its slots).
        await eventually('a replica promoted', async () => (await cluster.masterPorts()).length === masters.length, 60_000);
        await cluster.waitHealthy(60_000);
        const promotedMs = Date.now() - t0;
        // The old master comes back as a replica of the promoted one.
        await victim.start();
        return { note: `master :${victim.port} killed -9; slots served again after ${promotedMs} ms (replica promoted)` };
      } },
    ];
    const figures: ScenarioFigures[] = [];
    for (const s of scenarios) {
      const key = s.name.replace(/[^a-z0-9]+/g, '-');
      phase(key);
      await sleep(STEADY_MS);
      const startedAt = Date.now();
      const outcome = await s.fault();
      const recoverMs = await probe(key, startedAt);
      figures.push({ scenario: key, recoverMs, note: outcome ? outcome.note : undefined });
      console.log(`scale: ${s.name}: recovered end to end ${recoverMs} ms after the change`);
      await sleep(STEADY_MS);
    }
    phase('after');
    await sleep(1000);

    const { summary, acked, ackedIds } = await load.finish();
    await assertExactlyOnce({
      label: 'scale',
      run,
      fleet,
      stack: stack!,
      redis: redis!,
      clickhousePath: env.CLICKHOUSE_PATH!,
      dir,
      channel: CHANNEL,
      customerPrefix: CUSTOMER_PREFIX,
      readKey: READ_KEY,
      summary,
      acked,
      ackedIds,
      figures,
      checks: [],
    });
  }, 900_000);
});
