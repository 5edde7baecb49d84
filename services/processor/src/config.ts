// Scoring rules: per-signal parameters (weight, window, thresholds) with overrides per channel and per
// journey, score half-life, alert levels. The defaults here are the signal catalogue's; a rules file
// (rules.ts) overrides any of them. Every duration is in milliseconds of EVENT time unless said otherwise.

import { signalTypes, type AlertLevelName, type SignalType } from '@touchstream/contracts';
import { defaultKpiAnomalyConfig, type KpiAnomalyConfig } from './anomaly/detector.ts';
import { defaultChurnRules, type ChurnRules } from './churn/model.ts';

/** Parameters every signal has: a disabled signal never fires (its state is still kept). */
interface Common {
  enabled: boolean;
  weight: number;
}

/** Each signal's parameters, named as in the rules file (durations already in ms). */
export interface SignalParams {
  repeat_contact: Common & { window: number };
  channel_hopping: Common & { window: number; min_channels: number };
  self_service_failure: Common & { window: number; failure_outcomes: string[] };
  /**
   * Per channel: wait and handling SLAs; a channel without an entry has no SLA. `source: catalogue`: the wait SLA of
   * a touchpoint whose catalogue entry (TOUCHPOINTS_FILE) sets a reaction_time is that target instead of its
   * channel's (docs/architecture.md §20.5); handling stays per channel.
   */
  sla_breach: Common & { wait: Record<string, number>; handling: Record<string, number>; source: 'channel' | 'catalogue' };
  negative_sentiment: Common & { max: number };
  sentiment_decline: Common & { count: number; min_drop: number };
  survey_detractor: Common & { nps_max: number; csat_max: number; ces_min: number };
  escalation: Common & { outcomes: string[] };
  complaint: Common & { reasons: string[] };
  journey_not_completed: Common & { expected_duration: number; completion_outcomes: string[] };
  repeated_error: Common & { window: number; min_errors: number; touchpoints: string[] };
}

/** A partial set of signal parameters (maps such as sla_breach.wait merge per key; lists replace). */
export type SignalParamsOverride = { [T in SignalType]?: Partial<SignalParams[T]> };

export interface ScoringConfig {
  /** Recorded on every signal and alert (`rules_version`); null with the built-in defaults. */
  rulesVersion: string | null;
  /** Half-life of the decayed score. */
  halfLifeMs: number;
  /** Score at which each level is reached; must increase from watch to critical. */
  levelThresholds: Record<AlertLevelName, number>;
  /** Hysteresis: a level is left only once the score drops below this fraction of its threshold. */
  levelExitRatio: number;
  /** After an alert, no new alert for the same or a lower level within this much event time. */
  alertCooldownMs: number;
  /** Channels where a person serves the customer (the second half of self_service_failure). */
  assistedChannels: string[];
  /** Channels the customer serves themselves on (the first half of self_service_failure). */
  selfServiceChannels: string[];
  signals: SignalParams;
  /** Applied over `signals` for a touchpoint's channel, then its journey (the journey wins). */
  overrides: { channels: Record<string, SignalParamsOverride>; journeys: Record<string, SignalParamsOverride> };
  /** Events older than this before processing time are backfill: they update state and score, but raise no alert. */
  backfillHorizonMs: number;
  /** The timeline keeps the newest this many touchpoints. */
  timelineCap: number;
  /** How long a processed event_id is remembered for deduplication (processing time). */
  seenTtlMs: number;
  /** KPI deviation alerts (docs/architecture.md §21): off unless the rules file turns them on. */
  anomalies: KpiAnomalyConfig;
  /** Churn-risk scoring (docs/architecture.md §22): the outcome trained for, the bands and the alert band. */
  churn: ChurnRules;
  /**
   * Reaction-time targets (ms) per touchpoint name from the touchpoint catalogue, for `sla_breach.source: catalogue`.
   * Not part of the rules file: the processor module sets it from TOUCHPOINTS_FILE and keeps it in step.
   */
  touchpointReactionTimes?: Readonly<Record<string, number>>;
}

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export const defaultSignalParams: SignalParams = {
  repeat_contact: { enabled: true, weight: 3, window: 7 * DAY_MS },
  channel_hopping: { enabled: true, weight: 2, window: DAY_MS, min_channels: 3 },
  self_service_failure: { enabled: true, weight: 3, window: HOUR_MS, failure_outcomes: ['failed', 'abandoned'] },
  sla_breach: {
    enabled: true,
    weight: 1,
    wait: { phone: 120 * SECOND_MS, chat: 60 * SECOND_MS },
    handling: { phone: 600 * SECOND_MS, chat: 900 * SECOND_MS },
    source: 'channel',
  },
  negative_sentiment: { enabled: true, weight: 2, max: -0.5 },
  sentiment_decline: { enabled: true, weight: 2, count: 3, min_drop: 0.5 },
  survey_detractor: { enabled: true, weight: 3, nps_max: 6, csat_max: 2, ces_min: 5 },
  escalation: { enabled: true, weight: 2, outcomes: ['escalated', 'transferred'] },
  complaint: { enabled: true, weight: 4, reasons: ['complaint', 'formal_complaint', 'cancellation_threat'] },
  journey_not_completed: { enabled: true, weight: 3, expected_duration: 48 * HOUR_MS, completion_outcomes: ['completed', 'resolved'] },
  repeated_error: {
    enabled: true,
    weight: 2,
    window: HOUR_MS,
    min_errors: 2,
    touchpoints: ['payment_failed', 'login_failed', 'error_page', 'otp_failed'],
  },
};

