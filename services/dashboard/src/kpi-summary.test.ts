import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain browser ES module without types
import { breakdownRows, summarize } from '../public/kpi-summary.js';

describe('summarize (dashboard totals from KPI buckets)', () => {
  it('adds counts and weights shares by the answers they come from', () => {
    // Bucket 1: 10 NPS answers, NPS 50 (e.g. 6 promoters, 1 detractor); bucket 2: 30 answers, NPS −10
    // (8 promoters, 11 detractors). Overall: (14 − 12) / 40 = 5 %, i.e. (50·10 − 10·30) / 40 = 5.
    // Abandonment: 1/4 and 3/6 of outcomes → 4/10 = 0.4. Negative signals: 2/100 and 8/100 → 10/200 = 0.05.
    const total = summarize([
      { events: 100, nps: 50, nps_responses: 10, csat: 1, csat_responses: 1, outcomes: 4, abandonment_rate: 0.25, negative_signal_rate: 0.02, ces_mean: null, ces_responses: 0 },
      { events: 100, nps: -10, nps_responses: 30, csat: 0.5, csat_responses: 3, outcomes: 6, abandonment_rate: 0.5, negative_signal_rate: 0.08, ces_mean: 4, ces_responses: 2 },
    ]);
    expect(total.events).toBe(200);
    expect(total.nps).toBeCloseTo(5, 10);
    expect(total.csat).toBeCloseTo((1 + 1.5) / 4, 10);
    expect(total.abandonment_rate).toBeCloseTo(0.4, 10);
    expect(total.negative_signal_rate).toBeCloseTo(0.05, 10);
    expect(total.ces_mean).toBe(4);
    // Not combinable from buckets: shown as unknown, never as a wrong number.
    expect(total.unique_customers).toBeNull();
    expect(total.p90_wait_ms).toBeNull();
  });

  it('gives null, not 0 or NaN, where nothing was answered', () => {
    const total = summarize([{ events: 3, nps: null, nps_responses: 0, outcomes: 0, abandonment_rate: null }]);
    expect(total).toMatchObject({ events: 3, nps: null, abandonment_rate: null, csat: null });
    expect(summarize([]).events).toBe(0);
  });
});

describe('breakdownRows', () => {
  it('groups bucket rows by key, busiest first', () => {
    const rows = breakdownRows([
      { key: 'web', events: 5, nps: 10, nps_responses: 1 },
      { key: 'phone', events: 7 },
      { key: 'web', events: 4, nps: 40, nps_responses: 2 },
    ]);
    expect(rows.map((r: { key: string; events: number }) => [r.key, r.events])).toEqual([['web', 9], ['phone', 7]]);
    expect(rows[0].nps).toBeCloseTo(30, 10);
  });
});
