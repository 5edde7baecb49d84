// The rules file (YAML or JSON): signal weights, windows and thresholds with per-channel and per-journey
// overrides, score half-life, levels, exit ratio and cooldown. Everything omitted keeps its built-in
// default (config.ts). Validated as a whole: every problem is reported at once, each with the file and
// the path inside the document.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import {
  defaultScoringConfig,
  mergeSignalParams,
  resolveScoringConfig,
  type ScoringConfig,
  type SignalParamsOverride,
} from './config.ts';
import { signalTypes, type SignalType } from '@touchstream/contracts';
import { churnBands, type ChurnRules } from './churn/model.ts';
import { defaultMetricSettings, isTimeZone, kpiDimensions, kpiMetrics, type KpiAnomalyConfig, type KpiMetric, type KpiMetricSettings } from './anomaly/detector.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "24h", "7d", "1500ms", or a number of milliseconds; null when it is none of these. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

const duration = (opts: { allowZero?: boolean } = {}) =>
  z.unknown().transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === null || (!opts.allowZero && ms === 0)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like 90s, 15m, 24h, 7d or a number of milliseconds${opts.allowZero ? '' : ' (> 0)'}, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

const weight = z.number().min(0, 'a weight must be ≥ 0');
const names = z.array(z.string().min(1)).min(1, 'list at least one name');
const common = { enabled: z.boolean(), weight };
const count = (min: number) => z.number().int('must be a whole number').min(min, `must be ≥ ${min}`);
const outcome = z.enum(['started', 'completed', 'failed', 'abandoned', 'escalated', 'transferred', 'resolved', 'unresolved']);

const signalSchemas = {
  repeat_contact: z.strictObject({ ...common, window: duration() }),
  channel_hopping: z.strictObject({ ...common, window: duration(), min_channels: count(2) }),
  self_service_failure: z.strictObject({ ...common, window: duration(), failure_outcomes: z.array(outcome).min(1) }),
  sla_breach: z.strictObject({
    ...common,
    wait: z.record(z.string(), duration()),
    handling: z.record(z.string(), duration()),
    /** `catalogue`: a touchpoint's catalogued reaction_time is its wait SLA (TOUCHPOINTS_FILE), else its channel's. */
    source: z.enum(['channel', 'catalogue']),
  }),
  negative_sentiment: z.strictObject({ ...common, max: z.number().min(-1).max(1) }),
  sentiment_decline: z.strictObject({ ...common, count: count(2), min_drop: z.number().gt(0, 'must be > 0').max(2) }),
  survey_detractor: z.strictObject({ ...common, nps_max: z.number(), csat_max: z.number(), ces_min: z.number() }),
  escalation: z.strictObject({ ...common, outcomes: z.array(outcome).min(1) }),
  complaint: z.strictObject({ ...common, reasons: names }),
  journey_not_completed: z.strictObject({ ...common, expected_duration: duration(), completion_outcomes: z.array(outcome).min(1) }),
  repeated_error: z.strictObject({ ...common, window: duration(), min_errors: count(1), touchpoints: names }),
} satisfies Record<SignalType, z.ZodType>;

const signalOverrides = z
  .strictObject(Object.fromEntries(signalTypes.map((t) => [t, signalSchemas[t].partial()])) as {
    [T in SignalType]: ReturnType<(typeof signalSchemas)[T]['partial']>;
  })
  .partial();

const wholeMinutes = duration().refine((ms) => ms % 60_000 === 0, 'must be whole minutes, e.g. 1m, 2m');
const metricSettings = z
  .strictObject({
    threshold: z.number().gt(0, 'must be > 0'),
    min_change: z.number().min(0, 'must be ≥ 0'),
    direction: z.enum(['up', 'down', 'both']),
    min_count: count(1),
  })
  .partial()
  .nullable();
/** KPI deviation alerts (§21); `metrics` lists the metrics scored (each over its defaults), replacing the default list. */
const anomaliesSchema = z
  .strictObject({
    enabled: z.boolean(),
    dimensions: z.array(z.enum(kpiDimensions)).min(1, 'list at least one of touchpoint, channel, journey'),
    metrics: z.partialRecord(z.enum(kpiMetrics), metricSettings),
    windows: z.array(wholeMinutes).min(1),
    min_history: duration(),
    season_weeks: count(1),
    recent_half_life: wholeMinutes,
    cooldown: duration({ allowZero: true }),
    lateness: duration({ allowZero: true }),
    negative_sentiment_max: z.number().min(-1).max(1),
    max_series: count(1),
    timezone: z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin or UTC'),
  })
  .partial();

function anomalyConfigOf(raw: z.infer<typeof anomaliesSchema> | undefined, base: KpiAnomalyConfig): KpiAnomalyConfig {
  if (!raw) return base;
  let metrics = base.metrics;
  if (raw.metrics) {
    metrics = {};
    for (const [metric, s] of Object.entries(raw.metrics) as Array<[KpiMetric, z.infer<typeof metricSettings>]>) {
      const d: KpiMetricSettings = defaultMetricSettings[metric];
      metrics[metric] = { threshold: s?.threshold ?? d.threshold, minChange: s?.min_change ?? d.minChange, direction: s?.direction ?? d.direction, minCount: s?.min_count ?? d.minCount };
    }
  }
  return {
    enabled: raw.enabled ?? base.enabled,
    dimensions: raw.dimensions ?? base.dimensions,
    metrics,
    windowsMinutes: raw.windows ? [...new Set(raw.windows.map((ms) => ms / 60_000))].sort((a, b) => a - b) : base.windowsMinutes,
    minHistoryMinutes: raw.min_history !== undefined ? Math.ceil(raw.min_history / 60_000) : base.minHistoryMinutes,
    seasonWeeks: raw.season_weeks ?? base.seasonWeeks,
    recentHalfLifeMinutes: raw.recent_half_life !== undefined ? raw.recent_half_life / 60_000 : base.recentHalfLifeMinutes,
    cooldownMs: raw.cooldown ?? base.cooldownMs,
    latenessMs: raw.lateness ?? base.latenessMs,
    negativeSentimentMax: raw.negative_sentiment_max ?? base.negativeSentimentMax,
    maxSeries: raw.max_series ?? base.maxSeries,
    timezone: raw.timezone ?? base.timezone,
  };
}

