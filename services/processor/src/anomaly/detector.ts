// KPI deviation detector (docs/architecture.md §21): a pure core fed with touchpoints in event time. Touchpoints are
// counted into one-minute tallies per value of each configured dimension (touchpoint, channel, journey); when a minute
// closes (the newest event time seen has passed its end by the allowed lateness) every series is scored against a
// baseline that knows the hour of the week (the median of the same hour in past weeks, interpolated between hour
// centres) and the recent level (an EWMA of the offset from that seasonal value, or of the value itself until a week
// of history exists). No I/O and no clock: the live module and the quality replay drive the same code.

export const kpiMetrics = ['volume', 'abandonment_rate', 'failure_rate', 'wait_p90', 'negative_signal_rate', 'sentiment', 'nps'] as const;
export type KpiMetric = (typeof kpiMetrics)[number];
export const kpiDimensions = ['touchpoint', 'channel', 'journey'] as const;
export type KpiDimension = (typeof kpiDimensions)[number];

export interface KpiMetricSettings {
  /** |deviation score| at which an anomaly is raised. */
  threshold: number;
  /**
   * Smallest change worth an alert: relative to the expected value for volume, rates and wait p90 (0.3 = 30 %),
   * absolute for sentiment (-1..1) and NPS (points).
   */
  minChange: number;
  direction: 'up' | 'down' | 'both';
  /** Smallest denominator in a window (touchpoints; waits for wait p90; scored ones for sentiment/NPS). */
  minCount: number;
}

