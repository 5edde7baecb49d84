// Composition root: builds the shared clients (Kafka, Redis, ClickHouse) once, only for the targets this
// process runs, and hands typed dependencies to the service modules.
import type { FastifyInstance } from 'fastify';
import type { Producer } from 'kafkajs';
import { Redis } from 'ioredis';
import type { ClickHouseClient } from '@clickhouse/client';
import { ModuleRunner, type Module, type ModuleInstance } from '@touchstream/runtime';
import { createKafka, createIdempotentProducer, ensureTopics, topicSpecs, trackProducerConnection } from '@touchstream/kafka';
import { applyRawRetention, createClickHouse, migrate } from '@touchstream/clickhouse';
import { createIngestModule } from '@touchstream/ingest';
import { createProcessorModule } from '@touchstream/processor';
import { createSinkModule } from '@touchstream/sink';
import { createQueryModule } from '@touchstream/query';
import { type Config, targetsOf } from './config.ts';
import { createHttpServer } from './server.ts';

export const VERSION = '0.1.0';

export interface RunningApp {
  /** Base URL of the HTTP server (ingest, query, /docs). */
  url: string;
  http: FastifyInstance;
  runner: ModuleRunner;
  /** Drains and stops everything, in reverse dependency order. Idempotent. */
  stop(): Promise<void>;
}

/** Gives a module dependencies on the shared-client modules it needs. */
function dependingOn(module: Module, deps: string[]): Module {
  return { ...module, deps: [...new Set([...module.deps, ...deps])] };
}

function sharedKafkaModule(config: Config, kafka: ReturnType<typeof createKafka>, producer: Producer): Module {
  const connection = trackProducerConnection(producer);
  return {
    name: 'kafka',
    deps: [],
    async init(): Promise<ModuleInstance> {
      return {
        async start() {
          const admin = kafka.admin();
          await admin.connect();
          try {
            await ensureTopics(admin, topicSpecs({
              touchpointPartitions: config.TOUCHPOINT_PARTITIONS,
              otherPartitions: config.TOPIC_PARTITIONS,
              replicationFactor: config.TOPIC_REPLICATION_FACTOR,
              minInsyncReplicas: config.MIN_INSYNC_REPLICAS,
            }));
          } finally {
            await admin.disconnect();
          }
          await producer.connect();
        },
        async stop() {
          await producer.disconnect();
        },
        ready: () => (connection.connected() ? { ready: true } : { ready: false, reason: 'Kafka producer not connected' }),
      };
    },
  };
}

function sharedRedisModule(redis: Redis): Module {
  return {
    name: 'redis',
    deps: [],
    async init() {
      return {
        async start() {
          await redis.connect();
          await redis.ping();
        },
        async stop() {
          await redis.quit().catch(() => redis.disconnect());
        },
        ready: () => (redis.status === 'ready' ? { ready: true } : { ready: false, reason: `Redis connection is ${redis.status}` }),
      };
    },
  };
}

function sharedClickHouseModule(clickhouse: ClickHouseClient, rawTtlDays: number, log: FastifyInstance['log']): Module {
  let reachable = false;
  return {
    name: 'clickhouse',
    deps: [],
    async init() {
      return {
        async start() {
          const applied = await migrate(clickhouse, { log: (m: string) => log.info(m) });
          if (applied.length) log.info({ applied }, 'ClickHouse migrations applied');
          if (await applyRawRetention(clickhouse, rawTtlDays)) log.info({ days: rawTtlDays }, 'raw touchpoint retention set');
          reachable = true;
        },
        async stop() {
          await clickhouse.close();
        },
        ready: () => (reachable ? { ready: true } : { ready: false, reason: 'ClickHouse migrations not applied yet' }),
      };
    },
  };
}

export async function startApp(config: Config): Promise<RunningApp> {
  const targets = targetsOf(config);
  const modules: Module[] = [];
  let runner: ModuleRunner | undefined;
  const http = await createHttpServer({
    logLevel: config.LOG_LEVEL,
    version: VERSION,
    readiness: () => runner?.readiness() ?? { ready: false, modules: {} },
  });
  const log = http.log;
  const halfLifeMs = config.SCORE_HALF_LIFE_HOURS * 3600 * 1000;

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS!, clientId: config.KAFKA_CLIENT_ID, log });
  const producer = createIdempotentProducer(kafka);
  modules.push(sharedKafkaModule(config, kafka, producer));

  let redis: Redis | undefined;
  if (targets.has('processor') || targets.has('query')) {
    redis = new Redis(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 20 });
    redis.on('error', (err) => log.warn({ err: err.message }, 'Redis connection problem'));
    modules.push(sharedRedisModule(redis));
  }
  let clickhouse: ClickHouseClient | undefined;
  if (targets.has('sink') || targets.has('query')) {
    clickhouse = createClickHouse(
      config.CLICKHOUSE_URL
        ? { url: config.CLICKHOUSE_URL, username: config.CLICKHOUSE_USER, password: config.CLICKHOUSE_PASSWORD, database: config.CLICKHOUSE_DATABASE }
        : { path: config.CLICKHOUSE_PATH },
    );
    modules.push(sharedClickHouseModule(clickhouse, config.CLICKHOUSE_RAW_TTL_DAYS, log));
  }

  if (targets.has('ingest')) {
    modules.push(dependingOn(createIngestModule({
      producer,
      writeKeys: config.WRITE_KEYS,
      limits: {
        maxEventsPerRequest: config.INGEST_MAX_EVENTS,
        maxBodyBytes: config.INGEST_MAX_BODY_BYTES,
        sendTimeoutMs: config.INGEST_SEND_TIMEOUT_MS,
        touchpoint: { maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_MS },
      },
      log,
    }), ['kafka']));
  }
  if (targets.has('processor')) {
    modules.push(dependingOn(createProcessorModule({ kafka, producer, redis: redis!, groupId: `${config.KAFKA_GROUP_PREFIX}-processor`, scoring: { halfLifeMs }, log }), ['kafka', 'redis']));
  }
  if (targets.has('sink')) {
    modules.push(dependingOn(createSinkModule({ kafka, producer, clickhouse: clickhouse!, groupId: `${config.KAFKA_GROUP_PREFIX}-sink`, log }), ['kafka', 'clickhouse']));
  }
  if (targets.has('query')) {
    modules.push(dependingOn(createQueryModule({ clickhouse: clickhouse!, redis: redis!, readKeys: config.READ_KEYS, halfLifeMs, heatmapTargets: config.HEATMAP_TARGETS, log }), ['redis', 'clickhouse']));
  }

  runner = new ModuleRunner(modules);
  await runner.init({ http, log });
  // Listen before the modules start so /readyz can say what is still starting.
  const address = await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  log.info({ modules: runner.names }, 'starting modules');
  try {
    await runner.start();
  } catch (err) {
    await runner.stop().catch(() => undefined);
    await http.close();
    throw err;
  }
  log.info({ url: address }, 'touchstream is running');

  let stopping: Promise<void> | undefined;
  return {
    url: address,
    http,
    runner,
    stop() {
      stopping ??= (async () => {
        runner!.beginDrain();
        // Stop taking requests and let the ones in flight finish, then drain consumers and close clients.
        await http.close();
        await runner!.stop();
      })();
      return stopping;
    },
  };
}
