// The pure parts of `touchstream bench pipeline`: percentiles, the lag trend verdict, freshness from acknowledged
// and counted checkpoints, sparklines, the parsers of the engines' own benchmark tools, and the target check.
// No I/O here (pipeline.test.ts covers it).

export interface Summary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentile of an ascending array (p in 0…1); null for an empty one. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null;
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? null, mean };
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface LagSample {
  /** Seconds. */
  t: number;
  /** Records not yet committed by the group. */
  lag: number;
}

export interface LagTrend {
  /** Least-squares slope of the lag over the last half of the load phase, records per second. */
  slopePerS: number;
  /** The slope as a share of the rate records arrive at (0.1 = the lag grows by 10% of the input). */
  slopeShare: number | null;
  verdict: 'flat' | 'growing';
  maxLag: number;
  lastLag: number;
}

/**
 * Whether a consumer keeps up: the lag's slope over the last half of the samples (the first half includes the
 * warm-up) against the rate records arrive at. Growing when the lag rises by more than `share` of the input rate
 * (default 5%) and by more than `minPerS` records/s (noise floor for tiny rates); flat otherwise (a shrinking
 * lag is bounded, so flat too).
 */
export function lagTrend(samples: readonly LagSample[], inputPerS: number, share = 0.05, minPerS = 20): LagTrend {
  const maxLag = samples.reduce((m, s) => Math.max(m, s.lag), 0);
  const lastLag = samples.at(-1)?.lag ?? 0;
  if (samples.length < 2) return { slopePerS: 0, slopeShare: null, verdict: 'flat', maxLag, lastLag };
  const t0 = samples[0]!.t;
  const t1 = samples.at(-1)!.t;
  const mid = t0 + (t1 - t0) / 2;
  const tail = samples.filter((s) => s.t >= mid).map((s) => ({ x: s.t, y: s.lag }));
  const perS = slope(tail);
  const slopeShare = inputPerS > 0 ? perS / inputPerS : null;
  const verdict = perS > Math.max(minPerS, share * inputPerS) ? 'growing' : 'flat';
  return { slopePerS: perS, slopeShare, verdict, maxLag, lastLag };
}

export interface AckCheckpoint {
  /** When the 202 arrived (ms, same clock as the observations). */
  t: number;
  /** Events acknowledged so far, this one included. */
  acked: number;
}

export interface CountObservation {
  /** When the query API's answer arrived (ms). */
  t: number;
  /** Events the query API counted (this run's only: the count before the run subtracted). */
  count: number;
}

/**
 * Freshness of each acknowledged checkpoint: the first observation at or after its 202 whose count reaches the
 * checkpoint's cumulative acknowledged events, minus the 202 time (ms). Checkpoints never reached are counted
 * apart (`unreached`). Both inputs in time order; cumulative counts never decrease, so one pass suffices.
 */
export function freshness(acks: readonly AckCheckpoint[], observations: readonly CountObservation[]): { latencies: number[]; unreached: number } {
  // Stored events stay stored: a count once seen holds for every later moment (a lower later answer is noise).
  const seen: CountObservation[] = [];
  let high = -Infinity;
  for (const o of observations) {
    high = Math.max(high, o.count);
    seen.push({ t: o.t, count: high });
  }
  const latencies: number[] = [];
  let j = 0;
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i]!;
    while (j < seen.length && (seen[j]!.t < ack.t || seen[j]!.count < ack.acked)) j++;
    if (j >= seen.length) return { latencies, unreached: acks.length - i };
    latencies.push(seen[j]!.t - ack.t);
  }
  return { latencies, unreached: 0 };
}

const bars = '▁▂▃▄▅▆▇█';

/** A unicode sparkline of `values` in at most `width` columns (each column the maximum of its values). */
export function sparkline(values: readonly number[], width = 48, max = Math.max(0, ...values)): string {
  if (values.length === 0) return '';
  const columns = Math.min(width, values.length);
  let out = '';
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * values.length) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * values.length) / columns));
    let v = 0;
    for (let i = from; i < to; i++) v = Math.max(v, values[i]!);
    out += max <= 0 || v <= 0 ? ' ' : bars[Math.min(bars.length - 1, Math.round((v / max) * (bars.length - 1)))];
  }
  return out;
}

