// `touchstream quality anomalies`: the KPI deviation detector (docs/architecture.md §21) replayed over generated
// multi-day traffic with weekly seasonality, with degradations injected (a 3× abandonment spike at one touchpoint, a
// wait-time step on one channel, a volume drop on one channel). The detector is the processor's own pure core, fed
// touchpoint by touchpoint in event time exactly as the live module feeds it; no engines, so weeks replay in seconds.
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { seededRng } from '../demo/demo.ts';
import { defaultKpiAnomalyConfig, KpiAnomalyDetector, type KpiAnomaly, type KpiAnomalyConfig, type KpiMetric, type KpiTouchpoint } from '@touchstream/processor';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

interface TouchpointKind {
  touchpoint: string;
  channel: string;
  journey: string;
  share: number;
  abandon: number;
  fail: number;
  assisted: boolean;
}

/** The generated company: touchpoints with their share of traffic and normal abandonment and failure rates. */
export const trafficCatalogue: TouchpointKind[] = [
  { touchpoint: 'checkout_page', channel: 'web', journey: 'purchase', share: 0.12, abandon: 0.1, fail: 0.02, assisted: false },
  { touchpoint: 'product_page', channel: 'web', journey: 'purchase', share: 0.18, abandon: 0.04, fail: 0.01, assisted: false },
  { touchpoint: 'login', channel: 'web', journey: 'usage', share: 0.12, abandon: 0.02, fail: 0.04, assisted: false },
  { touchpoint: 'invoice_page', channel: 'web', journey: 'billing', share: 0.06, abandon: 0.03, fail: 0.01, assisted: false },
  { touchpoint: 'app_checkout', channel: 'mobile_app', journey: 'purchase', share: 0.08, abandon: 0.12, fail: 0.02, assisted: false },
  { touchpoint: 'app_login', channel: 'mobile_app', journey: 'usage', share: 0.12, abandon: 0.02, fail: 0.05, assisted: false },
  { touchpoint: 'billing_inquiry_call', channel: 'phone', journey: 'billing', share: 0.07, abandon: 0.06, fail: 0.03, assisted: true },
  { touchpoint: 'support_call', channel: 'phone', journey: 'support', share: 0.07, abandon: 0.06, fail: 0.03, assisted: true },
  { touchpoint: 'support_chat', channel: 'chat', journey: 'support', share: 0.08, abandon: 0.05, fail: 0.02, assisted: true },
  { touchpoint: 'ivr_menu', channel: 'ivr', journey: 'support', share: 0.06, abandon: 0.08, fail: 0.04, assisted: true },
  { touchpoint: 'email_support', channel: 'email', journey: 'support', share: 0.04, abandon: 0.0, fail: 0.01, assisted: false },
];

export interface Injection {
  kind: 'abandonment_spike' | 'wait_step' | 'volume_drop';
  metric: KpiMetric;
  dimension: 'touchpoint' | 'channel';
  value: string;
  startMs: number;
  endMs: number;
}

function poisson(rand: () => number, mean: number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rand)));
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Load of an hour of the week (0..1): office hours peak, evenings, quiet nights, weekends at 60 %. */
export function weeklyLoad(ms: number): number {
  const d = new Date(ms);
  const hour = d.getUTCHours() + d.getUTCMinutes() / 60;
  const daily = 0.08 + 0.92 * Math.max(0, Math.exp(-((hour - 11) ** 2) / 18) * 0.95 + Math.exp(-((hour - 19) ** 2) / 8) * 0.55);
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6 ? 0.6 : 1;
  return Math.min(1, daily) * weekend;
}

export interface AnomalyQualityOptions {
  days: number;
  seed: number;
  /** Touchpoints per minute at the busiest hour. */
  peakPerMinute: number;
  /** How many degradations of each kind. */
  perKind: number;
  /** How long each degradation lasts. */
  durationMinutes: number;
  config?: KpiAnomalyConfig;
  onProgress?(day: number, days: number): void;
}

export interface AnomalyQualityResult {
  days: number;
  touchpoints: number;
  injections: Array<Injection & { detectedAtMs: number | null; detection: KpiAnomaly | null }>;
  /** Alerts not explained by an injection (same metric, from its start to 10 min after its end). */
  falseAlerts: KpiAnomaly[];
  /** Alerts explained by an injection (including other series it moved: the touchpoint's channel, journey). */
  explainedAlerts: number;
  /** Days of traffic scored (after the baseline's minimum history). */
  scoredDays: number;
  seconds: number;
}

