// The one configuration schema of the process: read from the environment once, validated at start with
// every problem reported at once, then handed down as typed options (libraries never read process.env).
import { z } from 'zod';
import { parseWebhooks } from './webhooks-config.ts';
import { loadSegmentMapping } from './segment-config.ts';
import { parseHeatmapTargets } from '@touchstream/query';
import { hashKey, isHashedKey, parseRedisUrl, type AccessKeys } from '@touchstream/runtime';

const isRedisUrl = (url: string) => { try { parseRedisUrl(url); return true; } catch { return false; } };

const csvList = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** "key=name,key2=name2" → { key: name, key2: name2 }; a key may be given as `sha256:<hex>` (docs/architecture.md §15). */
const keyMap = (what: string) =>
  z.string().transform((s, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of s.split(',').map((x) => x.trim()).filter(Boolean)) {
      const i = pair.indexOf('=');
      if (i <= 0 || i === pair.length - 1) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not KEY=${what} (use e.g. s3cr3t=${what === 'source' ? 'web' : 'analyst'})` });
        continue;
      }
      const key = pair.slice(0, i);
      if (key.toLowerCase().startsWith('sha256:') && !isHashedKey(key)) ctx.addIssue({ code: 'custom', message: `key for ${pair.slice(i + 1)} starts with sha256: but is not sha256:<64 hex digits> (make one with: printf %s "$KEY" | sha256sum)` });
      else if (key.length < 8) ctx.addIssue({ code: 'custom', message: `key for ${pair.slice(i + 1)} is shorter than 8 characters` });
      out[key] = pair.slice(i + 1);
    }
    return out;
  });

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

export const TARGETS = ['ingest', 'processor', 'sink', 'query', 'notifier', 'anomaly'] as const;
export type Target = (typeof TARGETS)[number];

export const configShape = z.object({
    TOUCHSTREAM_TARGET: csvList.default(['all']).pipe(
      z.array(z.enum([...TARGETS, 'all'])).min(1, 'name at least one target'),
    ),
    HTTP_HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: int(8080),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    KAFKA_BROKERS: csvList.pipe(z.array(z.string().regex(/^[^:]+:\d+$/, 'must be host:port')).min(1)).optional(),
    KAFKA_CLIENT_ID: z.string().default('touchstream'),
    /** Consumer groups are <prefix>-processor and <prefix>-sink: several deployments can share one Kafka. */
    KAFKA_GROUP_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+$/).default('touchstream'),
    /** Consumer group session timeout: how soon a crashed processor's or sink's partitions move on (brokers refuse < 6 s by default). */
    KAFKA_SESSION_TIMEOUT_MS: int(30_000, 6000),
    TOUCHPOINT_PARTITIONS: int(12, 1),
    TOPIC_PARTITIONS: int(6, 1),
    TOPIC_REPLICATION_FACTOR: int(1, 1),
    MIN_INSYNC_REPLICAS: int(1, 1),
    // redis+cluster://h1:p1,h2:p2: the seed nodes of a Redis Cluster (docs/architecture.md §18).
    REDIS_URL: z.string().refine(isRedisUrl, 'must be redis://host:port, or redis+cluster://host:port,host:port for a Redis Cluster').optional(),
    CLICKHOUSE_URL: z.string().url().optional(),
    CLICKHOUSE_PATH: z.string().default('.data/chdb'),
    CLICKHOUSE_USER: z.string().optional(),
    CLICKHOUSE_PASSWORD: z.string().optional(),
    CLICKHOUSE_DATABASE: z.string().optional(),
    /** Days a raw touchpoint is kept after it was stored; applied with ALTER … MODIFY TTL at start when it differs. */
    CLICKHOUSE_RAW_TTL_DAYS: int(400, 1),
    WRITE_KEYS: keyMap('source').default({}),
    READ_KEYS: keyMap('analyst').default({}),
    ADMIN_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    // Access and edges (docs/architecture.md §15): keys per role, CORS origins per service, per-key rate limits.
    /** Keys that may also post annotations (and read): key=analyst,… */
    ANALYST_WRITE_KEYS: keyMap('analyst').default({}),
    /** Browser origins that may post events cross-origin (trackers on your sites); none by default. */
    INGEST_CORS_ORIGINS: csvList.pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin such as https://www.example.com'))).default([]),
    /** Browser origins that may call the query and admin API cross-origin; none by default (the dashboard is same-origin). */
    QUERY_CORS_ORIGINS: csvList.pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin such as https://analytics.example.com'))).default([]),
    /** Requests per minute per write key (0 = unlimited). */
    RATE_LIMIT_WRITE_PER_MINUTE: int(120_000),
    /** Requests per minute per read, analyst-write or admin key (0 = unlimited). */
    RATE_LIMIT_READ_PER_MINUTE: int(30_000),
    /** Requests per minute per client address without a key (dashboard files, docs, health; 0 = unlimited). */
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: int(6_000),
    INGEST_MAX_EVENTS: int(1000, 1),
    INGEST_MAX_BODY_BYTES: int(1024 * 1024, 1024),
    INGEST_MAX_FUTURE_SKEW_MS: int(10 * 60 * 1000),
    INGEST_SEND_TIMEOUT_MS: int(10_000, 100),
    /** Bytes waiting for Kafka's acknowledgement at most; over it ingest answers 503 at once (bounded memory). */
    INGEST_MAX_IN_FLIGHT_BYTES: int(32 * 1024 * 1024, 64 * 1024),
    /** Under the rules file: used when the file does not set score.half_life (built-in default 72 h). */
    SCORE_HALF_LIFE_HOURS: z.coerce.number().positive().optional(),
    /** Weak-signal rules (YAML/JSON, README: Weak signals); unset = built-in defaults. Reloaded on change and SIGHUP. */
    RULES_FILE: z.string().min(1).optional(),
    /**
     * Churn model (JSON written by `./touchstream train`, docs/architecture.md §22): the processor scores customers
     * with it live and reloads it when it changes; a missing file means no scoring until it appears. `train` writes here.
     */
    CHURN_MODEL_FILE: z.string().min(1).optional(),
    /** Touchpoint catalogue (YAML/JSON, docs/architecture.md §20.2) for GET /v1/touchpoints; reloaded on change and SIGHUP. */
    TOUCHPOINTS_FILE: z.string().min(1).optional(),
    /** Personas file (YAML/JSON, docs/architecture.md §20.6): persona breakdowns and filters; reloaded on change and SIGHUP. */
    PERSONAS_FILE: z.string().min(1).optional(),
    /** Tick of the processor's journey-timer sweeper (wall clock). */
    TIMER_SWEEP_INTERVAL_MS: int(1000, 10),
    /** Heat map targets `metric:target[:warn],…`; a request's `targets` parameter overrides them. */
    HEATMAP_TARGETS: z
      .string()
      .transform((text, ctx) => {
        const { targets, problems } = parseHeatmapTargets(text);
        for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
        return targets;
      })
      .default({}),
    SHUTDOWN_TIMEOUT_MS: int(30_000, 1000),
    /** Webhook destinations of the notifier: a YAML/JSON file, or the same document as inline JSON. */
    WEBHOOKS_FILE: z.string().optional(),
    WEBHOOKS: z.string().optional(),
    /** GET /metrics (Prometheus text format, docs/architecture.md §17): on unless METRICS_ENABLED=false. */
    METRICS_ENABLED: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
    /** When set, /metrics wants `Authorization: Bearer <METRICS_KEY>` (Prometheus: `authorization.credentials`); unset, it is open like /healthz. */
    METRICS_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    /** How Segment messages (POST /v1/batch, /v1/track, …) become touchpoints: YAML/JSON; unset = built-in mapping. */
    SEGMENT_MAPPING_FILE: z.string().min(1).optional(),
    // Privacy (docs/architecture.md §14): the secret of the keyed hashes (erasure keys, pseudonyms). Changing it
    // makes earlier erasures and pseudonyms unrecognisable: keep it as long as the data.
    PRIVACY_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)').optional(),
    /** A new event for an erased customer: refuse (409 per event at ingest) or fresh (a new customer from then on). */
    ERASED_CUSTOMER_POLICY: z.enum(['refuse', 'fresh']).default('refuse'),
    /** Replace customer_id by a keyed hash of it at ingest, before Kafka (needs PRIVACY_SECRET). */
    PSEUDONYMIZE_CUSTOMER_IDS: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
    /** Between recording an erasure in Kafka and deleting: consumers learn it and finish the batches in flight. */
    ERASURE_SETTLE_MS: int(2000),
});

export const configSchema = configShape.superRefine((c, ctx) => {
    const targets = new Set(c.TOUCHSTREAM_TARGET.includes('all') ? TARGETS : c.TOUCHSTREAM_TARGET);
    const need = (what: keyof typeof c, because: string) =>
      ctx.addIssue({ code: 'custom', path: [what], message: `is required ${because}` });
    if (targets.size > 0 && !c.KAFKA_BROKERS) need('KAFKA_BROKERS', 'by every target (e.g. 127.0.0.1:9092)');
    if ((targets.has('processor') || targets.has('query') || targets.has('notifier')) && !c.REDIS_URL) need('REDIS_URL', 'by processor, query and notifier (e.g. redis://127.0.0.1:6380)');
    if (targets.has('notifier')) parseWebhooks(c).problems.forEach((p) => ctx.addIssue({ code: 'custom', path: [p.variable], message: p.message }));
    if (targets.has('ingest')) loadSegmentMapping(c).problems.forEach((message) => ctx.addIssue({ code: 'custom', path: ['SEGMENT_MAPPING_FILE'], message }));
    if (targets.has('ingest') && Object.keys(c.WRITE_KEYS).length === 0) need('WRITE_KEYS', 'by ingest (e.g. WRITE_KEYS=s3cr3t-web-key=web)');
    if (targets.has('query') && Object.keys(c.READ_KEYS).length === 0) need('READ_KEYS', 'by query (e.g. READ_KEYS=s3cr3t-read-key=analyst)');
    if (c.PSEUDONYMIZE_CUSTOMER_IDS && !c.PRIVACY_SECRET) need('PRIVACY_SECRET', 'by PSEUDONYMIZE_CUSTOMER_IDS (the key of the pseudonyms)');
    // One key, one role: compared by digest, so a key given in clear in one list and hashed in another is caught too.
    const seen = new Map<string, string>();
    const lists = [['WRITE_KEYS', c.WRITE_KEYS], ['READ_KEYS', c.READ_KEYS], ['ANALYST_WRITE_KEYS', c.ANALYST_WRITE_KEYS], ['ADMIN_KEY', c.ADMIN_KEY ? { [c.ADMIN_KEY]: 'admin' } : {}]] as const;
    for (const [variable, keys] of lists) {
      for (const key of Object.keys(keys)) {
        const digest = isHashedKey(key) ? key.toLowerCase() : hashKey(key);
        const other = seen.get(digest);
        if (other && other !== variable) ctx.addIssue({ code: 'custom', path: [variable], message: `a key must not be in both ${other} and ${variable}` });
        seen.set(digest, variable);
      }
    }
    // Embedded chDB lives in one process: sink (writer) and query (reader) must be in the same one. Ingest and
    // processor may run elsewhere (the chaos suite runs `sink,query` as a process of its own).
    const splitAcrossProcesses = targets.has('sink') !== targets.has('query');
    if (splitAcrossProcesses && !c.CLICKHOUSE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['CLICKHOUSE_URL'],
        message: 'is required when sink and query run in separate processes (embedded chDB is one process only: run them together, e.g. --target sink,query)',
      });
    }
    // The KPI detector warm-starts from ClickHouse (§21.1): with embedded chDB it must live in the sink's process.
    if (targets.has('anomaly') && !targets.has('sink') && !c.CLICKHOUSE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['CLICKHOUSE_URL'],
        message: 'is required when anomaly runs without sink (it warm-starts from ClickHouse; embedded chDB is one process only: run e.g. --target sink,query,anomaly)',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Settings = Record<string, string | undefined>;

/**
 * The process environment: the one place the project reads process.env (the OpenTelemetry preload,
 * telemetry.ts, excepted: it must run before anything is imported). Commands lay their own defaults under it
 * and their decisions (flags, the endpoints of engines they started) over it, then validate with loadConfig.
 */
export function environment(): Settings {
  return { ...process.env };
}

/** Validates a configuration (usually `environment()`); throws ConfigError listing every problem. */
export function loadConfig(env: Settings): Config {
  // Only the variables the schema knows; an empty value counts as unset.
  const known = Object.fromEntries(Object.keys(configShape.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = configSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`));
  }
  return parsed.data;
}

export function targetsOf(config: Config): Set<Target> {
  return new Set(config.TOUCHSTREAM_TARGET.includes('all') ? TARGETS : (config.TOUCHSTREAM_TARGET as Target[]));
}

/** The keys of every role, as the server's role check takes them (docs/architecture.md §15). */
export function accessKeysOf(config: Config): AccessKeys {
  return {
    write: config.WRITE_KEYS,
    read: config.READ_KEYS,
    'analyst-write': config.ANALYST_WRITE_KEYS,
    admin: config.ADMIN_KEY ? { [config.ADMIN_KEY]: 'admin' } : {},
  };
}