export const defaultScoringConfig: ScoringConfig = {
  rulesVersion: null,
  halfLifeMs: 72 * HOUR_MS,
  levelThresholds: { watch: 3, at_risk: 6, critical: 10 },
  levelExitRatio: 0.8,
  alertCooldownMs: 10 * MINUTE_MS,
  assistedChannels: ['phone', 'chat', 'store', 'branch', 'agent', 'back_office'],
  selfServiceChannels: ['web', 'mobile_app', 'ivr'],
  signals: defaultSignalParams,
  overrides: { channels: {}, journeys: {} },
  backfillHorizonMs: 30 * DAY_MS,
  timelineCap: 500,
  seenTtlMs: 35 * DAY_MS,
  anomalies: defaultKpiAnomalyConfig,
  churn: defaultChurnRules,
};

/** Overrides of any field; signal parameters and level thresholds one at a time. */
export type ScoringOverrides = Partial<Omit<ScoringConfig, 'signals' | 'levelThresholds' | 'overrides'>> & {
  signals?: SignalParamsOverride;
  levelThresholds?: Partial<ScoringConfig['levelThresholds']>;
  overrides?: Partial<ScoringConfig['overrides']>;
};

/** `base` with the signal parameters of `override` laid over it: maps merge per key, the rest replaces. */
export function mergeSignalParams(base: SignalParams, override: SignalParamsOverride | undefined): SignalParams {
  if (!override) return base;
  const out = { ...base } as unknown as Record<SignalType, Record<string, unknown>>;
  for (const type of signalTypes) {
    const o = override[type] as Record<string, unknown> | undefined;
    if (!o) continue;
    const merged: Record<string, unknown> = { ...out[type] };
    for (const [k, v] of Object.entries(o)) {
      if (v === undefined) continue;
      const isMap = v !== null && typeof v === 'object' && !Array.isArray(v);
      merged[k] = isMap ? { ...(merged[k] as object), ...(v as object) } : v;
    }
    out[type] = merged;
  }
  return out as unknown as SignalParams;
}

/**
 * The parameters in force for one touchpoint: the base signals, then its channel's override, then its
 * journey's. Memoised per config (a handful of channels × journeys).
 */
export function signalParamsFor(config: ScoringConfig, channel: string, journey: string | null): SignalParams {
  let cache = paramsCache.get(config);
  if (!cache) paramsCache.set(config, (cache = new Map()));
  const key = `${channel}\0${journey ?? ''}`;
  let params = cache.get(key);
  if (!params) {
    params = mergeSignalParams(config.signals, config.overrides.channels[channel]);
    if (journey !== null) params = mergeSignalParams(params, config.overrides.journeys[journey]);
    if (cache.size < 10_000) cache.set(key, params);
  }
  return params;
}
const paramsCache = new WeakMap<ScoringConfig, Map<string, SignalParams>>();

/** `base` (the defaults unless given) merged with overrides, checked for values that would make the score or levels meaningless. */
export function resolveScoringConfig(overrides: ScoringOverrides = {}, base: ScoringConfig = defaultScoringConfig): ScoringConfig {
  const config: ScoringConfig = {
    ...base,
    ...withoutUndefined(overrides),
    signals: mergeSignalParams(base.signals, overrides.signals),
    levelThresholds: { ...base.levelThresholds, ...withoutUndefined(overrides.levelThresholds ?? {}) },
    overrides: { ...base.overrides, ...withoutUndefined(overrides.overrides ?? {}) },
  };
  const problems: string[] = [];
  const positive = ['halfLifeMs', 'backfillHorizonMs', 'seenTtlMs', 'timelineCap'] as const;
  for (const k of positive) if (!(Number.isFinite(config[k]) && config[k] > 0)) problems.push(`${k} must be > 0`);
  if (!Number.isInteger(config.timelineCap)) problems.push('timelineCap must be an integer');
  if (!(Number.isFinite(config.alertCooldownMs) && config.alertCooldownMs >= 0)) problems.push('alertCooldownMs must be ≥ 0');
  if (!(config.levelExitRatio > 0 && config.levelExitRatio <= 1)) problems.push('levelExitRatio must be in (0, 1]');
  const check = (where: string, params: SignalParamsOverride) => {
    for (const [type, p] of Object.entries(params)) {
      const w = (p as { weight?: number }).weight;
      if (w !== undefined && !(Number.isFinite(w) && w >= 0)) problems.push(`${where}${type}.weight must be ≥ 0`);
    }
  };
  check('signals.', config.signals);
  for (const [channel, o] of Object.entries(config.overrides.channels)) check(`overrides.channels.${channel}.`, o);
  for (const [journey, o] of Object.entries(config.overrides.journeys)) check(`overrides.journeys.${journey}.`, o);
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