/** Places perKind degradations of each kind in busy hours of the second and later weeks (never overlapping). */
export function planInjections(startMs: number, days: number, perKind: number, durationMinutes: number, rand: () => number): Injection[] {
  const kinds: Array<Omit<Injection, 'startMs' | 'endMs'>> = [
    { kind: 'abandonment_spike', metric: 'abandonment_rate', dimension: 'touchpoint', value: 'checkout_page' },
    { kind: 'wait_step', metric: 'wait_p90', dimension: 'channel', value: 'phone' },
    { kind: 'volume_drop', metric: 'volume', dimension: 'channel', value: 'web' },
  ];
  const firstDay = Math.min(8, Math.max(1, days - 1));
  const slots = perKind * kinds.length;
  const out: Injection[] = [];
  for (let i = 0; i < slots; i++) {
    // Spread over the days after the first week, in busy hours, at a random second.
    const day = firstDay + Math.floor(((days - firstDay) * i) / slots);
    // Slots sharing a day start two hours apart (10:00–11:00, 12:00–13:00, 14:00–15:00), so they never overlap.
    const start = startMs + day * DAY_MS + (10 + 2 * (i % 3)) * HOUR_MS + Math.floor((rand() * HOUR_MS) / 1000) * 1000;
    out.push({ ...kinds[i % kinds.length]!, startMs: start, endMs: start + durationMinutes * MINUTE_MS });
  }
  return out;
}

export function runAnomalyQuality(options: AnomalyQualityOptions): AnomalyQualityResult {
  const started = performance.now();
  const config = options.config ?? { ...defaultKpiAnomalyConfig, enabled: true };
  const rand = seededRng(options.seed);
  // A Monday, so that weeks line up with the calendar in the figures.
  const startMs = Date.UTC(2026, 0, 5);
  const endMs = startMs + options.days * DAY_MS;
  const injections = planInjections(startMs, options.days, options.perKind, options.durationMinutes, rand);
  const detector = new KpiAnomalyDetector(config);
  const alerts: KpiAnomaly[] = [];
  let touchpoints = 0;
  const active = (kind: Injection['kind'], ms: number) => injections.some((i) => i.kind === kind && ms >= i.startMs && ms < i.endMs);
  const injectionOf = (kind: Injection['kind']) => injections.find((i) => i.kind === kind)!;

  for (let minute = startMs; minute < endMs; minute += MINUTE_MS) {
    const load = weeklyLoad(minute);
    const events: KpiTouchpoint[] = [];
    for (const k of trafficCatalogue) {
      let mean = options.peakPerMinute * load * k.share;
      const t = minute + 30_000;
      if (k.channel === injectionOf('volume_drop').value && active('volume_drop', t)) mean *= 0.4;
      const count = poisson(rand, mean);
      for (let i = 0; i < count; i++) {
        const at = minute + Math.floor(rand() * MINUTE_MS);
        const spike = k.touchpoint === injectionOf('abandonment_spike').value && active('abandonment_spike', at);
        const abandon = Math.min(1, k.abandon * (spike ? 3 : 1));
        const u = rand();
        const outcome = u < abandon ? 'abandoned' : u < abandon + k.fail ? 'failed' : u < abandon + k.fail + 0.02 ? 'escalated' : 'completed';
        let waitMs: number | null = null;
        let sentiment: number | null = null;
        if (k.assisted) {
          // Queues grow with load; the injected step multiplies the channel's waits by 2.5.
          const step = k.channel === injectionOf('wait_step').value && active('wait_step', at) ? 2.5 : 1;
          waitMs = Math.round(20_000 * (0.5 + load) * Math.exp(0.6 * normal(rand)) * step);
          sentiment = Math.max(-1, Math.min(1, 0.2 + 0.35 * normal(rand)));
        }
        events.push({ occurredAtMs: at, touchpoint: k.touchpoint, channel: k.channel, journey: k.journey, outcome, waitMs, sentiment, nps: null });
      }
    }
    events.sort((a, b) => a.occurredAtMs - b.occurredAtMs);
    for (const e of events) {
      detector.observe(e);
      // Scored as the stream advances: a minute closes with the first touchpoint past its end + lateness.
      alerts.push(...detector.advance());
    }
    touchpoints += events.length;
    if ((minute - startMs) % DAY_MS === 0) options.onProgress?.((minute - startMs) / DAY_MS, options.days);
  }
  alerts.push(...detector.advance(endMs + MINUTE_MS));
  options.onProgress?.(options.days, options.days);

  const explains = (i: Injection, a: KpiAnomaly) => a.metric === i.metric && a.detectedAtMs >= i.startMs && a.detectedAtMs <= i.endMs + 10 * MINUTE_MS;
  const results = injections.map((i) => {
    const detection = alerts.find((a) => explains(i, a) && a.dimension === i.dimension && a.value === i.value) ?? null;
    return { ...i, detection, detectedAtMs: detection?.detectedAtMs ?? null };
  });
  const falseAlerts = alerts.filter((a) => !injections.some((i) => explains(i, a)));
  return {
    days: options.days,
    touchpoints,
    injections: results,
    falseAlerts,
    explainedAlerts: alerts.length - falseAlerts.length,
    scoredDays: options.days - config.minHistoryMinutes / 1440,
    seconds: (performance.now() - started) / 1000,
  };
}

export const anomalyTargets = { maxDetectMs: 2 * MINUTE_MS, maxFalsePerDay: 1 };

