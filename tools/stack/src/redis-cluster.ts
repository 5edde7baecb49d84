// A local Redis Cluster: N masters (+ replicas) as redis-server --cluster-enabled processes, joined by
// `redis-cli --cluster create` (docs/architecture.md §18). For the cluster variant of the integration tests,
// `touchstream up --redis-cluster` and the failover test. A restart on the same directory keeps the cluster
// (each node's nodes.conf remembers it) and its ports.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, isPortFree } from './ports.ts';
import type { Log } from './process.ts';
import { startRedis, type RedisService } from './redis.ts';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Node state and logs: `<dir>/redis-cluster/node-<i>/`, `<dir>/redis-cluster/node-<i>.log`. */
  dir: string;
  /** Default 3 (the fewest a Redis Cluster accepts). */
  masters?: number;
  /** Replicas per master, default 0; 1 lets a master fail over (kill -9 → its replica is promoted). */
  replicasPerMaster?: number;
  appendfsync?: 'always' | 'everysec';
  /** How long a master may be unreachable before the replicas elect a new one; default 2000 ms. */
  nodeTimeoutMs?: number;
  readyTimeoutMs?: number;
  log?: Log;
}

export interface RedisClusterService {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`: every node as a seed (REDIS_URL for the app). */
  readonly url: string;
  /** Every node (masters first as created; roles change on failover: see `masterPorts()`). */
  readonly nodes: RedisService[];
  /** Ports of the nodes that are masters now. */
  masterPorts(): Promise<number[]>;
  /** Resolves once every slot is served by a reachable master and all live nodes agree (cluster_state:ok). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (port + 10000) is free too; the previous run's when still free. */
async function nodePort(previous: number | undefined): Promise<number> {
  if (previous && (await isPortFree(previous)) && (await isPortFree(previous + 10_000))) return previous;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await isPortFree(port + 10_000))) return port;
  }
  throw new Error('redis-cluster: no free port pair (port, port + 10000) for a cluster node');
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const text = (await client.call('CLUSTER', 'INFO')) as string;
    return Object.fromEntries(text.split(/\r?\n/).filter(Boolean).map((l) => l.split(':') as [string, string]));
  } finally {
    client.disconnect();
  }
}

export async function startRedisCluster(opts: RedisClusterOptions): Promise<RedisClusterService> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 0;
  const root = path.join(path.resolve(opts.dir), 'redis-cluster');
  fs.mkdirSync(root, { recursive: true });
  const nodes: RedisService[] = [];
  const stop = async () => {
    for (const node of [...nodes].reverse()) await node.stop().catch((err: Error) => opts.log?.(`${node.name}: stop failed: ${err.message}`));
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const name = `node-${i}`;
      let previous: number | undefined;
      try {
        previous = Number.parseInt(fs.readFileSync(path.join(root, name, 'port'), 'utf8'), 10) || undefined;
      } catch {
        // first run in this directory
      }
      nodes.push(await startRedis({
        dir: root,
        name,
        port: await nodePort(previous),
        appendfsync: opts.appendfsync,
        readyTimeoutMs: opts.readyTimeoutMs,
        log: opts.log,
        extraArgs: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
          // The slots of a failed master go unserved until its replica takes over; the others keep serving.
          '--cluster-require-full-coverage', 'no',
        ],
      }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    const known = Number((await clusterInfo(nodes[0]!.port)).cluster_known_nodes ?? '1');
    if (known < nodes.length) {
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 })
        .catch((err: Error & { stdout?: string; stderr?: string }) => {
          throw new Error(`redis-cluster: redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
        });
    }
    const service: RedisClusterService = {
      url: `redis+cluster://${addresses.join(',')}`,
      nodes,
      async masterPorts() {
        const ports: number[] = [];
        for (const node of nodes) {
          if (!node.running) continue;
          const client = new Redis({ port: node.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
          try {
            if (((await client.call('ROLE')) as [string])[0] === 'master') ports.push(node.port);
          } finally {
            client.disconnect();
          }
        }
        return ports;
      },
      async waitHealthy(timeoutMs = opts.readyTimeoutMs ?? 60_000) {
        const deadline = Date.now() + timeoutMs;
        let last = 'no answer';
        while (Date.now() < deadline) {
          const live = nodes.filter((n) => n.running);
          const infos = await Promise.all(live.map((n) => clusterInfo(n.port).catch((err: Error) => ({ error: err.message }) as Record<string, string>)));
          const bad = infos.find((info) => info.cluster_state !== 'ok' || info.cluster_slots_ok !== '16384');
          if (!bad) return;
          last = JSON.stringify(bad);
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`redis-cluster: not healthy within ${timeoutMs / 1000} s (last: ${last}); see ${root}`);
      },
      stop,
    };
    await service.waitHealthy();
    opts.log?.(`redis-cluster: ready (${masters} masters, ${replicas} replica(s) each) at ${service.url}`);
    return service;
  } catch (err) {
    await stop();
    throw err;
  }
}
