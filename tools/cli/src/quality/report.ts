// Matching predicted signals to ground truth, and the figures of a quality run. Pure: the run collects
// what was labelled, posted and observed; this turns it into per-signal precision, recall and delays.
import { QUALITY_SIGNAL_TYPES, type ExpectedSignal } from './catalogue.ts';

export interface Label extends ExpectedSignal {
  customer_id: string;
}

/** A signal seen on signals.v1, with the time it arrived there (record timestamp, epoch ms). */
export interface ObservedSignal {
  signal_id: string;
  customer_id: string;
  type: string;
  event_id: string;
  arrivedAtMs: number;
}

/** An alert seen on alerts.v1: the signals it lists, and when it arrived there. */
export interface ObservedAlert {
  alert_id: string;
  customer_id: string;
  signal_ids: string[];
  arrivedAtMs: number;
}

export interface QualityTargets {
  minPrecision: number;
  minRecall: number;
  maxMedianDelayMs: number;
}

export const defaultTargets: QualityTargets = { minPrecision: 0.9, minRecall: 0.9, maxMedianDelayMs: 1000 };

export interface DelayStats {
  count: number;
  medianMs: number | null;
  p95Ms: number | null;
}

export interface SignalTypeFigures {
  type: string;
  labelled: number;
  predicted: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  /** Triggering event accepted by ingest (timer: due time) → signal on signals.v1. */
  signalDelay: DelayStats;
  /** Same start → the alert listing the signal on alerts.v1, for the signals an alert followed. */
  alertDelay: DelayStats;
  /** A few mismatches, to look at: `customer event_id`. */
  falsePositives: string[];
  falseNegatives: string[];
}

export interface QualityReport {
  rows: SignalTypeFigures[];
  /** Signals recorded for touchpoints beyond the backfill horizon (allowed), and alerts listing them (not allowed). */
  backfill: { events: number; signals: number; alerts: number };
  /** One line per missed target, e.g. "sla_breach: recall 0.42 < 0.9". Empty when all are met. */
  misses: string[];
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

function delayStats(values: number[]): DelayStats {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, medianMs: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95) };
}

const keyOf = (customer: string, type: string, eventId: string) => `${customer}\0${type}\0${eventId}`;

export interface MatchInput {
  labels: readonly Label[];
  /** Signals of this run's customers (duplicates by signal_id are counted once). */
  signals: readonly ObservedSignal[];
  alerts: readonly ObservedAlert[];
  /** event_id → when the POST that carried it was sent (epoch ms; retries until a 202 included). */
  acceptedAtMs: ReadonlyMap<string, number>;
  /** Touchpoints beyond the backfill horizon: their signals are counted apart, and any alert for them is a miss. */
  backfillEventIds?: ReadonlySet<string>;
  targets?: QualityTargets;
  examples?: number;
}

/**
 * A predicted signal is a true positive when a label has the same customer, type and triggering event (the
 * processor's signals name the event they fire on; the timer's names the started event).
 */
