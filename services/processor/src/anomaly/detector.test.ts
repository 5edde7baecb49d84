// The KPI deviation detector's core with numbers worked by hand (docs/architecture.md §21).
import { describe, expect, it } from 'vitest';
import { kpiAlert, kpiAlertIdFor } from './alert.ts';
import {
  contributions,
  defaultKpiAnomalyConfig,
  KpiAnomalyDetector,
  madSigma,
  median,
  poissonTailZ,
  quantile,
  seasonalValue,
  type KpiAnomalyConfig,
  type KpiTouchpoint,
  type Tally,
  zoneOffsetMinutes,
} from './detector.ts';

const MINUTE_MS = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0); // a Monday, 10:00 UTC

function tally(partial: Partial<Tally>): Tally {
  return { n: 0, abandoned: 0, failed: 0, negative: 0, sentimentSum: 0, sentimentN: 0, npsPromoters: 0, npsDetractors: 0, npsN: 0, waits: [], ...partial };
}

describe('robust statistics', () => {
  it('quantile interpolates between order statistics; MAD σ is 1.4826 × the median absolute deviation', () => {
    expect(quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBeCloseTo(91, 10); // position 8.1 → 90 + 0.1 × 10
    expect(median([1, 2, 3, 4, 100])).toBe(3);
    // |x − 3| = 2, 1, 0, 1, 97 → median 1: the outlier 100 does not move the spread.
    expect(madSigma([1, 2, 3, 4, 100])).toBeCloseTo(1.4826, 10);
  });

  it('poissonTailZ: 20 where 5 are expected scores 3√20 (1 − 1/180 − ∛(5/20)) = 4.890; below the mean nothing up', () => {
    expect(poissonTailZ(20, 5, 'up')).toBeCloseTo(3 * Math.sqrt(20) * (1 - 1 / 180 - Math.cbrt(0.25)), 10);
    expect(poissonTailZ(20, 5, 'up')).toBeCloseTo(4.89, 2);
    expect(poissonTailZ(4, 5, 'up')).toBe(0);
    // Down: P(X ≤ 2 | 20) through k + 1 = 3: 3√3 (∛(20/3) − 1 + 1/27) = 5.196 × 0.9198 = 4.779.
    expect(poissonTailZ(2, 20, 'down')).toBeCloseTo(3 * Math.sqrt(3) * (Math.cbrt(20 / 3) - 1 + 1 / 27), 6);
    expect(poissonTailZ(2, 20, 'down')).toBeCloseTo(4.78, 2);
  });
});

describe('seasonal baseline', () => {
  const h = 1000 * 168; // an hour index; the weeks before it are h − 168, h − 336, h − 504
  const weeks = (hour: number, values: number[]) => values.map((v, i) => [hour - (i + 1) * 168, { volume: v }] as const);

  it('is the median of the same hour in past weeks with a MAD spread from three weeks on', () => {
    // Hours h − 1, h, h + 1 had 10, 20 and 60 per minute in the three weeks: median 20, |dev| 10, 0, 40 → MAD 10.
    const hours = new Map([...weeks(h - 1, [10, 20, 60]), ...weeks(h, [10, 20, 60]), ...weeks(h + 1, [10, 20, 60])]);
    const s = seasonalValue(hours, 'volume', h * 60 + 29, 4)!;
    expect(s.value).toBeCloseTo(20, 10);
    expect(s.sigma).toBeCloseTo(14.826, 10);
    // Two weeks only: median 15, no spread yet.
    const two = seasonalValue(new Map([...weeks(h - 1, [10, 20]), ...weeks(h, [10, 20]), ...weeks(h + 1, [10, 20])]), 'volume', h * 60 + 29, 4)!;
    expect(two).toEqual({ value: 15, sigma: 0 });
  });

  it('interpolates between hour centres: minute :59 is 0.4917 of the way to the next hour', () => {
    const hours = new Map([...weeks(h, [20, 20, 20]), ...weeks(h + 1, [40, 40, 40])]);
    // Centre of minute :59 is h + 59.5/60; minus the half hour: 0.49167 past the centre of hour h.
    expect(seasonalValue(hours, 'volume', h * 60 + 59, 4)!.value).toBeCloseTo(20 * (1 - 59.5 / 60 + 0.5) + 40 * (59.5 / 60 - 0.5), 10);
    expect(seasonalValue(hours, 'volume', h * 60 + 59, 4)!.value).toBeCloseTo(29.833, 3);
    expect(seasonalValue(new Map(), 'volume', h * 60, 4)).toBeNull();
  });
});

describe('contributions', () => {
  it('rates: each value’s excess over its touchpoints × the expected rate, as a share of the total', () => {
    // Expected 10 %: web 50 touchpoints with 35 abandoned (excess 30), phone 50 with 5 (excess 0).
    const frames = [{ breakdown: new Map([['channel\u0000web', tally({ n: 50, abandoned: 35 })], ['channel\u0000phone', tally({ n: 50, abandoned: 5 })]]) }];
    const c = contributions({ dimension: 'touchpoint', shareEwma: new Map() }, 'abandonment_rate', frames, 0.1, 1);
    expect(c).toEqual([{ dimension: 'channel', value: 'web', share: 1, excess: 30, count: 50 }]);
  });

  it('volume: each value against its recent share of the expected volume', () => {
    // Expected 100/min split 60/40 by recent shares; observed web 20 (−40), phone 40 (0): web explains all of the drop.
    const frames = [{ breakdown: new Map([['channel\u0000web', tally({ n: 20 })], ['channel\u0000phone', tally({ n: 40 })]]) }];
    const shares = new Map([['channel\u0000web', 6], ['channel\u0000phone', 4]]);
    const c = contributions({ dimension: 'touchpoint', shareEwma: shares }, 'volume', frames, 100, 1);
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ dimension: 'channel', value: 'web', share: 1 });
    expect(c[0]!.excess).toBeCloseTo(-40, 10);
  });
});

