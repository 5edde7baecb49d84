import { describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient, parseRedisUrl } from './redis.ts';

describe('parseRedisUrl', () => {
  it('keeps a standalone URL as it is', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380/2')).toEqual({ cluster: false, url: 'redis://127.0.0.1:6380/2' });
    expect(parseRedisUrl('rediss://user:pw@cache:6380')).toEqual({ cluster: false, url: 'rediss://user:pw@cache:6380' });
  });

  it('reads the seed nodes, credentials and TLS of a cluster URL', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,redis-1.redis:7001/')).toEqual({
      cluster: true, tls: false, username: undefined, password: undefined,
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-1.redis', port: 7001 }],
    });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss@h:6379')).toMatchObject({ cluster: true, tls: true, username: 'app', password: 'p@ss' });
  });

  it('says what is wrong with a node or a scheme', () => {
    expect(() => parseRedisUrl('redis+cluster://h1:7000,h2')).toThrow('Redis cluster node "h2" is not host:port');
    expect(() => parseRedisUrl('http://h:1')).toThrow('not a Redis URL');
  });
});

describe('createRedisClient', () => {
  it('builds a Cluster for a cluster URL and a Redis otherwise', () => {
    const cluster = createRedisClient('redis+cluster://127.0.0.1:1,127.0.0.1:2', { lazyConnect: true });
    const single = createRedisClient('redis://127.0.0.1:1', { lazyConnect: true });
    expect(cluster).toBeInstanceOf(Cluster);
    expect(cluster.isCluster).toBe(true);
    expect(single).toBeInstanceOf(Redis);
    cluster.disconnect();
    single.disconnect();
  });
});
