// Composition root: builds the shared clients (Kafka, Redis, ClickHouse) once, only for the targets this
// process runs, and hands typed dependencies to the service modules.
import type { FastifyInstance } from 'fastify';
import type { Producer } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import { createRedisClient, ModuleRunner, type Module, type ModuleInstance, type RedisClient } from '@touchstream/runtime';
import { createKafka, createIdempotentProducer, ensureTopics, ErasedCustomers, followErasures, type ErasureFollower, startLagMonitor, topicNames, topicSpecs, trackProducerConnection, type LaggingGroup, type LagMonitor } from '@touchstream/kafka';
import { applyRawRetention, createClickHouse, migrate, rawRetentionTables } from '@touchstream/clickhouse';
import { createIngestModule } from '@touchstream/ingest';
import { createKpiAnomalyModule, createProcessorModule, loadRulesFile, resolveScoringConfig, type KpiAnomalyModule, type ProcessorModule } from '@touchstream/processor';
import { createSinkModule } from '@touchstream/sink';
import { createAlertStreamModule, createQueryModule, type QueryModule } from '@touchstream/query';
import { createNotifierModule } from '@touchstream/notifier';
import { createDashboardModule } from '@touchstream/dashboard';
import { createPrivacyModule } from '@touchstream/privacy';
import { pseudonymousCustomerId } from '@touchstream/contracts';
import { accessKeysOf, type Config, type Target, targetsOf } from './config.ts';
import { createHttpServer } from './server.ts';
import { parseWebhooks } from './webhooks-config.ts';
import { startMetrics } from '@touchstream/telemetry';
import { instrumentClickHouse, instrumentProducer, instrumentRedis } from './metrics.ts';
import { loadSegmentMapping } from './segment-config.ts';

export const VERSION = '0.1.0';

export interface RunningApp {
  /** Base URL of the HTTP server (ingest, query, /docs). */
  url: string;
  http: FastifyInstance;
  runner: ModuleRunner;
  /** Drains and stops everything, in reverse dependency order. Idempotent. */
  stop(): Promise<void>;
  /** Re-reads the processor's rules file (SIGHUP); an invalid file is rejected (logged) and the rules in force stay. */
  reloadRules(): Promise<{ ok: boolean; error?: string }>;
  /** Consumer lag of the groups this process runs (processor, sink, notifier), read from the broker every few seconds. */
  lag?: LagMonitor;
}