describe('detector', () => {
  const config: KpiAnomalyConfig = {
    ...defaultKpiAnomalyConfig,
    enabled: true,
    dimensions: ['touchpoint'],
    metrics: { abandonment_rate: { threshold: 5, minChange: 0.5, direction: 'up', minCount: 30 } },
    windowsMinutes: [1],
    minHistoryMinutes: 180,
    latenessMs: 0,
  };

  /** 100 checkout touchpoints in the minute, half on web and half on phone, with the given abandonments per channel. */
  function minute(d: KpiAnomalyDetector, index: number, abandonedWeb: number, abandonedPhone: number) {
    for (let i = 0; i < 100; i++) {
      const web = i < 50;
      const abandoned = web ? i < abandonedWeb : i - 50 < abandonedPhone;
      const e: KpiTouchpoint = {
        occurredAtMs: T0 + index * MINUTE_MS + i * 500, touchpoint: 'checkout_page', channel: web ? 'web' : 'phone', journey: 'purchase',
        outcome: abandoned ? 'abandoned' : 'completed', waitMs: null, sentiment: null, nps: null,
      };
      d.observe(e);
    }
  }

  it('is silent while the baseline is younger than min_history, then scores a 4× abandonment minute by hand', () => {
    const d = new KpiAnomalyDetector(config);
    const found = [];
    // 10 % abandonment every minute (5 on web, 5 on phone); a spike at minute 100 is too early to report.
    for (let m = 0; m < 200; m++) {
      if (m === 100) minute(d, m, 35, 5);
      else minute(d, m, 5, 5);
      found.push(...d.advance(T0 + (m + 1) * MINUTE_MS));
    }
    expect(found).toEqual([]);

    minute(d, 200, 35, 5); // 40 of 100 abandoned, 30 more than expected, all on web
    const [a, ...rest] = d.advance(T0 + 201 * MINUTE_MS);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ metric: 'abandonment_rate', dimension: 'touchpoint', value: 'checkout_page', windowMinutes: 1, observed: 0.4, denominator: 100, baseline: 'recent' });
    // The minute at 100 was winsorised to expected + 3σ before it was learnt; 100 minutes of decay later the level is 10 %.
    expect(a!.expected).toBeCloseTo(0.1, 3);
    // Robust: σ = √(0.1 × 0.9 / 100) = 0.03 → 0.3 / 0.03 = 10. Poisson tail: 40 where 10 are expected,
    // 3√40 (1 − 1/360 − ∛¼) = 6.968. The smaller wins.
    expect(a!.deviation).toBeCloseTo(3 * Math.sqrt(40) * (1 - 1 / 360 - Math.cbrt(10 / 40)), 1);
    expect(a!.deviation).toBeCloseTo(6.97, 1);
    expect(a!.change).toBeCloseTo(3, 1);
    expect(a!.contributions[0]).toMatchObject({ dimension: 'channel', value: 'web', count: 50 });
    expect(a!.contributions[0]!.share).toBeCloseTo(1, 2);
    expect(a!.detectedAtMs).toBe(T0 + 201 * MINUTE_MS);

    // Cooldown: the next spike minute raises nothing.
    minute(d, 201, 35, 5);
    expect(d.advance(T0 + 202 * MINUTE_MS)).toEqual([]);
  });

  it('does not alert below the threshold: 18 of 100 where 10 are expected scores 2.3', () => {
    const d = new KpiAnomalyDetector(config);
    for (let m = 0; m < 200; m++) {
      minute(d, m, 5, 5);
      d.advance(T0 + (m + 1) * MINUTE_MS);
    }
    minute(d, 200, 13, 5);
    expect(d.advance(T0 + 201 * MINUTE_MS)).toEqual([]);
  });

  it('closes a minute only once stream time passes its end plus the lateness; later touchpoints for it are late', () => {
    const d = new KpiAnomalyDetector({ ...config, latenessMs: 5000 });
    minute(d, 0, 5, 5);
    expect(d.advance(T0 + MINUTE_MS + 4999)).toEqual([]);
    expect(d.stats.closedMinutes).toBe(0);
    d.advance(T0 + MINUTE_MS + 5000);
    expect(d.stats.closedMinutes).toBe(1);
    d.observe({ occurredAtMs: T0 + 10, touchpoint: 'checkout_page', channel: 'web', journey: null, outcome: null, waitMs: null, sentiment: null, nps: null });
    expect(d.stats.lateTouchpoints).toBe(1);
  });
});