export interface KpiAnomalyConfig {
  enabled: boolean;
  dimensions: KpiDimension[];
  metrics: Partial<Record<KpiMetric, KpiMetricSettings>>;
  /** Window lengths scored at every closed minute: 1 catches an abrupt change in its first minute, longer ones smaller ones. */
  windowsMinutes: number[];
  /** Minutes a series must have been followed before it may alert (silent while the baseline is too young). */
  minHistoryMinutes: number;
  /** Past weeks of the same hour of the week the seasonal baseline keeps. */
  seasonWeeks: number;
  /** Half-life of the recent level, in minutes. */
  recentHalfLifeMinutes: number;
  /** No second alert for the same series and metric within this much event time. */
  cooldownMs: number;
  /** A minute closes this long after its end (in event time): later touchpoints for it are not counted. */
  latenessMs: number;
  /** A touchpoint is a negative signal when its sentiment is at most this, its NPS ≤ 6, or its outcome escalated/unresolved. */
  negativeSentimentMax: number;
  /** Guard on memory: series beyond this many are not followed (logged by the module). */
  maxSeries: number;
  /**
   * IANA time zone of the hour of the week (`Europe/Berlin`): the seasonal baseline compares a local hour with the
   * same local hour in past weeks, so a daylight-saving change does not shift office hours by one. Default UTC.
   */
  timezone: string;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const WEEK_HOURS = 168;

export const defaultMetricSettings: Record<KpiMetric, KpiMetricSettings> = {
  volume: { threshold: 4.5, minChange: 0.35, direction: 'both', minCount: 30 },
  abandonment_rate: { threshold: 4.5, minChange: 0.5, direction: 'up', minCount: 30 },
  failure_rate: { threshold: 4.5, minChange: 0.5, direction: 'up', minCount: 30 },
  wait_p90: { threshold: 4.5, minChange: 0.3, direction: 'up', minCount: 20 },
  negative_signal_rate: { threshold: 4.5, minChange: 0.5, direction: 'up', minCount: 30 },
  sentiment: { threshold: 4.5, minChange: 0.2, direction: 'down', minCount: 20 },
  nps: { threshold: 4.5, minChange: 20, direction: 'down', minCount: 20 },
};

export const defaultKpiAnomalyConfig: KpiAnomalyConfig = {
  enabled: false,
  dimensions: ['touchpoint', 'channel', 'journey'],
  metrics: {
    volume: defaultMetricSettings.volume,
    abandonment_rate: defaultMetricSettings.abandonment_rate,
    failure_rate: defaultMetricSettings.failure_rate,
    wait_p90: defaultMetricSettings.wait_p90,
    negative_signal_rate: defaultMetricSettings.negative_signal_rate,
  },
  windowsMinutes: [1, 2],
  minHistoryMinutes: 180,
  seasonWeeks: 4,
  recentHalfLifeMinutes: 30,
  cooldownMs: 30 * MINUTE_MS,
  latenessMs: 5_000,
  negativeSentimentMax: -0.5,
  maxSeries: 5_000,
  timezone: 'UTC',
};

/**
 * Minutes to add to a UTC epoch minute to get the wall-clock minute in `timezone` (0 for UTC). One formatter per
 * zone; offsets are cached per quarter hour (every zone's offsets change on a quarter hour).
 */
export function zoneOffsetMinutes(timezone: string, epochMs: number): number {
  if (timezone === 'UTC') return 0;
  let zone = zoneCache.get(timezone);
  if (!zone) {
    const format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    zoneCache.set(timezone, (zone = { format, offsets: new Map() }));
  }
  const quarter = Math.floor(epochMs / (15 * MINUTE_MS));
  let offset = zone.offsets.get(quarter);
  if (offset === undefined) {
    const at = quarter * 15 * MINUTE_MS;
    const parts = Object.fromEntries(zone.format.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
    offset = Math.round((wall - at) / MINUTE_MS);
    if (zone.offsets.size > 10_000) zone.offsets.clear();
    zone.offsets.set(quarter, offset);
  }
  return offset;
}
const zoneCache = new Map<string, { format: Intl.DateTimeFormat; offsets: Map<number, number> }>();

/** Whether `timezone` is an IANA zone this runtime knows. */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** What the detector reads of a touchpoint. */
export interface KpiTouchpoint {
  occurredAtMs: number;
  touchpoint: string;
  channel: string;
  journey: string | null;
  outcome: string | null;
  waitMs: number | null;
  sentiment: number | null;
  /** NPS survey score 0..10, null when the touchpoint carries none. */
  nps: number | null;
}

/** Counts of one minute (or window) of one series, or of one value of another dimension inside it. */
export interface Tally {
  n: number;
  abandoned: number;
  failed: number;
  negative: number;
  sentimentSum: number;
  sentimentN: number;
  npsPromoters: number;
  npsDetractors: number;
  npsN: number;
  waits: number[];
}

const emptyTally = (): Tally => ({ n: 0, abandoned: 0, failed: 0, negative: 0, sentimentSum: 0, sentimentN: 0, npsPromoters: 0, npsDetractors: 0, npsN: 0, waits: [] });

function addTouchpoint(t: Tally, e: KpiTouchpoint, negativeSentimentMax: number): void {
  t.n++;
  if (e.outcome === 'abandoned') t.abandoned++;
  if (e.outcome === 'failed') t.failed++;
  const negative =
    (e.sentiment !== null && e.sentiment <= negativeSentimentMax) || (e.nps !== null && e.nps <= 6) || e.outcome === 'escalated' || e.outcome === 'unresolved';
  if (negative) t.negative++;
  if (e.sentiment !== null) {
    t.sentimentSum += e.sentiment;
    t.sentimentN++;
  }
  if (e.nps !== null) {
    t.npsN++;
    if (e.nps >= 9) t.npsPromoters++;
    else if (e.nps <= 6) t.npsDetractors++;
  }
  if (e.waitMs !== null) t.waits.push(e.waitMs);
}

function addTally(into: Tally, t: Tally): void {
  into.n += t.n;
  into.abandoned += t.abandoned;
  into.failed += t.failed;
  into.negative += t.negative;
  into.sentimentSum += t.sentimentSum;
  into.sentimentN += t.sentimentN;
  into.npsPromoters += t.npsPromoters;
  into.npsDetractors += t.npsDetractors;
  into.npsN += t.npsN;
  for (const w of t.waits) into.waits.push(w);
}

/** The q-quantile of values (linear interpolation between order statistics, like numpy's default). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Median absolute deviation scaled to a normal σ (1.4826 × MAD). */
export function madSigma(values: number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return 1.4826 * median(values.map((v) => Math.abs(v - m)));
}

/** The metric's value of a tally over `minutes` minutes, with its denominator; null when it has none. */
export function metricValue(metric: KpiMetric, t: Tally, minutes: number): { value: number; denominator: number } | null {
  switch (metric) {
    case 'volume':
      return { value: t.n / minutes, denominator: t.n };
    case 'abandonment_rate':
      return t.n ? { value: t.abandoned / t.n, denominator: t.n } : null;
    case 'failure_rate':
      return t.n ? { value: t.failed / t.n, denominator: t.n } : null;
    case 'negative_signal_rate':
      return t.n ? { value: t.negative / t.n, denominator: t.n } : null;
    case 'wait_p90':
      return t.waits.length ? { value: quantile(t.waits, 0.9), denominator: t.waits.length } : null;
    case 'sentiment':
      return t.sentimentN ? { value: t.sentimentSum / t.sentimentN, denominator: t.sentimentN } : null;
    case 'nps':
      return t.npsN ? { value: (100 * (t.npsPromoters - t.npsDetractors)) / t.npsN, denominator: t.npsN } : null;
  }
}

/**
 * Variance of the metric measured over a window, from sampling alone: Poisson for volume (per-minute mean of W
 * minutes), binomial for rates, an individual spread of 0.5 for sentiment and of 70 points for NPS; wait p90 has no
 * model (its spread comes from the recent residuals).
 */
export function samplingVariance(metric: KpiMetric, expected: number, denominator: number, minutes: number): number {
  switch (metric) {
    case 'volume':
      return Math.max(expected, 0.5) / minutes;
    case 'abandonment_rate':
    case 'failure_rate':
    case 'negative_signal_rate': {
      const p = Math.min(Math.max(expected, 0.01), 0.99);
      return (p * (1 - p)) / Math.max(denominator, 1);
    }
    case 'sentiment':
      return 0.25 / Math.max(denominator, 1);
    case 'nps':
      return 4900 / Math.max(denominator, 1);
    case 'wait_p90':
      return 0;
  }
}

/** Whether min_change is relative to the expected value (else absolute). */
const relativeChange = (metric: KpiMetric) => metric !== 'sentiment' && metric !== 'nps';
/** Rates and means weigh each minute by its denominator in the recent level; volume and wait p90 weigh minutes equally. */
const weightedByDenominator = (metric: KpiMetric) => metric !== 'volume' && metric !== 'wait_p90';

export interface KpiContribution {
  dimension: KpiDimension;
  value: string;
  /** Share of the deviation this value explains (its excess over what its volume predicts / the total excess). */
  share: number;
  /** The value's excess in the metric's natural unit: touchpoints, abandonments, waits above the expected p90, ... */
  excess: number;
  /** Touchpoints of this value in the window. */
  count: number;
}

export interface KpiAnomaly {
  metric: KpiMetric;
  dimension: KpiDimension;
  value: string;
  windowMinutes: number;
  windowStartMs: number;
  windowEndMs: number;
  /** Stream time (newest event time) at which the window closed. */
  detectedAtMs: number;
  observed: number;
  expected: number;
  /** Robust deviation score: (observed − expected) / σ. */
  deviation: number;
  /** observed / expected − 1 (null when expected is 0). */
  change: number | null;
  /** Denominator of the window (touchpoints, waits, scored touchpoints). */
  denominator: number;
  /** Whether the baseline used past weeks' same hour (`seasonal`) or only the recent level (`recent`). */
  baseline: 'seasonal' | 'recent';
  /** Per other dimension, the values that explain most of the deviation (largest first). */
  contributions: KpiContribution[];
}

/** A series' state for one metric. */
interface MetricState {
  /** EWMA of the value (numerator and weight): the recent level. */
  levelNum: number;
  levelWeight: number;
  /** EWMA of value − seasonal value, over minutes that had one. */
  offsetNum: number;
  offsetWeight: number;
  offsetMinutes: number;
  /** EWMA of |value − expected| of one minute (robust spread of recent residuals). */
  absResidual: number;
  absResidualWeight: number;
  /** Expected value of each recent minute (newest last), to average over a window. */
  expectedByMinute: number[];
  lastAlertMs: number;
}

/** Per series: the hour-of-week history and the recent minutes. */
interface SeriesState {
  dimension: KpiDimension;
  value: string;
  firstMinute: number;
  /** hour index (epoch hours) → the metric values of that hour, kept for seasonWeeks weeks. */
  hours: Map<number, Partial<Record<KpiMetric, number>>>;
  /** Local hour (epoch hours in the configured zone) being tallied; undefined until the first closed minute. */
  currentHour: number | undefined;
  currentHourTally: Tally;
  /** Tallies of the last max(window) minutes (newest last), with their breakdowns by the other dimensions. */
  recent: Array<{ minute: number; tally: Tally; breakdown: Map<string, Tally> }>;
  metrics: Map<KpiMetric, MetricState>;
  /** EWMA of each other-dimension value's touchpoints per minute: its expected share of volume. */
  shareEwma: Map<string, number>;
}

const seriesKey = (d: KpiDimension, v: string) => `${d}\u0000${v}`;
const breakdownKey = (d: KpiDimension, v: string) => `${d}\u0000${v}`;

function valueOf(e: KpiTouchpoint, d: KpiDimension): string | null {
  return d === 'touchpoint' ? e.touchpoint : d === 'channel' ? e.channel : e.journey;
}

export interface KpiDetectorStats {
  series: number;
  lateTouchpoints: number;
  droppedSeries: number;
  closedMinutes: number;
}

export class KpiAnomalyDetector {
  private config: KpiAnomalyConfig;
  private readonly series = new Map<string, SeriesState>();
  /** minute index → series key → the minute's tally and its breakdown. */
  private readonly open = new Map<number, Map<string, { tally: Tally; breakdown: Map<string, Tally> }>>();
  private maxEventMs = -Infinity;
  /** The next minute to close (epoch minutes); undefined before the first touchpoint. */
  private nextMinute: number | undefined;
  readonly stats: KpiDetectorStats = { series: 0, lateTouchpoints: 0, droppedSeries: 0, closedMinutes: 0 };

  constructor(config: KpiAnomalyConfig) {
    this.config = config;
  }

  /** New settings (rules reload): history is kept; metrics no longer configured stop being scored. */
  setConfig(config: KpiAnomalyConfig): void {
    this.config = config;
  }

  get settings(): KpiAnomalyConfig {
    return this.config;
  }

  /** Newest event time seen (ms), or -Infinity. */
  get streamTimeMs(): number {
    return this.maxEventMs;
  }

  /**
   * Warm start (anomaly/warm-start.ts): one finished hour of a series read back from storage, with its metric values
   * (computed as finishHour does). The hour starts at `hourStartMs` (UTC epoch ms of a local hour's start). The series
   * counts as followed since its oldest seeded hour. False when the series is over maxSeries.
   */
  seedHour(dimension: KpiDimension, value: string, hourStartMs: number, values: Partial<Record<KpiMetric, number>>): boolean {
    const key = seriesKey(dimension, value);
    const minute = Math.floor(hourStartMs / MINUTE_MS);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.config.maxSeries) {
        this.stats.droppedSeries++;
        return false;
      }
      s = this.newSeries(dimension, value, minute);
      s.currentHour = undefined;
      this.series.set(key, s);
      this.stats.series = this.series.size;
    }
    s.firstMinute = Math.min(s.firstMinute, minute);
    s.hours.set(this.localHourOf(minute), values);
    return true;
  }

