// Scoring rules: signal weights and thresholds, score half-life, alert levels. Defaults here; a later
// rules file will produce the same shape. Every duration is in milliseconds of EVENT time.

export const signalTypes = ['survey_detractor', 'negative_sentiment', 'repeat_contact'] as const;
export type SignalType = (typeof signalTypes)[number];

/** Alert levels from lowest to highest; `none` is the level of a customer with no alert-worthy score. */
export const alertLevels = ['none', 'watch', 'at_risk', 'critical'] as const;
export type AlertLevel = (typeof alertLevels)[number];
export type RaisedLevel = Exclude<AlertLevel, 'none'>;

export interface ScoringConfig {
  /** Recorded on every signal and alert (`rules_version`); null until rules come from a versioned file. */
  rulesVersion: string | null;
  /** Half-life of the decayed score. */
  halfLifeMs: number;
  /** Score added by each signal type. */
  weights: Record<SignalType, number>;
  /** An NPS answer at or below this is a detractor (NPS is 0–10). */
  npsDetractorMax: number;
  /** A CSAT answer at or below this is dissatisfied (CSAT is 1–5). */
  csatDissatisfiedMax: number;
  /** A CES answer at or above this is high effort (CES is 1–7). */
  cesHighEffortMin: number;
  /** A sentiment at or below this is negative (sentiment is −1…1). */
  negativeSentimentMax: number;
  /** A customer-initiated contact about the same reason within this window of another is a repeat contact. */
  repeatContactWindowMs: number;
  /** Score at which each level is reached; must increase from watch to critical. */
  levelThresholds: Record<RaisedLevel, number>;
  /** Hysteresis: a level is left only once the score drops below this fraction of its threshold. */
  levelExitRatio: number;
  /** After an alert, no new alert for the same or a lower level within this much event time. */
  alertCooldownMs: number;
  /** Events older than this before processing time are backfill: they update state and score, but raise no alert. */
  backfillHorizonMs: number;
  /** The timeline keeps the newest this many touchpoints. */
  timelineCap: number;
  /** How long a processed event_id is remembered for deduplication (processing time). */
  seenTtlMs: number;
}

const DAY_MS = 24 * 3600 * 1000;

export const defaultScoringConfig: ScoringConfig = {
  rulesVersion: null,
  halfLifeMs: 7 * DAY_MS,
  weights: { survey_detractor: 3, negative_sentiment: 2, repeat_contact: 3 },
  npsDetractorMax: 6,
  csatDissatisfiedMax: 2,
  cesHighEffortMin: 5,
  negativeSentimentMax: -0.5,
  repeatContactWindowMs: 7 * DAY_MS,
  levelThresholds: { watch: 3, at_risk: 6, critical: 10 },
  levelExitRatio: 0.8,
  alertCooldownMs: 10 * 60 * 1000,
  backfillHorizonMs: 30 * DAY_MS,
  timelineCap: 500,
  seenTtlMs: 35 * DAY_MS,
};

/** Overrides: any field, and any single weight or threshold. `Partial<ScoringConfig>` is assignable to it. */
export type ScoringOverrides = Partial<Omit<ScoringConfig, 'weights' | 'levelThresholds'>> & {
  weights?: Partial<ScoringConfig['weights']>;
  levelThresholds?: Partial<ScoringConfig['levelThresholds']>;
};

/** Defaults merged with overrides, checked for values that would make the score or levels meaningless. */
export function resolveScoringConfig(overrides: ScoringOverrides = {}): ScoringConfig {
  const config: ScoringConfig = {
    ...defaultScoringConfig,
    ...withoutUndefined(overrides),
    weights: { ...defaultScoringConfig.weights, ...withoutUndefined(overrides.weights ?? {}) },
    levelThresholds: { ...defaultScoringConfig.levelThresholds, ...withoutUndefined(overrides.levelThresholds ?? {}) },
  };
  const problems: string[] = [];
  const positive = ['halfLifeMs', 'repeatContactWindowMs', 'backfillHorizonMs', 'seenTtlMs', 'timelineCap'] as const;
  for (const k of positive) if (!(Number.isFinite(config[k]) && config[k] > 0)) problems.push(`${k} must be > 0`);
  if (!Number.isInteger(config.timelineCap)) problems.push('timelineCap must be an integer');
  if (!(Number.isFinite(config.alertCooldownMs) && config.alertCooldownMs >= 0)) problems.push('alertCooldownMs must be ≥ 0');
  if (!(config.levelExitRatio > 0 && config.levelExitRatio <= 1)) problems.push('levelExitRatio must be in (0, 1]');
  for (const [type, w] of Object.entries(config.weights)) {
    if (!(Number.isFinite(w) && w >= 0)) problems.push(`weights.${type} must be ≥ 0`);
  }
  const { watch, at_risk, critical } = config.levelThresholds;
  if (!(watch > 0 && at_risk > watch && critical > at_risk)) {
    problems.push('levelThresholds must satisfy 0 < watch < at_risk < critical');
  }
  if (problems.length) throw new Error(`invalid scoring config: ${problems.join('; ')}`);
  return config;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
