// The stage × metric heat map: each journey stage's KPIs over a period against targets, each cell with a status.
// A target has a direction (higher or lower is better), an `ok` threshold (the target) and a `warn` threshold:
// higher-is-better cells are ok at or above the target, warn at or above `warn`, bad below; lower-is-better mirror.
import { type Scope } from '../shared/scope.ts';
import type { PersonaSql } from '../personas/sql.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { kpiIntervals, queryKpis, type KpiFigures, type KpiInterval, type ReactionTargets } from '../kpis/kpis.ts';

export type Direction = 'higher_is_better' | 'lower_is_better';

export interface MetricTarget {
  direction: Direction;
  target: number;
  warn: number;
}

export const heatmapMetricNames = [
  'nps', 'csat', 'csat_mean', 'ces_mean', 'fcr', 'avg_handling_ms', 'avg_wait_ms', 'p90_wait_ms', 'abandonment_rate',
  'completion_rate', 'sentiment_mean', 'negative_signal_rate', 'reaction_time_compliance', 'reaction_time_p90_ms',
] as const satisfies ReadonlyArray<keyof KpiFigures>;
export type HeatmapMetric = (typeof heatmapMetricNames)[number];

/** Defaults when neither the request nor HEATMAP_TARGETS sets a metric's target (units as in /v1/kpis). */
export const defaultHeatmapTargets: Record<HeatmapMetric, MetricTarget> = {
  nps: { direction: 'higher_is_better', target: 30, warn: 0 },
  csat: { direction: 'higher_is_better', target: 80, warn: 70 },
  csat_mean: { direction: 'higher_is_better', target: 4, warn: 3.5 },
  ces_mean: { direction: 'lower_is_better', target: 3, warn: 4 },
  fcr: { direction: 'higher_is_better', target: 0.8, warn: 0.7 },
  avg_handling_ms: { direction: 'lower_is_better', target: 300_000, warn: 450_000 },
  avg_wait_ms: { direction: 'lower_is_better', target: 60_000, warn: 120_000 },
  p90_wait_ms: { direction: 'lower_is_better', target: 180_000, warn: 300_000 },
  abandonment_rate: { direction: 'lower_is_better', target: 0.05, warn: 0.1 },
  completion_rate: { direction: 'higher_is_better', target: 0.8, warn: 0.6 },
  sentiment_mean: { direction: 'higher_is_better', target: 0.2, warn: 0 },
  negative_signal_rate: { direction: 'lower_is_better', target: 5, warn: 10 },
  // Share of contacts within their catalogued reaction-time target (TOUCHPOINTS_FILE), and their p90 wait.
  reaction_time_compliance: { direction: 'higher_is_better', target: 0.9, warn: 0.8 },
  reaction_time_p90_ms: { direction: 'lower_is_better', target: 180_000, warn: 300_000 },
};

export type HeatmapTargets = Partial<Record<HeatmapMetric, { target: number; warn: number }>>;

/**
 * Parses `metric:target[:warn],…` (e.g. `nps:40:20,avg_wait_ms:30000`). Without `warn` the warn band is 10% of the
 * target's magnitude on the worse side. Returns the problems instead of throwing, so configuration can report all.
 */
export function parseHeatmapTargets(text: string): { targets: HeatmapTargets; problems: string[] } {
  const targets: HeatmapTargets = {};
  const problems: string[] = [];
  for (const item of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [name, targetText, warnText, ...rest] = item.split(':');
    if (!(heatmapMetricNames as readonly string[]).includes(name!)) {
      problems.push(`"${name}" is not a heat map metric (one of: ${heatmapMetricNames.join(', ')})`);
      continue;
    }
    const metric = name as HeatmapMetric;
    const { direction } = defaultHeatmapTargets[metric];
    const target = Number(targetText);
    const band = Math.abs(target) * 0.1;
    // toPrecision: 0.1 + 0.01 should read 0.11, not 0.11000000000000001.
    const defaultWarn = Number((direction === 'higher_is_better' ? target - band : target + band).toPrecision(12));
    const warn = warnText === undefined || warnText === '' ? defaultWarn : Number(warnText);
    if (rest.length > 0 || targetText === undefined || targetText === '' || !Number.isFinite(target) || !Number.isFinite(warn)) {
      problems.push(`"${item}" is not metric:target or metric:target:warn with numbers`);
      continue;
    }
    if (direction === 'higher_is_better' ? warn > target : warn < target) {
      problems.push(`${metric} is ${direction.replace(/_/g, ' ')}, so its warn threshold must be ${direction === 'higher_is_better' ? 'at most' : 'at least'} the target (got target ${target}, warn ${warn})`);
      continue;
    }
    targets[metric] = { target, warn };
  }
  return { targets, problems };
}

export type CellStatus = 'ok' | 'warn' | 'bad' | 'no_data';

export function cellStatus(value: number | null, t: MetricTarget): CellStatus {
  if (value === null) return 'no_data';
  if (t.direction === 'higher_is_better') return value >= t.target ? 'ok' : value >= t.warn ? 'warn' : 'bad';
  return value <= t.target ? 'ok' : value <= t.warn ? 'warn' : 'bad';
}

export interface HeatmapCell {
  value: number | null;
  target: number;
  warn: number;
  direction: Direction;
  status: CellStatus;
}

