// The stack on containers (testcontainers), for machines where a Docker engine answers: Kafka (KRaft), Redis and a
// ClickHouse server, each in its own container on a random host port; stop() removes them (and testcontainers'
// reaper removes them if this process dies). Same Stack as the process launcher (index.ts).
import { ClickHouseContainer } from '@testcontainers/clickhouse';
import { KafkaContainer } from '@testcontainers/kafka';
import { RedisContainer } from '@testcontainers/redis';
import type { StartedTestContainer } from 'testcontainers';

/** Images: the versions docker-compose.yml runs (Kafka: the Confluent image testcontainers' Kafka module drives). */
export const containerImages = {
  kafka: 'confluentinc/cp-kafka:7.9.0',
  redis: 'redis:7',
  clickhouse: 'clickhouse/clickhouse-server:26.7',
} as const;

/** What startTestStack returns as its Stack (index.ts; not imported from there, which imports this file lazily). */
export interface ContainerStack {
  kafkaBrokers: string[];
  redisUrl: string;
  clickhouse: { url: string };
  logs: Record<string, string>;
  services: Record<string, never>;
  stop(): Promise<void>;
}

/** The Kafka module's listener for clients outside the container network. */
const KAFKA_HOST_PORT = 9093;

export async function startContainerStack(opts: { kafkaBrokers?: string; redisUrl?: string; clickhouseUrl?: string; log?: (line: string) => void }): Promise<ContainerStack> {
  const log = opts.log ?? (() => undefined);
  const started: StartedTestContainer[] = [];
  const track = async <T extends StartedTestContainer>(what: string, start: Promise<T>): Promise<T> => {
    const c = await start;
    started.push(c);
    log(`${what}: container ${c.getId().slice(0, 12)} on ${c.getHost()}`);
    return c;
  };
  const stop = async () => {
    for (const c of started.splice(0).reverse()) await c.stop().catch((err: Error) => log(`container stop failed: ${err.message}`));
  };
  try {
    const [kafka, redis, clickhouse] = await Promise.all([
      opts.kafkaBrokers ? undefined : track('kafka', new KafkaContainer(containerImages.kafka).withKraft().start()),
      opts.redisUrl ? undefined : track('redis', new RedisContainer(containerImages.redis).start()),
      opts.clickhouseUrl ? undefined : track('clickhouse', new ClickHouseContainer(containerImages.clickhouse).start()),
    ]);
    // Credentials in the URL: the tests hand one string to @clickhouse/client (which reads them from it) and the app.
    const chUrl = clickhouse ? new URL(clickhouse.getHttpUrl()) : undefined;
    if (chUrl && clickhouse) {
      chUrl.username = clickhouse.getUsername();
      chUrl.password = clickhouse.getPassword();
    }
    return {
      kafkaBrokers: kafka ? [`${kafka.getHost()}:${kafka.getMappedPort(KAFKA_HOST_PORT)}`] : opts.kafkaBrokers!.split(',').map((b) => b.trim()),
      redisUrl: redis ? redis.getConnectionUrl() : opts.redisUrl!,
      clickhouse: { url: chUrl ? chUrl.toString().replace(/\/$/, '') : opts.clickhouseUrl! },
      logs: {},
      services: {},
      stop: (() => {
        let stopping: Promise<void> | undefined;
        return () => (stopping ??= stop());
      })(),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
