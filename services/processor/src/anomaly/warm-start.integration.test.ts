// Warm start on the real ClickHouse (docs/architecture.md §21.1): touchpoints stored a week ago (the same hours of the
// week) and in the last hours rebuild a fresh detector's baseline, so a 6× abandonment spike in the very first live
// minute after a restart is reported against the same hour of the week, where a cold detector stays silent
// (min_history). Touchpoints before the cut that Kafka delivers again are late and left out (never counted twice).
import { beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, insertRows } from '@touchstream/clickhouse';
import { useMigratedTestClickHouse } from '@touchstream/clickhouse/testing';
import type { LogSink } from '@touchstream/kafka';
import { defaultKpiAnomalyConfig, KpiAnomalyDetector, type KpiAnomalyConfig, type KpiTouchpoint } from './detector.ts';
import { warmStartFromClickHouse } from './warm-start.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const quiet: LogSink = { error() {}, warn() {}, info() {}, debug() {} };
const ch = useMigratedTestClickHouse();

const config: KpiAnomalyConfig = {
  ...defaultKpiAnomalyConfig,
  enabled: true,
  dimensions: ['touchpoint', 'channel'],
  metrics: { abandonment_rate: { threshold: 4.5, minChange: 0.5, direction: 'up', minCount: 20 }, volume: { threshold: 4.5, minChange: 0.35, direction: 'both', minCount: 30 } },
  windowsMinutes: [1],
  minHistoryMinutes: 180,
  seasonWeeks: 1,
  recentHalfLifeMinutes: 20,
  latenessMs: 1000,
};

// A Tuesday, 12:00:30 UTC: the restart. The cut is two minutes before it (11:58).
const nowMs = Date.parse('2026-03-10T12:00:30Z');
const cutMs = Date.parse('2026-03-10T11:58:00Z');

/** 30 checkouts a minute alternating web and mobile_app: every 10th abandoned, or in a spike the first 18 (60 %). */
function minuteOf(minuteStartMs: number, seq: { n: number }, spike = false): Array<{ row: object; t: KpiTouchpoint }> {
  const out = [];
  for (let i = 0; i < 30; i++) {
    const at = minuteStartMs + i * 2000;
    const channel = i % 2 === 0 ? 'web' : 'mobile_app';
    const abandoned = spike ? i < 18 : i % 10 === 0;
    const outcome = abandoned ? 'abandoned' : 'completed';
    seq.n++;
    out.push({
      row: {
        event_id: `warm-${seq.n}`, customer_id: `c-${seq.n % 500}`, occurred_at: dateTime64FromMicros(at * 1000), received_at: dateTime64FromMicros(at * 1000),
        channel, touchpoint: 'checkout_page', initiator: 'customer', journey: 'purchase', stage: '', reason: '', outcome,
        duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '', agent_id: '', session_id: '', attributes: {},
        kafka_partition: 0, kafka_offset: seq.n,
      },
      t: { occurredAtMs: at, touchpoint: 'checkout_page', channel, journey: 'purchase', outcome, waitMs: null, sentiment: null, nps: null },
    });
  }
  return out;
}