export const heatmapRowsNames = ['stage', 'persona', 'churn_risk'] as const;
export type HeatmapRows = (typeof heatmapRowsNames)[number];

export interface HeatmapRow {
  /** The row's stage ('' with rows=persona or rows=churn_risk). */
  stage: string;
  /** The row's persona (rows=persona only, docs/architecture.md §20.6). */
  persona?: string;
  /** The row's churn-risk band (rows=churn_risk only, §22). */
  churn_risk?: string;
  events: number;
  cells: Partial<Record<HeatmapMetric, HeatmapCell>>;
}

export interface HeatmapResult {
  from: string;
  to: string;
  metrics: Array<{ metric: HeatmapMetric } & MetricTarget>;
  rows: HeatmapRow[];
}

/** Lifecycle order of the usual stage names; others follow alphabetically, the empty stage (not set) last. */
const stageOrder = ['awareness', 'consideration', 'purchase', 'onboarding', 'usage', 'service', 'support', 'retention', 'loyalty', 'advocacy'];
function compareStages(a: string, b: string): number {
  const rank = (s: string) => (s === '' ? 2 : stageOrder.includes(s) ? 0 : 1);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (rank(a) === 0) return stageOrder.indexOf(a) - stageOrder.indexOf(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Band rows from the most at risk down, `unscored` last. */
const bandOrder = ['high', 'medium', 'low', 'unscored'];

/** Persona rows in the personas file's order (the fallback last), as GET /v1/personas lists them. */
function personaOrder(personas: PersonaSql | undefined, name: string): number {
  const names = personas?.names ?? [];
  const i = names.indexOf(name);
  return i < 0 ? names.length : i;
}

/**
 * The rollup to read: the coarsest that covers the range exactly (days, else hours, else minutes), made coarser
 * (widening the range to whole hours or days) when the range is too long for it.
 */
export function heatmapInterval(fromMicros: number, toMicros: number): KpiInterval {
  const whole = (unit: number) => fromMicros % unit === 0 && toMicros % unit === 0;
  const order: KpiInterval[] = ['minute', 'hour', 'day'];
  let i = whole(kpiIntervals.day.micros) ? 2 : whole(kpiIntervals.hour.micros) ? 1 : 0;
  const buckets = (interval: KpiInterval) => Math.ceil((toMicros - fromMicros) / kpiIntervals[interval].micros) + 1;
  while (i < 2 && buckets(order[i]!) > kpiIntervals[order[i]!].maxBuckets) i++;
  return order[i]!;
}

export async function queryHeatmap(
  clickhouse: ClickHouseClient,
  request: {
    fromMicros: number; toMicros: number; metrics: HeatmapMetric[]; targets: HeatmapTargets; fcrDays: number; scope?: Scope; reactionTargets?: ReactionTargets;
    /**
     * One row per stage (default), per persona (§20.6; needs `personas`) or per churn-risk band (§22: the customer's
     * band now; like GET /v1/kpis?by=churn_risk, without FCR and reaction time).
     */
    rows?: HeatmapRows;
    personas?: PersonaSql;
  },
): Promise<HeatmapResult> {
  const byPersona = request.rows === 'persona';
  const byBand = request.rows === 'churn_risk';
  // A channel/journey filter reads the hourly or daily rollup that keeps every dimension on each row (queryKpis).
  const interval = heatmapInterval(request.fromMicros, request.toMicros);
  // The reaction-time figures read the raw table: only when a column shows them.
  const reaction = request.metrics.some((m) => m === 'reaction_time_compliance' || m === 'reaction_time_p90_ms');
  const kpis = await queryKpis(clickhouse, {
    ...request,
    reactionTargets: reaction ? request.reactionTargets : undefined,
    interval,
    by: byPersona ? 'persona' : byBand ? 'churn_risk' : 'stage',
    // A churn-risk band (§22) belongs to customers, not to rollup rows: queryKpis reads the raw tables for it.
    churnRisk: request.scope?.churnRisk,
    totalsOnly: true,
    skipUniqueCustomers: true,
  });
  const targetOf = (m: HeatmapMetric): MetricTarget => ({ ...defaultHeatmapTargets[m], ...request.targets[m] });
  const rows = kpis.totals
    .map((total) => {
      const cells: HeatmapRow['cells'] = {};
      for (const metric of request.metrics) {
        const t = targetOf(metric);
        const value = total[metric];
        cells[metric] = { value, target: t.target, warn: t.warn, direction: t.direction, status: cellStatus(value, t) };
      }
      if (byPersona) return { stage: '', persona: total.key ?? '', events: total.events, cells };
      if (byBand) return { stage: '', churn_risk: total.key ?? '', events: total.events, cells };
      return { stage: total.key ?? '', events: total.events, cells };
    })
    .sort((a, b) =>
      byPersona ? personaOrder(request.personas, a.persona!) - personaOrder(request.personas, b.persona!)
      : byBand ? bandOrder.indexOf(a.churn_risk!) - bandOrder.indexOf(b.churn_risk!)
      : compareStages(a.stage, b.stage));
  return {
    from: kpis.from,
    to: kpis.to,
    metrics: request.metrics.map((metric) => ({ metric, ...targetOf(metric) })),
    rows,
  };
}