/** Reads the lag of the consumer groups this process runs; also the `touchstream.consumer.lag` gauge. */
function lagModule(kafka: ReturnType<typeof createKafka>, groups: LaggingGroup[], log: FastifyInstance['log']): Module & { monitor(): LagMonitor | undefined } {
  let monitor: LagMonitor | undefined;
  return {
    name: 'lag',
    deps: ['kafka'],
    monitor: () => monitor,
    async init() {
      return {
        async start() {
          monitor = startLagMonitor({ kafka, groups, log });
        },
        async stop() {
          await monitor?.stop();
        },
        // Informational: a lagging pipeline is still a running one.
        ready: () => ({ ready: true }),
      };
    },
  };
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

function sharedRedisModule(redis: RedisClient): Module {
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
          // fcr_contacts copies raw contacts (customer ids included): it expires with the raw table.
          for (const table of rawRetentionTables) {
            if (await applyRawRetention(clickhouse, rawTtlDays, table)) log.info({ days: rawTtlDays, table }, 'raw retention set');
          }
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

/**
 * Privacy (docs/architecture.md §14): with PRIVACY_SECRET, every process follows erasures.v1 into `erased` before its
 * consumers and routes start (module `erasures`); without it there is nothing to follow.
 */
function sharedErasuresModule(config: Config, kafka: ReturnType<typeof createKafka>, erased: ErasedCustomers, log: FastifyInstance['log']): Module {
  let follower: ErasureFollower | undefined;
  return {
    name: 'erasures',
    deps: ['kafka'],
    async init() {
      return {
        async start() {
          follower = await followErasures({ kafka, erased, groupPrefix: config.KAFKA_GROUP_PREFIX, log });
        },
        async stop() {
          await follower?.stop();
        },
        ready: () => (follower ? { ready: true } : { ready: false, reason: 'erasures.v1 not read yet' }),
      };
    },
  };
}

type SharedClient = 'kafka' | 'redis' | 'clickhouse';

/** The shared clients of one process, built once in startApp (only those its targets need). */
interface SharedClients {
  config: Config;
  kafka: ReturnType<typeof createKafka>;
  producer: Producer;
  redis?: RedisClient;
  clickhouse?: ClickHouseClient;
  /** Half-life of the score the query API decays live scores with (the rules file's, at start). */
  halfLifeMs: number;
  /** Whether the rules file turns KPI deviation alerts on (at start): an idle detector's group is not a lagging one. */
  anomaliesEnabled: boolean;
  scoring: { halfLifeMs?: number };
  log: FastifyInstance['log'];
  /** Erased customers (followed from erasures.v1); only with PRIVACY_SECRET. */
  erased?: ErasedCustomers;
}

/** Ingest's part of §14: pseudonyms before Kafka, and refusing erased customers' new events (policy refuse). */
function ingestPrivacy(config: Config, erased: ErasedCustomers | undefined) {
  const secret = config.PRIVACY_SECRET;
  return {
    storedCustomerId: secret && config.PSEUDONYMIZE_CUSTOMER_IDS ? (id: string) => pseudonymousCustomerId(secret, id) : undefined,
    isErased: erased && config.ERASED_CUSTOMER_POLICY === 'refuse' ? (id: string) => erased.erasedAtOf(id) !== undefined : undefined,
  };
}

/** What one target contributes: its modules (each depending on the shared clients it uses) and its consumer groups. */
interface TargetParts {
  modules: Module[];
  laggingGroups: LaggingGroup[];
  processor?: ProcessorModule;
  anomaly?: KpiAnomalyModule;
  query?: QueryModule;
}

/**
 * The one table of the executable: target → the shared clients it needs → its modules. `--target` picks rows;
 * startApp builds the union of their clients, then their modules, which start in dependency order.
 */
const targetTable: Record<Target, { clients: SharedClient[]; build(c: SharedClients): TargetParts }> = {
  ingest: {
    clients: ['kafka'],
    build: ({ config, kafka, producer, log, erased }) => ({
      modules: [dependingOn(createIngestModule({
        producer,
        kafka,
        segmentMapping: loadSegmentMapping(config).mapping,
        limits: {
          maxEventsPerRequest: config.INGEST_MAX_EVENTS,
          maxBodyBytes: config.INGEST_MAX_BODY_BYTES,
          sendTimeoutMs: config.INGEST_SEND_TIMEOUT_MS,
          maxInFlightBytes: config.INGEST_MAX_IN_FLIGHT_BYTES,
          touchpoint: { maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_MS },
        },
        privacy: ingestPrivacy(config, erased),
        log,
      }), ['kafka', ...(erased ? ['erasures'] : [])])],
      laggingGroups: [],
    }),
  },
  processor: {
    clients: ['kafka', 'redis'],
    build: ({ config, kafka, producer, redis, scoring, log, erased }) => {
      const groupId = `${config.KAFKA_GROUP_PREFIX}-processor`;
      const processor = createProcessorModule({
        kafka, producer, redis: redis!, groupId,
        rulesFile: config.RULES_FILE, touchpointsFile: config.TOUCHPOINTS_FILE, churnModelFile: config.CHURN_MODEL_FILE, scoring, sweepIntervalMs: config.TIMER_SWEEP_INTERVAL_MS,
        consumer: { sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS }, log, erased,
      });
      return { modules: [dependingOn(processor, ['kafka', 'redis', ...(erased ? ['erasures'] : [])])], laggingGroups: [{ groupId, topics: [topicNames.touchpoints] }], processor };
    },
  },
  // KPI deviation alerts (§21): one instance over every partition (its own group), warm-started from ClickHouse.
  anomaly: {
    clients: ['kafka', 'clickhouse'],
    build: ({ config, kafka, producer, clickhouse, scoring, anomaliesEnabled, log }) => {
      const groupId = `${config.KAFKA_GROUP_PREFIX}-anomaly`;
      const anomaly = createKpiAnomalyModule({ kafka, producer, clickhouse, groupId, rulesFile: config.RULES_FILE, scoring, log });
      // After clickhouse: its migrations have run when the warm start reads the touchpoints table.
      return { modules: [dependingOn(anomaly, ['kafka', 'clickhouse'])], laggingGroups: anomaliesEnabled ? [{ groupId, topics: [topicNames.touchpoints] }] : [], anomaly };
    },
  },
  sink: {
    clients: ['kafka', 'clickhouse'],
    build: ({ config, kafka, producer, clickhouse, log, erased }) => {
      const groupId = `${config.KAFKA_GROUP_PREFIX}-sink`;
      return {
        modules: [dependingOn(createSinkModule({ kafka, producer, clickhouse: clickhouse!, groupId, sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS, log, erased }), ['kafka', 'clickhouse', ...(erased ? ['erasures'] : [])])],
        laggingGroups: [{ groupId, topics: [topicNames.touchpoints, topicNames.signals, topicNames.alerts, topicNames.profiles] }],
      };
    },
  },
  query: {
    clients: ['kafka', 'redis', 'clickhouse'],
    build: ({ config, kafka, producer, redis, clickhouse, halfLifeMs, log, erased }) => {
      const query = createQueryModule({ clickhouse: clickhouse!, redis: redis!, halfLifeMs, heatmapTargets: config.HEATMAP_TARGETS, touchpointsFile: config.TOUCHPOINTS_FILE, personasFile: config.PERSONAS_FILE, log });
      return {
        modules: [
          dependingOn(query, ['redis', 'clickhouse']),
          dependingOn(createAlertStreamModule({ kafka, groupPrefix: config.KAFKA_GROUP_PREFIX, log }), ['kafka']),
          // The analysts' page calls the query API above with the analyst's read key.
          dependingOn(createDashboardModule(), ['query']),
          // Erase and export a customer (admin key): the stores the query API reads, and Kafka for erasures.v1.
          dependingOn(createPrivacyModule({
            redis: redis!, clickhouse: clickhouse!, producer, erased, halfLifeMs, log,
            settings: config.PRIVACY_SECRET
              ? { secret: config.PRIVACY_SECRET, pseudonymize: config.PSEUDONYMIZE_CUSTOMER_IDS, policy: config.ERASED_CUSTOMER_POLICY, settleMs: config.ERASURE_SETTLE_MS }
              : undefined,
          }), ['kafka', 'redis', 'clickhouse', ...(erased ? ['erasures'] : [])]),
        ],
        laggingGroups: [],
        query,
      };
    },
  },
  notifier: {
    clients: ['kafka', 'redis'],
    build: ({ config, kafka, producer, redis, log }) => {
      const webhooks = parseWebhooks(config);
      if (!webhooks.settings) throw new Error(`webhook configuration: ${webhooks.problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`);
      const settings = webhooks.settings;
      const groupId = `${config.KAFKA_GROUP_PREFIX}-notifier`;
      return {
        modules: [dependingOn(createNotifierModule({ kafka, producer, redis: redis!, settings, groupId, log }), ['kafka', 'redis'])],
        // An idle notifier (no webhook destinations) consumes nothing: its group would look ever further behind.
        laggingGroups: settings.destinations.length > 0 ? [{ groupId, topics: [topicNames.alerts] }] : [],
      };
    },
  },
};

export async function startApp(config: Config): Promise<RunningApp> {
  const targets = [...targetsOf(config)];
  const needs = new Set(targets.flatMap((t) => targetTable[t].clients));
  const modules: Module[] = [];
  let runner: ModuleRunner | undefined;
  // The rules file is validated here, before anything starts; the processor reloads it on change. The
  // query API takes the score half-life in force at start (live scores decay with it).
  const scoring = config.SCORE_HALF_LIFE_HOURS ? { halfLifeMs: config.SCORE_HALF_LIFE_HOURS * 3600 * 1000 } : {};
  const baseRules = resolveScoringConfig(scoring);
  const rulesAtStart = config.RULES_FILE ? await loadRulesFile(config.RULES_FILE, baseRules) : baseRules;
  const halfLifeMs = rulesAtStart.halfLifeMs;
  // Before any instrument is created: they bind to the provider registered at that moment (§17).
  const metricsAttached = config.METRICS_ENABLED && startMetrics({ serviceName: 'touchstream', serviceVersion: VERSION });
  const http = await createHttpServer({
    logLevel: config.LOG_LEVEL,
    version: VERSION,
    metrics: config.METRICS_ENABLED ? { key: config.METRICS_KEY } : undefined,
    readiness: () => runner?.readiness() ?? { ready: false, modules: {} },
    keys: accessKeysOf(config),
    cors: { ingest: config.INGEST_CORS_ORIGINS, query: config.QUERY_CORS_ORIGINS },
    rateLimits: { writePerMinute: config.RATE_LIMIT_WRITE_PER_MINUTE, readPerMinute: config.RATE_LIMIT_READ_PER_MINUTE, anonymousPerMinute: config.RATE_LIMIT_ANONYMOUS_PER_MINUTE },
  });
  const log = http.log;
  if (config.METRICS_ENABLED && !metricsAttached) log.warn('another OpenTelemetry MeterProvider was registered first: /metrics will be empty');

  // Every target produces (ingest, processor, sink and notifier dead letters) or consumes Kafka.
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS!, clientId: config.KAFKA_CLIENT_ID, log });
  const idempotentProducer = createIdempotentProducer(kafka, log);
  const producer = config.METRICS_ENABLED ? instrumentProducer(idempotentProducer) : idempotentProducer;
  modules.push(sharedKafkaModule(config, kafka, producer));
  let redis: RedisClient | undefined;
  if (needs.has('redis')) {
    // redis+cluster://h1:p1,h2:p2 → an ioredis Cluster (docs/architecture.md §18), else a standalone client.
    redis = createRedisClient(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 20 });
    redis.on('error', (err) => log.warn({ err: err.message }, 'Redis connection problem'));
    if (config.METRICS_ENABLED) instrumentRedis(redis);
    modules.push(sharedRedisModule(redis));
  }
  let clickhouse: ClickHouseClient | undefined;
  if (needs.has('clickhouse')) {
    clickhouse = createClickHouse(
      config.CLICKHOUSE_URL
        ? { url: config.CLICKHOUSE_URL, username: config.CLICKHOUSE_USER, password: config.CLICKHOUSE_PASSWORD, database: config.CLICKHOUSE_DATABASE }
        : { path: config.CLICKHOUSE_PATH },
    );
    if (config.METRICS_ENABLED) instrumentClickHouse(clickhouse);
    modules.push(sharedClickHouseModule(clickhouse, config.CLICKHOUSE_RAW_TTL_DAYS, log));
  }

  const erased = config.PRIVACY_SECRET ? new ErasedCustomers(config.PRIVACY_SECRET, { forever: config.ERASED_CUSTOMER_POLICY === 'refuse' }) : undefined;
  if (erased) modules.push(sharedErasuresModule(config, kafka, erased, log));
  const shared: SharedClients = { config, kafka, producer, redis, clickhouse, halfLifeMs, anomaliesEnabled: rulesAtStart.anomalies.enabled, scoring, log, erased };
  const laggingGroups: LaggingGroup[] = [];
  let processorModule: ProcessorModule | undefined;
  let anomalyModule: KpiAnomalyModule | undefined;
  let queryModule: QueryModule | undefined;
  for (const target of targets) {
    const parts = targetTable[target].build(shared);
    modules.push(...parts.modules);
    laggingGroups.push(...parts.laggingGroups);
    processorModule ??= parts.processor;
    anomalyModule ??= parts.anomaly;
    queryModule ??= parts.query;
  }
  const lag = laggingGroups.length > 0 ? lagModule(kafka, laggingGroups, log) : undefined;
  if (lag) modules.push(lag);

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
    reloadRules: async () => {
      // SIGHUP also re-reads the touchpoint catalogue and the personas of the query service (docs/architecture.md §20.2, §20.6).
      await queryModule?.reloadCatalogue();
      await queryModule?.reloadPersonas();
      // The KPI detector reads the same rules file (its `anomalies:` section).
      const anomalyReload = await anomalyModule?.reloadRules();
      return processorModule?.reloadRules() ?? anomalyReload ?? { ok: false, error: 'this process runs no processor and no anomaly detector' };
    },
    get lag() {
      return lag?.monitor();
    },
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