describe('KPI anomaly warm start from ClickHouse', () => {
  beforeAll(async () => {
    const seq = { n: 0 };
    const rows: object[] = [];
    // A week ago, 09:00–15:00 (the seasonal value around noon), and today from 09:00 to the cut (the recent level).
    for (let m = Date.parse('2026-03-03T09:00:00Z'); m < Date.parse('2026-03-03T15:00:00Z'); m += MINUTE_MS) rows.push(...minuteOf(m, seq).map((x) => x.row));
    // Stored touchpoints from the cut on (two minutes here) are the live stream's: the replay must not read them.
    for (let m = Date.parse('2026-03-10T09:00:00Z'); m < cutMs + 2 * MINUTE_MS; m += MINUTE_MS) rows.push(...minuteOf(m, seq).map((x) => x.row));
    for (let i = 0; i < rows.length; i += 5000) await insertRows(ch.client, { table: 'touchpoints', rows: rows.slice(i, i + 5000), rawOnly: true });
  }, 120_000);

  it('rebuilds the hour-of-week history and the recent level, so the first live minute after a restart is scored', async () => {
    const detector = new KpiAnomalyDetector(config);
    const result = await warmStartFromClickHouse(detector, { clickhouse: ch.client, log: quiet, nowMs });
    expect(result.cutMs).toBe(cutMs);
    // 3 × 20 min of recent half-life = 60 min before the cut, from the local hour's start: 10:00 (since 10:58 is in that hour).
    expect(result.replayFromMs).toBe(Date.parse('2026-03-10T10:00:00Z'));
    expect(result.historyFromMs).toBe(result.replayFromMs - 7 * 24 * HOUR_MS);
    // History rows: a week ago 10:00–15:00 (5 hours; 09:00 is before the history window) and today 09:00 (before the replay), for 3 series.
    expect(result.hours).toBe((5 + 1) * 3);
    expect(result.series).toBe(3);
    // 10:00 to 11:58: 118 minutes of 30.
    expect(result.replayed).toBe(118 * 30);
    expect(result.replayAnomalies).toBe(0);

    // Kafka resumes before the cut: a touchpoint of 11:57 comes again and is left out as late.
    const lateBefore = detector.stats.lateTouchpoints;
    detector.observe(minuteOf(cutMs - MINUTE_MS, { n: 0 })[0]!.t);
    expect(detector.stats.lateTouchpoints).toBe(lateBefore + 1);

    // The first live minute, 11:58, with 6× the abandonment on web.
    for (const { t } of minuteOf(cutMs, { n: 0 }, true)) detector.observe(t);
    const anomalies = detector.advance(cutMs + MINUTE_MS + config.latenessMs);
    const checkout = anomalies.find((a) => a.dimension === 'touchpoint' && a.metric === 'abandonment_rate');
    expect(checkout).toMatchObject({ value: 'checkout_page', windowStartMs: cutMs, baseline: 'seasonal' });
    expect(checkout!.expected).toBeCloseTo(0.1, 2);
    expect(checkout!.observed).toBeGreaterThan(0.5);
    expect(anomalies.some((a) => a.metric === 'volume')).toBe(false);

    // The same minute on a cold detector: silent, the series is one minute old.
    const cold = new KpiAnomalyDetector(config);
    for (const { t } of minuteOf(cutMs, { n: 0 }, true)) cold.observe(t);
    expect(cold.advance(cutMs + MINUTE_MS + config.latenessMs)).toEqual([]);
  }, 120_000);

  it('counts hours of the week in the configured time zone (India: local hours start at :30 UTC)', async () => {
    const detector = new KpiAnomalyDetector({ ...config, timezone: 'Asia/Kolkata' });
    const result = await warmStartFromClickHouse(detector, { clickhouse: ch.client, log: quiet, nowMs });
    // 60 min before the cut is 10:58 UTC = 16:28 IST: the replay starts at 16:00 IST = 10:30 UTC.
    expect(result.replayFromMs).toBe(Date.parse('2026-03-10T10:30:00Z'));
    // History from 10:30 UTC a week ago: local hours starting 10:30 … 14:30 UTC (5), and today 08:30 and 09:30 UTC (2).
    expect(result.hours).toBe(7 * 3);
    expect(result.replayed).toBe(88 * 30);
    for (const { t } of minuteOf(cutMs, { n: 0 }, true)) detector.observe(t);
    const checkout = detector.advance(cutMs + MINUTE_MS + config.latenessMs).find((a) => a.dimension === 'touchpoint' && a.metric === 'abandonment_rate');
    expect(checkout).toMatchObject({ baseline: 'seasonal', windowStartMs: cutMs });
  }, 120_000);
});
