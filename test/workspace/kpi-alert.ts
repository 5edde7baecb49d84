// A KPI deviation alert as the detector puts it on alerts.v1 (docs/architecture.md §21: triggered_by kpi_anomaly,
// customer_id kpi:<dimension>=<value>, the figures as JSON in a kpi_anomaly_detail signal), produced to Kafka so the
// sink stores it and the live stream carries it like any alert. The detector needs hours of history before it
// speaks, so the browser tests put its output on the topic instead of waiting for it.
import { createHash } from 'node:crypto';
import { codecs, type Alert } from '@touchstream/contracts';
import { createIdempotentProducer, createKafka, topicNames } from '@touchstream/kafka';

export interface KpiAlertFigures {
  metric: 'abandonment_rate' | 'wait_p90' | 'volume';
  dimension: 'channel' | 'journey' | 'touchpoint';
  value: string;
  observed: number;
  expected: number;
  deviation: number;
  /** End of the one-minute window, ms. */
  atMs: number;
  contributions: Array<{ dimension: string; value: string; share: number }>;
}

export function kpiAlertRecord(f: KpiAlertFigures): Alert {
  const alertId = createHash('sha256').update(`kpi_anomaly\u0000${f.metric}\u0000${f.dimension}\u0000${f.value}\u0000${f.atMs}`).digest('hex').slice(0, 32);
  const detail = {
    metric: f.metric, dimension: f.dimension, value: f.value, observed: f.observed, expected: f.expected, deviation: f.deviation,
    change: (f.observed - f.expected) / f.expected, window_minutes: 1, window_start: new Date(f.atMs - 60_000).toISOString(),
    window_end: new Date(f.atMs).toISOString(), denominator: 120, baseline: 'recent',
    contributions: f.contributions.map((c) => ({ ...c, excess: 10, count: 60 })),
  };
  return {
    alert_id: alertId,
    customer_id: `kpi:${f.dimension}=${f.value}`,
    score: f.deviation,
    score_before: 0,
    level: Math.abs(f.deviation) >= 9 ? 'critical' : 'at_risk',
    signals: [
      { signal_id: alertId, type: 'kpi_anomaly', weight: f.deviation, event_id: '', explanation: `${f.metric} at ${f.dimension}=${f.value}: observed ${f.observed} vs expected ${f.expected}` },
      { signal_id: `${alertId}:detail`, type: 'kpi_anomaly_detail', weight: 0, event_id: '', explanation: JSON.stringify(detail) },
      ...f.contributions.map((c, i) => ({
        signal_id: `${alertId}:${i}`, type: 'kpi_anomaly_contribution', weight: c.share, event_id: '',
        explanation: `${c.dimension}=${c.value} explains ${(100 * c.share).toFixed(0)} % of the deviation`,
      })),
    ],
    triggered_by: 'kpi_anomaly',
    at: f.atMs * 1000,
    rules_version: null,
    journey: f.dimension === 'journey' ? f.value : null,
    channel: f.dimension === 'channel' ? f.value : null,
  };
}

/** Produces alerts to alerts.v1 of the given brokers, as the processor does. */
export async function produceAlerts(brokers: string[], alerts: Alert[]): Promise<void> {
  const producer = createIdempotentProducer(createKafka({ brokers, clientId: 'workspace-test' }));
  await producer.connect();
  try {
    await producer.send({ topic: topicNames.alerts, acks: -1, messages: alerts.map((a) => ({ key: a.customer_id, value: codecs.alert.encode(a) })) });
  } finally {
    await producer.disconnect();
  }
}