  /** Warm start: an hour of a followed series without touchpoints (volume 0, as finishHour records it) unless seeded. */
  seedQuietHour(dimension: KpiDimension, value: string, hourStartMs: number): void {
    const s = this.series.get(seriesKey(dimension, value));
    const hour = this.localHourOf(Math.floor(hourStartMs / MINUTE_MS));
    if (s && !s.hours.has(hour)) s.hours.set(hour, { volume: 0 });
  }

  /** Warm start: the first minute to close (the replay's first minute), before any touchpoint is observed. */
  startAt(minute: number): void {
    if (this.nextMinute === undefined) this.nextMinute = minute;
  }

  /** The local hour (epoch hours in the configured zone) of a UTC epoch minute. */
  localHourOf(minute: number): number {
    return Math.floor(this.localMinuteOf(minute) / 60);
  }

  private localMinuteOf(minute: number): number {
    return minute + zoneOffsetMinutes(this.config.timezone, minute * MINUTE_MS);
  }

  /** Counts a touchpoint into its minute; one whose minute has already closed is late and only counted as such. */
  observe(e: KpiTouchpoint): void {
    const minute = Math.floor(e.occurredAtMs / MINUTE_MS);
    if (this.nextMinute === undefined) this.nextMinute = minute;
    if (minute < this.nextMinute) {
      this.stats.lateTouchpoints++;
      return;
    }
    if (e.occurredAtMs > this.maxEventMs) this.maxEventMs = e.occurredAtMs;
    let bucket = this.open.get(minute);
    if (!bucket) this.open.set(minute, (bucket = new Map()));
    for (const d of this.config.dimensions) {
      const v = valueOf(e, d);
      if (v === null) continue;
      const key = seriesKey(d, v);
      if (!this.series.has(key)) {
        if (this.series.size >= this.config.maxSeries) {
          this.stats.droppedSeries++;
          continue;
        }
        this.series.set(key, this.newSeries(d, v, minute));
        this.stats.series = this.series.size;
      }
      let cell = bucket.get(key);
      if (!cell) bucket.set(key, (cell = { tally: emptyTally(), breakdown: new Map() }));
      addTouchpoint(cell.tally, e, this.config.negativeSentimentMax);
      for (const other of kpiDimensions) {
        if (other === d) continue;
        const ov = valueOf(e, other);
        if (ov === null) continue;
        const bk = breakdownKey(other, ov);
        let t = cell.breakdown.get(bk);
        if (!t) cell.breakdown.set(bk, (t = emptyTally()));
        addTouchpoint(t, e, this.config.negativeSentimentMax);
      }
    }
  }

