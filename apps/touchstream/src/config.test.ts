import { describe, expect, it } from 'vitest';
import { accessKeysOf, ConfigError, loadConfig, targetsOf } from './config.ts';
import { hashKey } from '@touchstream/runtime';

const full = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  REDIS_URL: 'redis://127.0.0.1:6380',
  WRITE_KEYS: 'write-key-web=web',
  READ_KEYS: 'read-key-analyst=analyst',
};

describe('config', () => {
  it('applies defaults', () => {
    const c = loadConfig(full);
    expect(c.HTTP_PORT).toBe(8080);
    expect(c.TOUCHPOINT_PARTITIONS).toBe(12);
    expect(c.WRITE_KEYS).toEqual({ 'write-key-web': 'web' });
    expect([...targetsOf(c)]).toEqual(['ingest', 'processor', 'sink', 'query', 'notifier', 'anomaly']);
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ HTTP_PORT: 'eighty', TOUCHSTREAM_TARGET: 'ingest,nope', WRITE_KEYS: 'short=web' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/HTTP_PORT/);
      expect(problems).toMatch(/TOUCHSTREAM_TARGET/);
      expect(problems).toMatch(/shorter than 8/);
    }
  });

  it('needs only what the chosen targets use', () => {
    expect(() => loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', TOUCHSTREAM_TARGET: 'processor' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://x:1', TOUCHSTREAM_TARGET: 'processor' })).not.toThrow();
    expect(() => loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis+cluster://x:1,y:2', TOUCHSTREAM_TARGET: 'processor' })).not.toThrow();
    expect(() => loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis+cluster://x:1,y', TOUCHSTREAM_TARGET: 'processor' })).toThrow(/REDIS_URL.*redis\+cluster/);
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'sink' })).toThrow(/CLICKHOUSE_URL/);
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'query' })).toThrow(/CLICKHOUSE_URL/);
    // Together they share the process's embedded chDB.
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'sink,query' })).not.toThrow();
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'sink', CLICKHOUSE_URL: 'http://127.0.0.1:8123' })).not.toThrow();
    // The KPI detector warm-starts from ClickHouse: beside the sink (embedded chDB) or with a server.
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'anomaly' })).toThrow(/CLICKHOUSE_URL: is required when anomaly runs without sink/);
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'sink,query,anomaly' })).not.toThrow();
    expect(() => loadConfig({ ...full, TOUCHSTREAM_TARGET: 'anomaly', CLICKHOUSE_URL: 'http://127.0.0.1:8123' })).not.toThrow();
  });

  it('takes an optional rules file and a sweep tick', () => {
    expect(loadConfig(full)).toMatchObject({ RULES_FILE: undefined, TIMER_SWEEP_INTERVAL_MS: 1000, SCORE_HALF_LIFE_HOURS: undefined });
    expect(loadConfig({ ...full, RULES_FILE: 'rules/default.yaml', TIMER_SWEEP_INTERVAL_MS: '250' })).toMatchObject({ RULES_FILE: 'rules/default.yaml', TIMER_SWEEP_INTERVAL_MS: 250 });
    expect(() => loadConfig({ ...full, TIMER_SWEEP_INTERVAL_MS: '5' })).toThrow(/TIMER_SWEEP_INTERVAL_MS/);
  });

  it('keeps write and read keys apart', () => {
    expect(() => loadConfig({ ...full, READ_KEYS: 'write-key-web=analyst' })).toThrow(/both WRITE_KEYS and READ_KEYS/);
  });

  it('takes keys in clear or as sha256:<hex>, and catches one key in two roles however it is written', () => {
    const hashed = hashKey('analyst-write-key-1');
    const c = loadConfig({ ...full, ANALYST_WRITE_KEYS: `${hashed}=alice`, ADMIN_KEY: 'admin-key-0123456789' });
    expect(accessKeysOf(c)).toMatchObject({ 'analyst-write': { [hashed]: 'alice' }, admin: { 'admin-key-0123456789': 'admin' } });
    expect(() => loadConfig({ ...full, READ_KEYS: `${hashKey('write-key-web')}=analyst` })).toThrow(/both WRITE_KEYS and READ_KEYS/);
    expect(() => loadConfig({ ...full, READ_KEYS: 'sha256:abc=analyst' })).toThrow(/sha256:<64 hex digits>/);
  });

  it('takes CORS origins per service and per-key rate limits, with none and generous defaults', () => {
    const c = loadConfig(full);
    expect(c).toMatchObject({ INGEST_CORS_ORIGINS: [], QUERY_CORS_ORIGINS: [], RATE_LIMIT_WRITE_PER_MINUTE: 120_000 });
    expect(loadConfig({ ...full, INGEST_CORS_ORIGINS: 'https://www.example.com, http://localhost:3000' }).INGEST_CORS_ORIGINS).toEqual(['https://www.example.com', 'http://localhost:3000']);
    expect(() => loadConfig({ ...full, QUERY_CORS_ORIGINS: '*' })).toThrow(/QUERY_CORS_ORIGINS/);
  });
});

describe('config: retention and heat map targets', () => {
  it('defaults raw retention to 400 days and parses heat map targets', () => {
    expect(loadConfig(full).CLICKHOUSE_RAW_TTL_DAYS).toBe(400);
    expect(loadConfig(full).HEATMAP_TARGETS).toEqual({});
    const c = loadConfig({ ...full, CLICKHOUSE_RAW_TTL_DAYS: '30', HEATMAP_TARGETS: 'nps:40:20, avg_wait_ms:30000' });
    expect(c.CLICKHOUSE_RAW_TTL_DAYS).toBe(30);
    // avg_wait_ms is lower-is-better: without warn the band is 10% above the target.
    expect(c.HEATMAP_TARGETS).toEqual({ nps: { target: 40, warn: 20 }, avg_wait_ms: { target: 30000, warn: 33000 } });
  });

  it('reports every bad target together with other problems', () => {
    try {
      loadConfig({ ...full, CLICKHOUSE_RAW_TTL_DAYS: '0', HEATMAP_TARGETS: 'happiness:5,nps:10:20,csat:x' });
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/CLICKHOUSE_RAW_TTL_DAYS/);
      expect(problems).toMatch(/HEATMAP_TARGETS: "happiness" is not a heat map metric/);
      expect(problems).toMatch(/nps is higher is better, so its warn threshold must be at most the target/);
      expect(problems).toMatch(/"csat:x" is not metric:target/);
    }
  });

  it('serves /metrics by default; METRICS_ENABLED=false turns it off; a METRICS_KEY must be long', () => {
    expect(loadConfig(full)).toMatchObject({ METRICS_ENABLED: true, METRICS_KEY: undefined });
    expect(loadConfig({ ...full, METRICS_ENABLED: 'false' }).METRICS_ENABLED).toBe(false);
    expect(loadConfig({ ...full, METRICS_ENABLED: '1', METRICS_KEY: 'a-scraper-secret-key' }).METRICS_KEY).toBe('a-scraper-secret-key');
    expect(() => loadConfig({ ...full, METRICS_ENABLED: 'maybe', METRICS_KEY: 'short' })).toThrow(/METRICS_ENABLED[\s\S]*METRICS_KEY|METRICS_KEY[\s\S]*METRICS_ENABLED/);
  });
});
