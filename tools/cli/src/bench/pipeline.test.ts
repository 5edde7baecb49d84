import { describe, expect, it } from 'vitest';
import {
  checkTargets, freshness, lagTrend, parseProducerPerformance, parseRedisBenchmark, percentile, slope, sparkline, summarize,
} from './pipeline-stats.ts';
import { readProcStat } from './procfs.ts';
import { TrafficGenerator } from './pipeline-load.ts';

describe('percentiles', () => {
  it('are nearest-rank over the sorted values', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1); // 1…100
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.99)).toBe(99);
    expect(percentile(xs, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNull();
  });

  it('summarize sorts unsorted input and reports mean and max', () => {
    const s = summarize([30, 10, 20, 1000]);
    expect(s).toEqual({ count: 4, p50: 20, p99: 1000, max: 1000, mean: 265 });
    expect(summarize([])).toEqual({ count: 0, p50: null, p99: null, max: null, mean: null });
  });
});

describe('lag trend', () => {
  it('slope is the least-squares slope', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 5 }])).toBe(0);
  });

  it('a lag that oscillates around a level is flat', () => {
    const samples = Array.from({ length: 60 }, (_, t) => ({ t, lag: 2000 + (t % 2 ? 300 : -300) }));
    const trend = lagTrend(samples, 5000);
    expect(trend.verdict).toBe('flat');
    expect(Math.abs(trend.slopePerS)).toBeLessThan(50);
    expect(trend.maxLag).toBe(2300);
  });

  it('a lag that rises by a tenth of the input rate is growing', () => {
    const samples = Array.from({ length: 60 }, (_, t) => ({ t, lag: 500 * t }));
    const trend = lagTrend(samples, 5000);
    expect(trend.verdict).toBe('growing');
    expect(trend.slopePerS).toBeCloseTo(500);
    expect(trend.slopeShare).toBeCloseTo(0.1);
    expect(trend.lastLag).toBe(500 * 59);
  });

  it('judges the last half only: a warm-up backlog that is worked off is flat', () => {
    const samples = Array.from({ length: 60 }, (_, t) => ({ t, lag: t < 20 ? 1000 * t : Math.max(0, 20_000 - 1000 * (t - 20)) }));
    expect(lagTrend(samples, 5000).verdict).toBe('flat');
  });

  it('below the noise floor a small rise is flat at tiny rates', () => {
    const samples = Array.from({ length: 20 }, (_, t) => ({ t, lag: 5 * t }));
    expect(lagTrend(samples, 10).verdict).toBe('flat');
    expect(lagTrend([], 10)).toMatchObject({ verdict: 'flat', maxLag: 0, lastLag: 0 });
  });
});

describe('freshness', () => {
  it('is the first count at or after the 202 that reaches the cumulative acknowledged events', () => {
    const acks = [
      { t: 1000, acked: 100 },
      { t: 1100, acked: 200 },
      { t: 2000, acked: 300 },
    ];
    const observations = [
      { t: 900, count: 150 }, // before the first 202: does not count for it
      { t: 1500, count: 150 }, // reaches 100 only
      { t: 2500, count: 300 }, // reaches everything
    ];
    const f = freshness(acks, observations);
    expect(f.latencies).toEqual([500, 1400, 500]);
    expect(f.unreached).toBe(0);
  });

  it('reports checkpoints never reached', () => {
    const f = freshness([{ t: 0, acked: 10 }, { t: 10, acked: 20 }, { t: 20, acked: 30 }], [{ t: 5, count: 10 }, { t: 50, count: 25 }]);
    expect(f.latencies).toEqual([5, 40]);
    expect(f.unreached).toBe(1);
  });

  it('a count that dips later does not undo an earlier higher one', () => {
    const f = freshness([{ t: 0, acked: 10 }, { t: 100, acked: 20 }], [{ t: 50, count: 20 }, { t: 150, count: 5 }]);
    expect(f.latencies).toEqual([50, 50]);
  });
});