  /**
   * Closes every minute that ended at least `latenessMs` before `streamTimeMs` (default: the newest event time seen)
   * and returns the anomalies found, oldest first. The live module passes a later time when the stream is idle.
   */
  advance(streamTimeMs: number = this.maxEventMs): KpiAnomaly[] {
    if (this.nextMinute === undefined || !Number.isFinite(streamTimeMs)) return [];
    const anomalies: KpiAnomaly[] = [];
    while ((this.nextMinute + 1) * MINUTE_MS + this.config.latenessMs <= streamTimeMs) {
      const minute = this.nextMinute;
      const bucket = this.open.get(minute) ?? new Map();
      this.open.delete(minute);
      this.nextMinute++;
      this.stats.closedMinutes++;
      for (const [key, state] of this.series) {
        const cell = bucket.get(key) ?? { tally: emptyTally(), breakdown: new Map<string, Tally>() };
        this.closeMinute(state, minute, cell, Math.max(streamTimeMs, (minute + 1) * MINUTE_MS + this.config.latenessMs), anomalies);
      }
    }
    return anomalies;
  }

  private newSeries(dimension: KpiDimension, value: string, minute: number): SeriesState {
    return {
      dimension,
      value,
      firstMinute: minute,
      hours: new Map(),
      currentHour: this.localHourOf(minute),
      currentHourTally: emptyTally(),
      recent: [],
      metrics: new Map(),
      shareEwma: new Map(),
    };
  }