export function matchSignals(input: MatchInput): QualityReport {
  const targets = input.targets ?? defaultTargets;
  const examples = input.examples ?? 3;
  const labelsByKey = new Map(input.labels.map((l) => [keyOf(l.customer_id, l.type, l.event_id), l]));
  const backfillIds = input.backfillEventIds ?? new Set<string>();
  const uniqueSignals = new Map<string, ObservedSignal>();
  const backfillSignals = new Set<string>();
  for (const s of input.signals) {
    if (backfillIds.has(s.event_id)) {
      backfillSignals.add(s.signal_id);
      continue;
    }
    const first = uniqueSignals.get(s.signal_id);
    if (!first || s.arrivedAtMs < first.arrivedAtMs) uniqueSignals.set(s.signal_id, s);
  }
  const firstAlertOf = new Map<string, number>();
  for (const a of input.alerts) {
    for (const id of a.signal_ids) {
      const seen = firstAlertOf.get(id);
      if (seen === undefined || a.arrivedAtMs < seen) firstAlertOf.set(id, a.arrivedAtMs);
    }
  }

  const backfillAlerts = input.alerts.filter((a) => a.signal_ids.some((id) => backfillSignals.has(id)));
  const backfill = { events: backfillIds.size, signals: backfillSignals.size, alerts: new Set(backfillAlerts.map((a) => a.alert_id)).size };

  const types = [...new Set<string>([...QUALITY_SIGNAL_TYPES, ...[...uniqueSignals.values()].map((s) => s.type)])];
  const rows: SignalTypeFigures[] = [];
  const misses: string[] = [];
  for (const type of types) {
    const labels = input.labels.filter((l) => l.type === type);
    const predicted = [...uniqueSignals.values()].filter((s) => s.type === type);
    const matched = new Set<string>();
    const signalDelays: number[] = [];
    const alertDelays: number[] = [];
    const falsePositives: string[] = [];
    for (const s of predicted) {
      const key = keyOf(s.customer_id, s.type, s.event_id);
      const label = labelsByKey.get(key);
      if (!label || matched.has(key)) {
        if (falsePositives.length < examples) falsePositives.push(`${s.customer_id} ${s.event_id}`);
        continue;
      }
      matched.add(key);
      const start = label.dueAtMs ?? input.acceptedAtMs.get(s.event_id);
      if (start === undefined) continue;
      signalDelays.push(s.arrivedAtMs - start);
      const alertAt = firstAlertOf.get(s.signal_id);
      if (alertAt !== undefined) alertDelays.push(alertAt - start);
    }
    const tp = matched.size;
    const falseNegatives = labels
      .filter((l) => !matched.has(keyOf(l.customer_id, l.type, l.event_id)))
      .slice(0, examples)
      .map((l) => `${l.customer_id} ${l.event_id}`);
    const row: SignalTypeFigures = {
      type,
      labelled: labels.length,
      predicted: predicted.length,
      tp,
      fp: predicted.length - tp,
      fn: labels.length - tp,
      precision: predicted.length ? tp / predicted.length : null,
      recall: labels.length ? tp / labels.length : null,
      signalDelay: delayStats(signalDelays),
      alertDelay: delayStats(alertDelays),
      falsePositives,
      falseNegatives,
    };
    rows.push(row);
    if (row.labelled === 0 && row.predicted === 0) continue;
    if (row.precision === null) {
      misses.push(`${type}: nothing predicted for ${row.labelled} labelled (recall 0)`);
      continue;
    }
    if (row.precision < targets.minPrecision) misses.push(`${type}: precision ${row.precision.toFixed(3)} < ${targets.minPrecision}`);
    if (row.recall !== null && row.recall < targets.minRecall) misses.push(`${type}: recall ${row.recall.toFixed(3)} < ${targets.minRecall}`);
    if (row.signalDelay.medianMs !== null && row.signalDelay.medianMs > targets.maxMedianDelayMs) {
      misses.push(`${type}: median delay ${row.signalDelay.medianMs} ms > ${targets.maxMedianDelayMs} ms`);
    }
  }
  if (backfill.alerts) misses.push(`backfill: ${backfill.alerts} alert(s) raised by touchpoints beyond the horizon`);
  return { rows, backfill, misses };
}

const ratio = (x: number | null) => (x === null ? '—' : x.toFixed(3));
const ms = (x: number | null) => (x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);

/** The figures as a Markdown table (printed by the command and pasted into the README). */
export function formatReportTable(report: QualityReport): string {
  const header = ['signal', 'labelled', 'predicted', 'TP', 'FP', 'FN', 'precision', 'recall', 'signal delay p50', 'p95', 'alert delay p50', 'p95'];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ];
  for (const r of report.rows) {
    lines.push(`| ${[
      `\`${r.type}\``, r.labelled, r.predicted, r.tp, r.fp, r.fn, ratio(r.precision), ratio(r.recall),
      ms(r.signalDelay.medianMs), ms(r.signalDelay.p95Ms), ms(r.alertDelay.medianMs), ms(r.alertDelay.p95Ms),
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}
