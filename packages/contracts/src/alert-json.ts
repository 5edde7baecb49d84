// The JSON form of an Alert for HTTP consumers (webhook bodies, the SSE stream): the Avro record with its
// event time as ISO-8601 (microseconds, UTC) instead of epoch micros, the same shape everywhere.
import type { Alert, AlertSignal } from './generated.ts';

export interface AlertJson {
  alert_id: string;
  customer_id: string;
  level: string;
  score: number;
  score_before: number;
  /** Event time of the triggering touchpoint, e.g. 2026-11-23T09:30:00.123456Z. */
  at: string;
  triggered_by: string;
  journey: string | null;
  channel: string | null;
  signals: AlertSignal[];
  rules_version: string | null;
}

export function microsToIsoUtc(micros: number): string {
  const whole = Math.floor(micros);
  const ms = Math.floor(whole / 1000);
  const subMs = whole - ms * 1000;
  return `${new Date(ms).toISOString().slice(0, 23)}${String(subMs).padStart(3, '0')}Z`;
}

export function alertJson(alert: Alert): AlertJson {
  return {
    alert_id: alert.alert_id,
    customer_id: alert.customer_id,
    level: alert.level,
    score: alert.score,
    score_before: alert.score_before,
    at: microsToIsoUtc(alert.at),
    triggered_by: alert.triggered_by,
    journey: alert.journey ?? null,
    channel: alert.channel ?? null,
    signals: alert.signals.map((s) => ({ ...s })),
    rules_version: alert.rules_version ?? null,
  };
}

/** The alert levels in increasing severity (what an alert carries). */
export const alertLevels = ['watch', 'at_risk', 'critical'] as const;
export type AlertLevelName = (typeof alertLevels)[number];

/** A customer's current level (state hash `level`): `none` below every threshold, else an alert level. */
export const customerLevels = ['none', ...alertLevels] as const;
export type CustomerLevel = (typeof customerLevels)[number];

/** Levels from `min` up, in increasing severity: at_risk → [at_risk, critical]. */
export function alertLevelsFrom(min: AlertLevelName): AlertLevelName[] {
  return alertLevels.filter((level) => alertLevelRank(level) >= alertLevelRank(min));
}

/** Severity rank of a level (watch 1, at_risk 2, critical 3); 0 for an unknown level. */
export function alertLevelRank(level: string): number {
  return alertLevels.indexOf(level as AlertLevelName) + 1;
}