describe('kpi_anomaly alert', () => {
  it('carries the finding in the Alert record: score = deviation, explanation, JSON detail, contributions', () => {
    const anomaly = {
      metric: 'abandonment_rate' as const, dimension: 'touchpoint' as const, value: 'checkout_page', windowMinutes: 1,
      windowStartMs: T0, windowEndMs: T0 + MINUTE_MS, detectedAtMs: T0 + MINUTE_MS + 5000, observed: 0.4, expected: 0.1,
      deviation: 6.97, change: 3, denominator: 100, baseline: 'recent' as const,
      contributions: [{ dimension: 'channel' as const, value: 'web', share: 1, excess: 30, count: 50 }],
    };
    const alert = kpiAlert(anomaly, { threshold: 5, minChange: 0.5, direction: 'up', minCount: 30 }, 'v1+abc');
    expect(alert).toMatchObject({
      alert_id: kpiAlertIdFor(anomaly), customer_id: 'kpi:touchpoint=checkout_page', score: 6.97, level: 'at_risk',
      triggered_by: 'kpi_anomaly', at: (T0 + MINUTE_MS + 5000) * 1000, rules_version: 'v1+abc', journey: null, channel: null,
    });
    expect(alert.signals.map((s) => s.type)).toEqual(['kpi_anomaly', 'kpi_anomaly_detail', 'kpi_anomaly_contribution']);
    expect(alert.signals[0]!.explanation).toBe(
      'abandonment_rate at touchpoint=checkout_page: observed 40.0 % vs expected 10.0 % (+300 %, deviation score 7.0) over 1 min 10:00–10:01 UTC; baseline recent level; most of it: channel=web 100 %',
    );
    expect(JSON.parse(alert.signals[1]!.explanation)).toMatchObject({ metric: 'abandonment_rate', observed: 0.4, expected: 0.1, contributions: [{ value: 'web', share: 1 }] });
    expect(kpiAlert({ ...anomaly, deviation: 10 }, { threshold: 5, minChange: 0.5, direction: 'up', minCount: 30 }, null).level).toBe('critical');
  });
});

describe('hour of the week in a time zone', () => {
  it('knows the offsets of a zone, daylight saving included', () => {
    expect(zoneOffsetMinutes('UTC', T0)).toBe(0);
    expect(zoneOffsetMinutes('Europe/Berlin', Date.UTC(2026, 0, 5, 10))).toBe(60);
    expect(zoneOffsetMinutes('Europe/Berlin', Date.UTC(2026, 6, 6, 10))).toBe(120);
    expect(zoneOffsetMinutes('Asia/Kolkata', T0)).toBe(330);
    expect(zoneOffsetMinutes('America/New_York', Date.UTC(2026, 2, 8, 6, 59))).toBe(-300);
    expect(zoneOffsetMinutes('America/New_York', Date.UTC(2026, 2, 8, 7, 0))).toBe(-240);
  });

  it('compares 9:00 in Berlin with 9:00 in Berlin a week earlier, across the change to summer time', () => {
    const berlin = new KpiAnomalyDetector({ ...defaultKpiAnomalyConfig, timezone: 'Europe/Berlin' });
    const utc = new KpiAnomalyDetector(defaultKpiAnomalyConfig);
    // Summer time starts on 29 March 2026: 9:00 in Berlin is 8:00 UTC on 23 March and 7:00 UTC on 30 March.
    const before = Date.UTC(2026, 2, 23, 8) / MINUTE_MS;
    const after = Date.UTC(2026, 2, 30, 7) / MINUTE_MS;
    expect(berlin.localHourOf(after) - berlin.localHourOf(before)).toBe(168);
    expect(utc.localHourOf(after) - utc.localHourOf(before)).toBe(167);
    // A seeded hour is found a week later at the same local hour: the seasonal value of 9:30 Berlin time.
    berlin.seedHour('channel', 'phone', before * MINUTE_MS, { volume: 40 });
    berlin.seedHour('channel', 'phone', (before + 60) * MINUTE_MS, { volume: 40 });
    expect(seasonalValue(new Map([[berlin.localHourOf(before), { volume: 40 }]]), 'volume', berlin.localHourOf(after) * 60 + 30, 4)).toEqual({ value: 40, sigma: 0 });
  });
});