/** The figures as printed (and kept in the README); `misses` lists every target not met. */
export function formatAnomalyReport(r: AnomalyQualityResult): { text: string; misses: string[] } {
  const lines: string[] = [];
  const detected = r.injections.filter((i) => i.detectedAtMs !== null);
  const delays = detected.map((i) => i.detectedAtMs! - i.startMs).sort((a, b) => a - b);
  const s = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  lines.push(`KPI deviation alerts — ${r.days} days, ${r.touchpoints.toLocaleString('en')} touchpoints, replayed in ${r.seconds.toFixed(1)} s`);
  lines.push('');
  lines.push('degradation          series                 detected  time to detect  observed vs expected (score)');
  for (const i of r.injections) {
    const d = i.detection;
    lines.push(
      `${i.kind.padEnd(20)} ${`${i.dimension}=${i.value}`.padEnd(22)} ${(d ? 'yes' : 'NO').padEnd(9)} ${(d ? s(i.detectedAtMs! - i.startMs) : '—').padEnd(15)} ${d ? `${fmt(d.metric, d.observed)} vs ${fmt(d.metric, d.expected)} (${d.deviation.toFixed(1)}, ${d.windowMinutes} min)` : ''}`,
    );
  }
  const perDay = r.falseAlerts.length / r.scoredDays;
  lines.push('');
  lines.push(`detection rate: ${detected.length}/${r.injections.length}; time to detect: median ${delays.length ? s(delays[Math.floor(delays.length / 2)]!) : '—'}, max ${delays.length ? s(delays.at(-1)!) : '—'}`);
  lines.push(`false alerts: ${r.falseAlerts.length} in ${r.scoredDays.toFixed(1)} scored days = ${perDay.toFixed(2)} per day; ${r.explainedAlerts} more alerts explained by the injections (their channel, journey, touchpoints)`);
  for (const a of r.falseAlerts.slice(0, 10)) {
    lines.push(`  false: ${new Date(a.detectedAtMs).toISOString()} ${a.metric} ${a.dimension}=${a.value} ${fmt(a.metric, a.observed)} vs ${fmt(a.metric, a.expected)} (${a.deviation.toFixed(1)})`);
  }
  const misses: string[] = [];
  for (const i of r.injections) {
    if (i.detectedAtMs === null) misses.push(`${i.kind} at ${new Date(i.startMs).toISOString()} not detected`);
    else if (i.detectedAtMs - i.startMs > anomalyTargets.maxDetectMs) misses.push(`${i.kind} at ${new Date(i.startMs).toISOString()} detected after ${s(i.detectedAtMs - i.startMs)} (> 2 min)`);
  }
  if (perDay > anomalyTargets.maxFalsePerDay) misses.push(`${perDay.toFixed(2)} false alerts per day (> ${anomalyTargets.maxFalsePerDay})`);
  return { text: lines.join('\n'), misses };
}

function fmt(metric: KpiMetric, v: number): string {
  if (metric.endsWith('_rate')) return `${(100 * v).toFixed(1)} %`;
  if (metric === 'wait_p90') return `${(v / 1000).toFixed(0)} s`;
  if (metric === 'volume') return `${v.toFixed(0)}/min`;
  return v.toFixed(2);
}

export function anomalyQualityCommand(): Command {
  return new Command('anomalies')
    .description('Measure KPI deviation alerts: replay generated multi-day traffic with weekly seasonality and injected degradations through the detector; print detection rate, time to detect and false alerts per day (exits 1 when a target is missed)')
    .option('--days <n>', 'days of traffic (the seasonal baseline needs one week)', '21')
    .option('--seed <n>', 'random seed', '1')
    .option('--peak <n>', 'touchpoints per minute at the busiest hour', '1000')
    .option('--per-kind <n>', 'degradations of each kind (abandonment spike, wait step, volume drop)', '3')
    .option('--duration <minutes>', 'how long each degradation lasts', '30')
    .addHelpText('after', '\nTargets: every degradation detected within 2 minutes of stream time, ≤ 1 false alert per day of traffic.')
    .action((flags: { days: string; seed: string; peak: string; perKind: string; duration: string }) => {
      const n = { days: Number(flags.days), seed: Number(flags.seed), peak: Number(flags.peak), perKind: Number(flags.perKind), duration: Number(flags.duration) };
      for (const [name, v] of Object.entries(n)) {
        if (!Number.isFinite(v) || v < 1) {
          console.error(`✖ --${name} must be a number ≥ 1 (see touchstream quality anomalies --help)`);
          process.exit(2);
        }
      }
      const bar = new cliProgress.SingleBar({ format: 'days [{bar}] {value}/{total}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(n.days, 0);
      const result = runAnomalyQuality({ days: n.days, seed: n.seed, peakPerMinute: n.peak, perKind: n.perKind, durationMinutes: n.duration, onProgress: (d) => bar.update(d) });
      bar.stop();
      const { text, misses } = formatAnomalyReport(result);
      console.log(`\n${text}`);
      if (misses.length) {
        console.log('\n✖ targets missed (every degradation within 2 min, ≤ 1 false alert per day):');
        for (const m of misses) console.log(`  - ${m}`);
        process.exitCode = 1;
      } else {
        console.log('\n✔ every degradation detected within 2 minutes; ≤ 1 false alert per day');
      }
    });
}