describe('sparkline', () => {
  it('scales to the maximum and keeps at most the width', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe(' ▂▃▄▅▆▇█');
    expect(sparkline(Array.from({ length: 100 }, (_, i) => i), 10)).toHaveLength(10);
    expect(sparkline([])).toBe('');
    expect(sparkline([0, 0])).toBe('  ');
  });
});

describe('engine benchmark parsers', () => {
  it('reads the summary line of ProducerPerformance, not the progress lines', () => {
    const out = [
      '232543 records sent, 46508.6 records/sec (13.31 MB/sec), 402.9 ms avg latency, 1015.0 ms max latency.',
      '500000 records sent, 93406.519 records/sec (26.72 MB/sec), 312.55 ms avg latency, 1015.00 ms max latency, 301 ms 50th, 702 ms 95th, 880 ms 99th, 1001 ms 99.9th.',
    ].join('\n');
    expect(parseProducerPerformance(out)).toEqual({ records: 500000, recordsPerS: 93406.519, mbPerS: 26.72, avgLatencyMs: 312.55, maxLatencyMs: 1015, p50Ms: 301, p99Ms: 880 });
    expect(parseProducerPerformance('Exception in thread "main"')).toBeNull();
  });

  it('reads redis-benchmark -q output with its carriage-return progress', () => {
    const out = 'SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\rSET: 251256.28 requests per second, p50=2.543 msec\n\rGET: 490196.09 requests per second, p50=1.311 msec\n';
    expect(parseRedisBenchmark(out)).toEqual({ SET: 251256.28, GET: 490196.09 });
  });
});

describe('targets', () => {
  const base = { endToEndEventsPerS: 21_000, lagVerdicts: ['flat', 'flat', 'flat'] as Array<'flat' | 'growing'>, alertP99Ms: 300, ingestP99Ms: 50, freshnessP99Ms: 2000 };

  it('a run at 5k events/s speaks for the latency targets', () => {
    const checks = checkTargets({ ...base, rate: 5000, alertP99Ms: 900 });
    // 5k offered cannot speak for 20k end to end: no throughput verdict.
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['alert latency', false],
      ['ingest request', true],
      ['freshness (query API)', true],
    ]);
  });

  it('a growing lag fails throughput whatever the rate; a max run reports only latency targets it meets', () => {
    const checks = checkTargets({ ...base, rate: null, lagVerdicts: ['flat', 'growing', 'flat'], ingestP99Ms: 800 });
    expect(checks[0]).toMatchObject({ name: 'end to end, lags flat', ok: false, measured: '21,000 events/s, lags growing' });
    expect(checks.map((c) => c.name)).toEqual(['end to end, lags flat', 'alert latency', 'freshness (query API)']);
    expect(checkTargets({ ...base, rate: 25_000 })[0]).toMatchObject({ ok: true });
  });
});

describe('procfs and traffic', () => {
  it('reads this process from /proc', () => {
    const me = readProcStat(process.pid);
    expect(me?.pid).toBe(process.pid);
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.cpuTicks).toBeGreaterThanOrEqual(0);
    expect(readProcStat(2 ** 30)).toBeNull();
  });

  it('generates unique event ids over many customers, and probes that cross the critical level alone', () => {
    const gen = new TrafficGenerator(1000, 'run1', 5);
    const events = Array.from({ length: 5000 }, () => gen.next('2026-01-01T00:00:00.000Z'));
    expect(new Set(events.map((e) => e.event_id)).size).toBe(5000);
    expect(new Set(events.map((e) => e.customer_id)).size).toBeGreaterThan(900);
    // The traffic raises signals: detractor surveys and negative sentiment are there.
    expect(events.some((e) => e.survey?.kind === 'NPS' && e.survey.score <= 6)).toBe(true);
    expect(events.some((e) => (e.sentiment ?? 0) <= -0.5)).toBe(true);
    const probe = gen.probe('2026-01-01T00:00:00.000Z');
    expect(probe.customer_id).not.toBe(gen.probe('2026-01-01T00:00:00.000Z').customer_id);
    expect(probe).toMatchObject({ reason: 'formal_complaint', outcome: 'escalated', survey: { kind: 'NPS', score: 0 } });
  });
});