  private metricState(s: SeriesState, metric: KpiMetric): MetricState {
    let m = s.metrics.get(metric);
    if (!m) {
      m = { levelNum: 0, levelWeight: 0, offsetNum: 0, offsetWeight: 0, offsetMinutes: 0, absResidual: 0, absResidualWeight: 0, expectedByMinute: [], lastAlertMs: -Infinity };
      s.metrics.set(metric, m);
    }
    return m;
  }

  /**
   * The seasonal value at a minute: the median over past weeks of the same hour, linearly interpolated between the
   * centres of that hour and its neighbour; with its spread across weeks (MAD σ, from 3 weeks on). Null without a week.
   */
  seasonalAt(s: SeriesState, metric: KpiMetric, minute: number): { value: number; sigma: number } | null {
    return seasonalValue(s.hours, metric, this.localMinuteOf(minute), this.config.seasonWeeks);
  }

  /** Expected value of one minute before it is seen; null while the metric has no level yet. */
  private expectedFor(s: SeriesState, m: MetricState, metric: KpiMetric, minute: number): { value: number; seasonal: { value: number; sigma: number } | null } | null {
    const seasonal = this.seasonalAt(s, metric, minute);
    // The seasonal shape is trusted once its offset has been followed for a while (half an hour of minutes).
    if (seasonal && m.offsetMinutes >= 30 && m.offsetWeight > 0) {
      return { value: Math.max(0, seasonal.value + m.offsetNum / m.offsetWeight), seasonal };
    }
    if (m.levelWeight <= 0) return null;
    return { value: m.levelNum / m.levelWeight, seasonal: null };
  }

