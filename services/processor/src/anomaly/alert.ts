// A KPI anomaly as an Alert record on alerts.v1 (docs/architecture.md §21), so that it reaches every existing channel
// (webhooks through the notifier, the live SSE stream, the alerts table through the sink) without a schema change:
// triggered_by `kpi_anomaly`, customer_id `kpi:<dimension>=<value>`, score = the deviation score, and the signals list
// carrying the finding (type kpi_anomaly, human explanation), the figures as JSON (kpi_anomaly_detail) and one entry
// per contributing value (kpi_anomaly_contribution, weight = its share of the deviation).
import { createHash } from 'node:crypto';
import type { Alert } from '@touchstream/contracts';
import type { KpiAnomaly, KpiMetric, KpiMetricSettings } from './detector.ts';

export const KPI_ANOMALY = 'kpi_anomaly';

/** Same anomaly, same id: a replay or a redelivered batch produces the same alert. */
export function kpiAlertIdFor(a: Pick<KpiAnomaly, 'metric' | 'dimension' | 'value' | 'windowEndMs'>): string {
  return createHash('sha256').update(`${KPI_ANOMALY}\u0000${a.metric}\u0000${a.dimension}\u0000${a.value}\u0000${a.windowEndMs}`).digest('hex').slice(0, 32);
}

export function formatKpiValue(metric: KpiMetric, v: number): string {
  if (metric.endsWith('_rate')) return `${(100 * v).toFixed(1)} %`;
  if (metric === 'wait_p90') return `${(v / 1000).toFixed(1)} s`;
  if (metric === 'volume') return `${v.toFixed(1)}/min`;
  if (metric === 'nps') return v.toFixed(0);
  return v.toFixed(2);
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

export function explainKpiAnomaly(a: KpiAnomaly): string {
  const change = a.change === null ? '' : `${a.change >= 0 ? '+' : ''}${(100 * a.change).toFixed(0)} %, `;
  const top = a.contributions.slice(0, 3).map((c) => `${c.dimension}=${c.value} ${(100 * c.share).toFixed(0)} %`);
  return (
    `${a.metric} at ${a.dimension}=${a.value}: observed ${formatKpiValue(a.metric, a.observed)} vs expected ${formatKpiValue(a.metric, a.expected)} ` +
    `(${change}deviation score ${a.deviation.toFixed(1)}) over ${a.windowMinutes} min ${hhmm(a.windowStartMs)}–${hhmm(a.windowEndMs)} UTC; ` +
    `baseline ${a.baseline === 'seasonal' ? 'same hour of the week + recent level' : 'recent level'}` +
    (top.length ? `; most of it: ${top.join(', ')}` : '')
  );
}

/** critical from twice the metric's threshold, else at_risk. */
export function kpiAlert(a: KpiAnomaly, settings: KpiMetricSettings, rulesVersion: string | null): Alert {
  const alertId = kpiAlertIdFor(a);
  const round = (v: number, digits = 4) => Number(v.toFixed(digits));
  const detail = {
    metric: a.metric,
    dimension: a.dimension,
    value: a.value,
    observed: round(a.observed),
    expected: round(a.expected),
    deviation: round(a.deviation, 2),
    change: a.change === null ? null : round(a.change),
    window_minutes: a.windowMinutes,
    window_start: new Date(a.windowStartMs).toISOString(),
    window_end: new Date(a.windowEndMs).toISOString(),
    denominator: a.denominator,
    baseline: a.baseline,
    contributions: a.contributions.map((c) => ({ dimension: c.dimension, value: c.value, share: round(c.share, 3), excess: round(c.excess, 2), count: c.count })),
  };
  return {
    alert_id: alertId,
    customer_id: `kpi:${a.dimension}=${a.value}`,
    score: round(a.deviation, 2),
    score_before: 0,
    level: Math.abs(a.deviation) >= 2 * settings.threshold ? 'critical' : 'at_risk',
    signals: [
      { signal_id: alertId, type: KPI_ANOMALY, weight: round(a.deviation, 2), event_id: '', explanation: explainKpiAnomaly(a) },
      { signal_id: `${alertId}:detail`, type: `${KPI_ANOMALY}_detail`, weight: 0, event_id: '', explanation: JSON.stringify(detail) },
      ...a.contributions.map((c, i) => ({
        signal_id: `${alertId}:${i}`,
        type: `${KPI_ANOMALY}_contribution`,
        weight: round(c.share, 3),
        event_id: '',
        explanation: `${c.dimension}=${c.value} explains ${(100 * c.share).toFixed(0)} % of the deviation (${c.count} touchpoints, excess ${c.excess.toFixed(1)})`,
      })),
    ],
    triggered_by: KPI_ANOMALY,
    at: a.detectedAtMs * 1000,
    rules_version: rulesVersion,
    journey: a.dimension === 'journey' ? a.value : null,
    channel: a.dimension === 'channel' ? a.value : null,
  };
}