/** Churn-risk scoring (§22): what churn is, the horizon it is predicted over, the bands and the band that alerts. */
const churnSchema = z
  .strictObject({
    enabled: z.boolean(),
    outcome: z
      .strictObject({ reasons: z.array(z.string().min(1)), touchpoints: z.array(z.string().min(1)) })
      .partial()
      .refine((o) => (o.reasons?.length ?? 0) + (o.touchpoints?.length ?? 0) > 0, 'list at least one reason or touchpoint that means churn'),
    horizon: duration(),
    bands: z.strictObject({ medium: z.number().gt(0, 'must be > 0').lt(1, 'must be < 1'), high: z.number().gt(0, 'must be > 0').lt(1, 'must be < 1') }).partial(),
    alert: z.enum([...churnBands, 'none']),
  })
  .partial();

function churnRulesOf(raw: z.infer<typeof churnSchema> | undefined, base: ChurnRules): ChurnRules {
  if (!raw) return base;
  return {
    enabled: raw.enabled ?? base.enabled,
    outcome: raw.outcome ? { reasons: raw.outcome.reasons ?? [], touchpoints: raw.outcome.touchpoints ?? [] } : base.outcome,
    horizonMs: raw.horizon ?? base.horizonMs,
    bands: { ...base.bands, ...raw.bands },
    alertBand: raw.alert ?? base.alertBand,
  };
}

const rulesFileSchema = z
  .strictObject({
    /** Yours to set (e.g. a date or a release); recorded with the content hash as `rules_version`. */
    version: z.union([z.string().min(1), z.number()]).transform(String),
    score: z
      .strictObject({
        half_life: duration(),
        levels: z.strictObject({ watch: z.number().gt(0, 'must be > 0'), at_risk: z.number(), critical: z.number() }).partial(),
        exit_ratio: z.number().gt(0, 'must be > 0').max(1, 'must be ≤ 1'),
        cooldown: duration({ allowZero: true }),
      })
      .partial(),
    channels: z.strictObject({ assisted: names, self_service: names }).partial(),
    signals: signalOverrides,
    overrides: z.strictObject({ channels: z.record(z.string(), signalOverrides), journeys: z.record(z.string(), signalOverrides) }).partial(),
    anomalies: anomaliesSchema,
    churn: churnSchema,
  })
  .partial();

export type RulesFile = z.infer<typeof rulesFileSchema>;

/** A rules file that cannot be used; `problems` are "<path in the document>: <what is wrong>". */
export class RulesError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid rules file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RulesError';
  }
}

/** "<version>+<first 8 hex of the content's sha256>", or the hash alone when the file has no version. */
export function rulesVersionOf(text: string, version: string | undefined): string {
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
  return version ? `${version}+${hash}` : hash;
}

/**
 * Parses and validates a rules document over `base` (built-in defaults unless given). Throws RulesError
 * listing every problem. JSON is YAML, so both work.
 */
export function parseRules(text: string, file: string, base: ScoringConfig = defaultScoringConfig): ScoringConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new RulesError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const raw: unknown = doc.toJS() ?? {};
  const parsed = rulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RulesError(file, parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`));
  }
  const rules = parsed.data;
  const problems: string[] = [];
  const levels = { ...base.levelThresholds, ...rules.score?.levels };
  if (!(levels.at_risk > levels.watch && levels.critical > levels.at_risk)) {
    problems.push(`score.levels: must increase: watch (${levels.watch}) < at_risk (${levels.at_risk}) < critical (${levels.critical})`);
  }
  const churn = churnRulesOf(rules.churn, base.churn);
  if (!(churn.bands.high > churn.bands.medium)) {
    problems.push(`churn.bands: must increase: medium (${churn.bands.medium}) < high (${churn.bands.high})`);
  }
  if (problems.length) throw new RulesError(file, problems);

  const config: ScoringConfig = {
    ...base,
    rulesVersion: rulesVersionOf(text, rules.version),
    halfLifeMs: rules.score?.half_life ?? base.halfLifeMs,
    levelThresholds: levels,
    levelExitRatio: rules.score?.exit_ratio ?? base.levelExitRatio,
    alertCooldownMs: rules.score?.cooldown ?? base.alertCooldownMs,
    assistedChannels: rules.channels?.assisted ?? base.assistedChannels,
    selfServiceChannels: rules.channels?.self_service ?? base.selfServiceChannels,
    signals: mergeSignalParams(base.signals, rules.signals as SignalParamsOverride | undefined),
    overrides: {
      channels: { ...base.overrides.channels, ...(rules.overrides?.channels as Record<string, SignalParamsOverride> | undefined) },
      journeys: { ...base.overrides.journeys, ...(rules.overrides?.journeys as Record<string, SignalParamsOverride> | undefined) },
    },
    anomalies: anomalyConfigOf(rules.anomalies, base.anomalies),
    churn,
  };
  try {
    return resolveScoringConfig(config);
  } catch (err) {
    throw new RulesError(file, [(err as Error).message]);
  }
}

/** Reads and validates a rules file (see parseRules). */
export async function loadRulesFile(file: string, base?: ScoringConfig): Promise<ScoringConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RulesError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check RULES_FILE`]);
  }
  return parseRules(text, file, base);
}