  private closeMinute(
    s: SeriesState,
    minute: number,
    cell: { tally: Tally; breakdown: Map<string, Tally> },
    detectedAtMs: number,
    out: KpiAnomaly[],
  ): void {
    const maxWindow = Math.max(...this.config.windowsMinutes);
    s.recent.push({ minute, tally: cell.tally, breakdown: cell.breakdown });
    while (s.recent.length > maxWindow) s.recent.shift();
    const decay = Math.pow(0.5, 1 / this.config.recentHalfLifeMinutes);
    const oldEnough = minute - s.firstMinute + 1 >= this.config.minHistoryMinutes;

    for (const [metric, settings] of Object.entries(this.config.metrics) as Array<[KpiMetric, KpiMetricSettings]>) {
      const m = this.metricState(s, metric);
      const exp = this.expectedFor(s, m, metric, minute);
      m.expectedByMinute.push(exp ? exp.value : NaN);
      while (m.expectedByMinute.length > maxWindow) m.expectedByMinute.shift();

      // 1. Score the windows ending with this minute (before the minute updates the baseline).
      if (exp && oldEnough && detectedAtMs - m.lastAlertMs >= this.config.cooldownMs) {
        let best: KpiAnomaly | null = null;
        for (const w of this.config.windowsMinutes) {
          if (s.recent.length < w) continue;
          const anomaly = this.scoreWindow(s, m, metric, settings, w, exp.seasonal, detectedAtMs);
          if (anomaly && (!best || Math.abs(anomaly.deviation) > Math.abs(best.deviation))) best = anomaly;
        }
        if (best) {
          m.lastAlertMs = detectedAtMs;
          out.push(best);
        }
      }

      // 2. Learn from the minute: the value, winsorised to expected ± 3σ so that an anomaly is not learnt at once.
      const observed = metricValue(metric, cell.tally, 1);
      if (observed) {
        let x = observed.value;
        if (exp) {
          const sigma = this.sigmaOf(m, metric, exp.value, observed.denominator, 1, exp.seasonal?.sigma ?? 0);
          x = Math.min(Math.max(x, exp.value - 3 * sigma), exp.value + 3 * sigma);
          const residual = Math.abs(observed.value - exp.value);
          m.absResidual = decay * m.absResidual + (1 - decay) * Math.min(residual, 4 * sigma);
          m.absResidualWeight = decay * m.absResidualWeight + (1 - decay);
        }
        const weight = weightedByDenominator(metric) ? observed.denominator : 1;
        m.levelNum = decay * m.levelNum + (1 - decay) * weight * x;
        m.levelWeight = decay * m.levelWeight + (1 - decay) * weight;
        const seasonal = exp?.seasonal ?? this.seasonalAt(s, metric, minute);
        if (seasonal) {
          m.offsetNum = decay * m.offsetNum + (1 - decay) * weight * (x - seasonal.value);
          m.offsetWeight = decay * m.offsetWeight + (1 - decay) * weight;
          m.offsetMinutes++;
        }
      }
    }

    // 3. Expected shares of volume per other-dimension value (for the contribution analysis of volume).
    for (const [k, v] of s.shareEwma) s.shareEwma.set(k, decay * v);
    for (const [k, t] of cell.breakdown) s.shareEwma.set(k, (s.shareEwma.get(k) ?? 0) + (1 - decay) * t.n);
    for (const [k, v] of s.shareEwma) if (v < 1e-4) s.shareEwma.delete(k);

    // 4. The hour-of-week history: an hour's values are kept when the hour is over.
    const hour = this.localHourOf(minute);
    if (s.currentHour !== undefined && hour !== s.currentHour) this.finishHour(s);
    s.currentHour = hour;
    addTally(s.currentHourTally, cell.tally);
  }

  private finishHour(s: SeriesState): void {
    const values: Partial<Record<KpiMetric, number>> = {};
    for (const metric of Object.keys(this.config.metrics) as KpiMetric[]) {
      const v = metricValue(metric, s.currentHourTally, 60);
      if (v) values[metric] = v.value;
    }
    const hour = s.currentHour!;
    s.hours.set(hour, values);
    for (const h of s.hours.keys()) if (h <= hour - this.config.seasonWeeks * WEEK_HOURS) s.hours.delete(h);
    s.currentHourTally = emptyTally();
  }

  private sigmaOf(m: MetricState, metric: KpiMetric, expected: number, denominator: number, minutes: number, seasonalSigma: number): number {
    const model = Math.sqrt(samplingVariance(metric, expected, denominator, minutes) + seasonalSigma * seasonalSigma);
    const residual = m.absResidualWeight > 0 ? (1.2533 * m.absResidual) / m.absResidualWeight / Math.sqrt(minutes) : 0;
    // A floor of 5 % of the expected value (1 % for rates' absolute scale) keeps a perfectly flat past from alerting on noise.
    const floor = metric === 'sentiment' ? 0.02 : metric === 'nps' ? 2 : relativeChange(metric) ? Math.max(0.05 * Math.abs(expected), metric.endsWith('_rate') ? 0.01 : 0.5) : 0;
    return Math.max(model, residual, floor);
  }

