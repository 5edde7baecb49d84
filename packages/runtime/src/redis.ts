// One Redis client type for a standalone server and a Redis Cluster (docs/architecture.md §18). The processor,
// query and notifier take either: every call they make touches one slot (keys hash-tagged per customer).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/** What a `REDIS_URL` names: one server, or the seed nodes of a cluster. */
export type RedisTarget =
  | { cluster: false; url: string }
  | { cluster: true; nodes: Array<{ host: string; port: number }>; tls: boolean; username?: string; password?: string };

/** `redis[s]://host:port[/db]` (standalone) or `redis[s]+cluster://[user:pass@]host:port,host:port,…` (seed nodes). */
export const redisUrlPattern = /^rediss?(\+cluster)?:\/\/./;

export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/?$/.exec(url);
  if (!m) {
    if (!/^rediss?:\/\//.test(url)) throw new Error(`not a Redis URL: ${url} (redis://host:port or redis+cluster://host:port,host:port)`);
    return { cluster: false, url };
  }
  const nodes = m[4]!.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const port = Number(hostPort.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`Redis cluster node "${hostPort}" is not host:port`);
    return { host: hostPort.slice(0, at), port };
  });
  const decode = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  return { cluster: true, nodes, tls: m[1] === 'rediss', username: decode(m[2]), password: decode(m[3]) };
}

/**
 * A client for `url`: a `Redis` for one server, a `Cluster` (slot map from the seed nodes, MOVED/ASK followed,
 * a failover retried) for `redis+cluster://`. `options` apply to every node connection.
 */
export function createRedisClient(url: string, options: RedisOptions = {}, clusterOptions: ClusterOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  if (!target.cluster) return new Redis(target.url, options);
  const { lazyConnect, ...nodeOptions } = options;
  return new Cluster(target.nodes, {
    lazyConnect,
    // No auto-pipelining: with it, ioredis 5.11 does not follow the MOVED replies of a master failover (every call
    // to the failed-over slots kept failing with MOVED; without it, none failed: measured with kill -9 of a master).
    enableAutoPipelining: false,
    // A master failover takes a few seconds (cluster-node-timeout + election): keep retrying through it.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    maxRedirections: 32,
    ...clusterOptions,
    redisOptions: {
      ...nodeOptions,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  });
}
