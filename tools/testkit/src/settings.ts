// The test tiers' knobs, read from the environment in this one place (the project's configuration is
// read in apps/touchstream/src/config.ts; tests have their own few switches).
export interface TestSettings {
  /** Existing engines instead of the run's own stack (KAFKA_BROKERS, REDIS_URL, CLICKHOUSE_URL). */
  kafkaBrokers?: string;
  redisUrl?: string;
  /** An existing Redis Cluster (REDIS_CLUSTER_URL=redis+cluster://h:p,…) instead of the run's own 3 masters. */
  redisClusterUrl?: string;
  clickhouseUrl?: string;
  /** TOUCHSTREAM_TEST_ENGINES: auto (containers when a Docker engine answers, else processes), containers, processes. */
  engines: string;
  /** TOUCHSTREAM_KEEP_TEST_STACK=1 keeps the engines' data and logs for inspection. */
  keepStack: boolean;
  /** The chaos suite's floor for acknowledged events/s in its high-rate scenario. */
  chaosMinAckRate: number;
  /** Extra sink kills in the chaos suite (0 by default). */
  chaosSinkKills: number;
  /** Seed of the fuzz suite (default: from the clock; printed so a failure can be replayed). */
  fuzzSeed: number;
}

export function testSettings(env: Record<string, string | undefined> = process.env): TestSettings {
  return {
    kafkaBrokers: env.KAFKA_BROKERS || undefined,
    redisUrl: env.REDIS_URL || undefined,
    redisClusterUrl: env.REDIS_CLUSTER_URL || undefined,
    clickhouseUrl: env.CLICKHOUSE_URL || undefined,
    engines: env.TOUCHSTREAM_TEST_ENGINES ?? 'auto',
    keepStack: Boolean(env.TOUCHSTREAM_KEEP_TEST_STACK),
    chaosMinAckRate: Number(env.TOUCHSTREAM_CHAOS_MIN_ACK_RATE ?? 2_500),
    chaosSinkKills: Number(env.TOUCHSTREAM_CHAOS_SINK_KILLS ?? 0),
    fuzzSeed: Number(env.FUZZ_SEED ?? Date.now() % 2 ** 31),
  };
}

/**
 * The environment of a child process the tests start (a `touchstream run`): only PATH and HOME from ours, so
 * the child's configuration is exactly `extra` and never an accident of the developer's shell.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extra };
}