  private scoreWindow(
    s: SeriesState,
    m: MetricState,
    metric: KpiMetric,
    settings: KpiMetricSettings,
    minutes: number,
    seasonal: { value: number; sigma: number } | null,
    detectedAtMs: number,
  ): KpiAnomaly | null {
    const frames = s.recent.slice(-minutes);
    const expectations = m.expectedByMinute.slice(-minutes);
    if (expectations.some((e) => Number.isNaN(e))) return null;
    const window = emptyTally();
    for (const f of frames) addTally(window, f.tally);
    const observed = metricValue(metric, window, minutes);
    const expected = expectations.reduce((a, b) => a + b, 0) / minutes;
    if (metric === 'volume') {
      if (Math.max(window.n, expected * minutes) < settings.minCount) return null;
    } else if (!observed || observed.denominator < settings.minCount) {
      return null;
    }
    const obs = observed ?? { value: 0, denominator: 0 };
    const sigma = this.sigmaOf(m, metric, expected, obs.denominator, minutes, seasonal?.sigma ?? 0);
    const diff = obs.value - expected;
    // The smaller of two scores: against the spread (sampling, seasons, recent residuals) and the exact-tail score of
    // the counts behind the value, which stays honest where few events make the normal approximation too bold.
    const robust = diff / sigma;
    const counted = countsOf(metric, window, expected, minutes);
    const tail = counted ? poissonTailZ(counted.k, counted.lambda, diff >= 0 ? 'up' : 'down') : Math.abs(robust);
    const deviation = Math.sign(robust) * Math.min(Math.abs(robust), tail);
    if (settings.direction === 'up' && diff <= 0) return null;
    if (settings.direction === 'down' && diff >= 0) return null;
    if (Math.abs(deviation) < settings.threshold) return null;
    const needed = relativeChange(metric) ? settings.minChange * Math.abs(expected) : settings.minChange;
    if (Math.abs(diff) < needed) return null;
    const start = frames[0]!.minute * MINUTE_MS;
    return {
      metric,
      dimension: s.dimension,
      value: s.value,
      windowMinutes: minutes,
      windowStartMs: start,
      windowEndMs: start + minutes * MINUTE_MS,
      detectedAtMs,
      observed: obs.value,
      expected,
      deviation,
      change: expected !== 0 ? obs.value / expected - 1 : null,
      denominator: obs.denominator,
      baseline: seasonal ? 'seasonal' : 'recent',
      contributions: contributions(s, metric, frames, expected, minutes),
    };
  }
}

/**
 * The seasonal value at a (local) minute: the median over the past `seasonWeeks` weeks of the same hour of the week, linearly
 * interpolated between the centres of that hour and its neighbour; with its spread across weeks (MAD σ, from 3 weeks
 * on, else 0). Null without a past week.
 */
export function seasonalValue(
  hours: Map<number, Partial<Record<KpiMetric, number>>>,
  metric: KpiMetric,
  minute: number,
  seasonWeeks: number,
): { value: number; sigma: number } | null {
  const hourPos = (minute * MINUTE_MS + MINUTE_MS / 2) / HOUR_MS - 0.5;
  const h0 = Math.floor(hourPos);
  const frac = hourPos - h0;
  const at = (hour: number) => {
    const values: number[] = [];
    for (let w = 1; w <= seasonWeeks; w++) {
      const v = hours.get(hour - w * WEEK_HOURS)?.[metric];
      if (v !== undefined) values.push(v);
    }
    return values.length ? { value: median(values), sigma: values.length >= 3 ? madSigma(values) : 0 } : null;
  };
  const a = at(h0);
  const b = at(h0 + 1);
  if (!a || !b) return a ?? b;
  return { value: a.value * (1 - frac) + b.value * frac, sigma: a.sigma * (1 - frac) + b.sigma * frac };
}

/**
 * The counts behind a window's value, to score with the Poisson tail: touchpoints (volume), abandonments, failures or
 * negative signals (rates, against touchpoints × the expected rate), waits above the expected p90 (against 10 % of the
 * waits). Null for sentiment and NPS (means, scored against their spread only).
 */