export interface ProducerPerformanceResult {
  records: number;
  recordsPerS: number;
  mbPerS: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** The final summary line of Kafka's ProducerPerformance (the last one that says "records sent"). */
export function parseProducerPerformance(output: string): ProducerPerformanceResult | null {
  const re = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(output); m; m = re.exec(output)) last = m;
  if (!last) return null;
  return {
    records: Number(last[1]),
    recordsPerS: Number(last[2]),
    mbPerS: Number(last[3]),
    avgLatencyMs: Number(last[4]),
    maxLatencyMs: Number(last[5]),
    p50Ms: last[6] === undefined ? null : Number(last[6]),
    p99Ms: last[8] === undefined ? null : Number(last[8]),
  };
}

/** `redis-benchmark -q` lines ("SET: 123456.79 requests per second, p50=0.391 msec"), by test name. */
export function parseRedisBenchmark(output: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of output.split(/[\r\n]+/)) {
    const m = /^\s*([A-Za-z_ ]+?): ([\d.]+) requests per second/.exec(line);
    if (m) out[m[1]!.trim()] = Number(m[2]);
  }
  return out;
}

/** Issue 13's targets (on the 2-core machine, everything co-located as `up` runs it). */
export const issueTargets = {
  endToEndEventsPerS: 20_000,
  alertP99Ms: 500,
  ingestP99Ms: 100,
  freshnessP99Ms: 5_000,
} as const;

export interface TargetInputs {
  /** The offered rate, or null for --rate max. */
  rate: number | null;
  endToEndEventsPerS: number | null;
  lagVerdicts: Array<'flat' | 'growing'>;
  alertP99Ms: number | null;
  ingestP99Ms: number | null;
  freshnessP99Ms: number | null;
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  ok: boolean;
}

/**
 * The targets a run can speak for: throughput (≥ 20k events/s end to end with every lag flat) at --rate max or an
 * offered rate of at least that; the latency
 * targets are stated at 5,000 events/s, so they are checked when the run's rate is at most that (a run at a higher
 * rate that meets them meets them a fortiori, so they are checked then too, but a miss there is not a verdict).
 */
export function checkTargets(r: TargetInputs): TargetCheck[] {
  const fmt = (v: number | null, unit: string) => (v === null ? 'n/a' : `${Math.round(v).toLocaleString('en')} ${unit}`);
  const checks: TargetCheck[] = [];
  const flat = r.lagVerdicts.every((v) => v === 'flat');
  // A run offered less than the target cannot reach it: throughput is judged on --rate max or ≥ 20k.
  if (r.rate === null || r.rate >= issueTargets.endToEndEventsPerS) checks.push({
    name: 'end to end, lags flat',
    target: `≥ ${issueTargets.endToEndEventsPerS.toLocaleString('en')} events/s`,
    measured: `${fmt(r.endToEndEventsPerS, 'events/s')}, lags ${flat ? 'flat' : 'growing'}`,
    ok: flat && (r.endToEndEventsPerS ?? 0) >= issueTargets.endToEndEventsPerS,
  });
  const latencyApplies = r.rate !== null && r.rate <= 5_000;
  const latency = (name: string, value: number | null, max: number) => {
    const ok = value !== null && value <= max;
    if (latencyApplies || ok) checks.push({ name, target: `p99 ≤ ${max.toLocaleString('en')} ms`, measured: fmt(value, 'ms'), ok });
  };
  latency('alert latency', r.alertP99Ms, issueTargets.alertP99Ms);
  latency('ingest request', r.ingestP99Ms, issueTargets.ingestP99Ms);
  latency('freshness (query API)', r.freshnessP99Ms, issueTargets.freshnessP99Ms);
  return checks;
}
