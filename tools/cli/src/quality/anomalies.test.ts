// The anomaly quality run's own rules: where degradations go and how the figures are judged.
import { describe, expect, it } from 'vitest';
import type { KpiAnomaly } from '@touchstream/processor';
import { formatAnomalyReport, planInjections, weeklyLoad, type AnomalyQualityResult } from './anomalies.ts';

const MONDAY = Date.UTC(2026, 0, 5);
const HOUR_MS = 3_600_000;

describe('planInjections', () => {
  it('places every degradation after the first week, in busy hours, never overlapping', () => {
    const plan = planInjections(MONDAY, 21, 3, 30, () => 0.5);
    expect(plan.map((p) => p.kind)).toEqual(['abandonment_spike', 'wait_step', 'volume_drop', 'abandonment_spike', 'wait_step', 'volume_drop', 'abandonment_spike', 'wait_step', 'volume_drop']);
    for (const p of plan) {
      expect(p.startMs).toBeGreaterThanOrEqual(MONDAY + 8 * 24 * HOUR_MS);
      const hour = new Date(p.startMs).getUTCHours();
      expect(hour).toBeGreaterThanOrEqual(10);
      expect(hour).toBeLessThan(16);
    }
    const sorted = [...plan].sort((a, b) => a.startMs - b.startMs);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.startMs).toBeGreaterThanOrEqual(sorted[i - 1]!.endMs);
  });
});

describe('weeklyLoad', () => {
  it('peaks late morning on weekdays, is quiet at night and lower at weekends', () => {
    const at = (day: number, hour: number) => weeklyLoad(MONDAY + day * 24 * HOUR_MS + hour * HOUR_MS);
    expect(at(0, 11)).toBeGreaterThan(0.95);
    expect(at(0, 3)).toBeLessThan(0.15);
    expect(at(5, 11)).toBeCloseTo(0.6 * at(0, 11), 10);
  });
});

describe('formatAnomalyReport', () => {
  const base: AnomalyQualityResult = { days: 3, touchpoints: 1000, injections: [], falseAlerts: [], explainedAlerts: 0, scoredDays: 2, seconds: 1 };
  const injection = { kind: 'wait_step' as const, metric: 'wait_p90' as const, dimension: 'channel' as const, value: 'phone', startMs: MONDAY, endMs: MONDAY + 1800_000 };

  it('misses a target when a degradation is late or missed, or false alerts exceed one a day', () => {
    const late = { ...injection, detectedAtMs: MONDAY + 121_000, detection: null };
    const missed = { ...injection, detectedAtMs: null, detection: null };
    const falseAlert = { metric: 'volume', dimension: 'channel', value: 'web', windowMinutes: 1, windowStartMs: 0, windowEndMs: 60_000, detectedAtMs: 65_000, observed: 1, expected: 2, deviation: -5, change: -0.5, denominator: 1, baseline: 'recent', contributions: [] } satisfies KpiAnomaly;
    const { misses } = formatAnomalyReport({ ...base, injections: [late, missed], falseAlerts: [falseAlert, falseAlert, falseAlert] });
    expect(misses).toEqual([
      'wait_step at 2026-01-05T00:00:00.000Z detected after 121 s (> 2 min)',
      'wait_step at 2026-01-05T00:00:00.000Z not detected',
      '1.50 false alerts per day (> 1)',
    ]);
    expect(formatAnomalyReport({ ...base, injections: [{ ...injection, detectedAtMs: MONDAY + 119_000, detection: null }] }).misses).toEqual([]);
  });
});