export function countsOf(metric: KpiMetric, t: Tally, expected: number, minutes: number): { k: number; lambda: number } | null {
  switch (metric) {
    case 'volume':
      return { k: t.n, lambda: expected * minutes };
    case 'abandonment_rate':
      return { k: t.abandoned, lambda: t.n * expected };
    case 'failure_rate':
      return { k: t.failed, lambda: t.n * expected };
    case 'negative_signal_rate':
      return { k: t.negative, lambda: t.n * expected };
    case 'wait_p90':
      return { k: t.waits.filter((w) => w > expected).length, lambda: 0.1 * t.waits.length };
    default:
      return null;
  }
}

/**
 * How surprising k is for a Poisson count of mean λ, as a normal score (≥ 0): up, P(X ≥ k); down, P(X ≤ k). Through
 * P(X ≥ k) = P(χ²(2k) ≤ 2λ) and the Wilson–Hilferty cube-root approximation of χ², accurate to a few per cent of the
 * score in the far tail, in constant time.
 */
export function poissonTailZ(k: number, lambda: number, direction: 'up' | 'down'): number {
  // At least one event expected: a count never seen in the baseline (a rate of 0 so far) is not infinitely surprising.
  const l = Math.max(lambda, 1);
  if (direction === 'up') {
    if (k <= 0 || k <= l) return 0;
    return Math.max(0, 3 * Math.sqrt(k) * (1 - 1 / (9 * k) - Math.cbrt(l / k)));
  }
  const k1 = k + 1;
  if (k >= l) return 0;
  return Math.max(0, 3 * Math.sqrt(k1) * (Math.cbrt(l / k1) - 1 + 1 / (9 * k1)));
}

/**
 * Which values of the other dimensions explain the deviation: each value's excess over what its own volume predicts
 * (rates: its events × the expected rate; wait p90: its waits above the expected p90 beyond the 10 % expected there;
 * volume: its touchpoints beyond its recent share of the expected volume), as a share of the dimension's total excess.
 * Up to three values per dimension, explaining ≥ 5 % each.
 */
export function contributions(
  s: { dimension: KpiDimension; shareEwma: Map<string, number> },
  metric: KpiMetric,
  frames: Array<{ breakdown: Map<string, Tally> }>,
  expected: number,
  minutes: number,
): KpiContribution[] {
  const byValue = new Map<string, Tally>();
  for (const f of frames) {
    for (const [k, t] of f.breakdown) {
      let into = byValue.get(k);
      if (!into) byValue.set(k, (into = emptyTally()));
      addTally(into, t);
    }
  }
  const result: KpiContribution[] = [];
  for (const dim of kpiDimensions) {
    if (dim === s.dimension) continue;
    const prefix = `${dim}\u0000`;
    const keys = new Set([...byValue.keys(), ...(metric === 'volume' ? s.shareEwma.keys() : [])].filter((k) => k.startsWith(prefix)));
    const shareTotal = [...s.shareEwma].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
    const rows: KpiContribution[] = [];
    for (const k of keys) {
      const t = byValue.get(k) ?? emptyTally();
      let excess: number;
      switch (metric) {
        case 'volume':
          excess = t.n - (shareTotal > 0 ? ((s.shareEwma.get(k) ?? 0) / shareTotal) * expected * minutes : 0);
          break;
        case 'abandonment_rate':
          excess = t.abandoned - t.n * expected;
          break;
        case 'failure_rate':
          excess = t.failed - t.n * expected;
          break;
        case 'negative_signal_rate':
          excess = t.negative - t.n * expected;
          break;
        case 'wait_p90':
          excess = t.waits.filter((w) => w > expected).length - 0.1 * t.waits.length;
          break;
        case 'sentiment':
          excess = t.sentimentSum - t.sentimentN * expected;
          break;
        case 'nps':
          excess = 100 * (t.npsPromoters - t.npsDetractors) - t.npsN * expected;
          break;
      }
      rows.push({ dimension: dim, value: k.slice(prefix.length), share: 0, excess, count: t.n });
    }
    const total = rows.reduce((a, r) => a + r.excess, 0);
    if (total === 0) continue;
    for (const r of rows) r.share = r.excess / total;
    result.push(...rows.filter((r) => r.share >= 0.05).sort((a, b) => b.share - a.share).slice(0, 3));
  }
  return result;
}
