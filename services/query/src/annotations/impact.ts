// The measured impact of an annotated action: the KPIs in a window before the action against the same-length window
// after it, in the action's scope, each with the fitting significance test. Read from the raw table, which holds the
// per-touchpoint values the tests need (variances, journeys, next contacts).
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { fcrSql } from '../kpis/kpis.ts';
import { invalidParameter } from '../shared/errors.ts';
import { finiteOrNull, num, round } from '../shared/numbers.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { twoProportionZTest, welchTTest, type SampleSummary, type TestResult } from '../shared/stats.ts';
import { microsToIso, parseIsoToMicros } from '../shared/time.ts';
import { annotationScopeNames, getAnnotation, type AnnotationView } from './annotations.ts';

const windowPattern = /^(\d{1,4})(d|h)$/;
const maxImpactWindowDays = 366;

/** `14d` or `36h` → microseconds; 400 for anything else or beyond a year. */
export function parseImpactWindow(text: string): number {
  const m = windowPattern.exec(text);
  const hours = m ? Number(m[1]) * (m[2] === 'd' ? 24 : 1) : 0;
  if (!m || hours < 1 || hours > maxImpactWindowDays * 24) {
    throw invalidParameter(`window must be a whole number of days or hours such as 14d or 36h, at most ${maxImpactWindowDays}d (got ${JSON.stringify(text)})`);
  }
  return hours * 3600 * 1_000_000;
}

/** The scope filter: a fixed fragment per dimension whose value is a parameter ('' = any). */
const scopeSql = annotationScopeNames.map((name) => `\n    AND ({scope_${name}:String} = '' OR ${name} = {scope_${name}:String})`).join('');

// g = 1 after the action, 0 before it. Survey scores, durations and waits are per touchpoint; means come with their
// sample variance for Welch's test.
const impactSql = `
SELECT
  toUInt32(occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')) AS g,
  countIf(survey_kind = 'CSAT') AS csat_n,
  countIf(survey_kind = 'CSAT' AND survey_score >= 4) AS csat_satisfied,
  countIf(survey_kind = 'NPS') AS nps_n,
  countIf(survey_kind = 'NPS' AND survey_score >= 9) AS nps_promoters,
  countIf(survey_kind = 'NPS' AND survey_score <= 6) AS nps_detractors,
  countIf(outcome != '') AS outcomes,
  countIf(outcome = 'abandoned') AS abandoned,
  uniqExactIf((customer_id, journey), journey != '') AS journeys,
  uniqExactIf((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed,
  count(duration_ms) AS duration_n, avg(duration_ms) AS duration_mean, varSamp(duration_ms) AS duration_var,
  count(wait_ms) AS wait_n, avg(wait_ms) AS wait_mean, varSamp(wait_ms) AS wait_var,
  count(sentiment) AS sentiment_n, avg(sentiment) AS sentiment_mean, varSamp(sentiment) AS sentiment_var,
  countIf(survey_kind = 'CES' AND survey_score IS NOT NULL) AS ces_n,
  avgIf(survey_score, survey_kind = 'CES') AS ces_mean,
  varSampIf(survey_score, survey_kind = 'CES') AS ces_var
FROM touchpoints FINAL
WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')
  AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')${scopeSql}
GROUP BY g
${querySettingsSql}`;

const impactFcrSql = fcrSql(`toUInt32(occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC'))`, "''", scopeSql);

type Num = number | string | null;
type ImpactRow = Record<string, Num> & { g: Num };

export interface ImpactSide {
  /** Sample size: responses, touchpoints with an outcome, journeys, contacts or values. */
  n: number;
  value: number | null;
}

export interface ImpactMetric {
  metric: string;
  /** after − before; null when there is nothing to compare. */
  difference: number | null;
  statistic: number | null;
  df?: number;
  p_value: number | null;
  ci95: [number, number] | null;
  significant: boolean;
  kind: 'rate' | 'mean';
  direction: 'higher_is_better' | 'lower_is_better';
  before: ImpactSide;
  after: ImpactSide;
  /** True when the change is significant and in the better direction. */
  improved: boolean | null;
  test: TestResult['test'];
}

export interface ImpactResult {
  annotation: AnnotationView;
  window: string;
  fcr_days: number;
  before: { from: string; to: string };
  after: { from: string; to: string; complete: boolean };
  metrics: ImpactMetric[];
}

interface RateSpec { metric: string; direction: ImpactMetric['direction']; success: string; total: string; source: 'touchpoints' | 'fcr' }
interface MeanSpec { metric: string; direction: ImpactMetric['direction']; prefix: string }

/** Rates: the two-proportion z-test. NPS itself is a difference of two shares, so each share is tested. */
const rateSpecs: RateSpec[] = [
  { metric: 'csat_satisfied_share', direction: 'higher_is_better', success: 'csat_satisfied', total: 'csat_n', source: 'touchpoints' },
  { metric: 'nps_promoter_share', direction: 'higher_is_better', success: 'nps_promoters', total: 'nps_n', source: 'touchpoints' },
  { metric: 'nps_detractor_share', direction: 'lower_is_better', success: 'nps_detractors', total: 'nps_n', source: 'touchpoints' },
  { metric: 'abandonment_rate', direction: 'lower_is_better', success: 'abandoned', total: 'outcomes', source: 'touchpoints' },
  { metric: 'completion_rate', direction: 'higher_is_better', success: 'journeys_completed', total: 'journeys', source: 'touchpoints' },
  { metric: 'fcr', direction: 'higher_is_better', success: 'fcr_resolved', total: 'fcr_contacts', source: 'fcr' },
];

/** Means: Welch's t-test. */
const meanSpecs: MeanSpec[] = [
  { metric: 'avg_handling_ms', direction: 'lower_is_better', prefix: 'duration' },
  { metric: 'avg_wait_ms', direction: 'lower_is_better', prefix: 'wait' },
  { metric: 'sentiment_mean', direction: 'higher_is_better', prefix: 'sentiment' },
  { metric: 'ces_mean', direction: 'lower_is_better', prefix: 'ces' },
];

const rounded = (r: TestResult | null): Pick<ImpactMetric, 'difference' | 'statistic' | 'df' | 'p_value' | 'ci95' | 'significant'> =>
  r === null
    ? { difference: null, statistic: null, p_value: null, ci95: null, significant: false }
    : {
        difference: round(r.difference, 9),
        significant: r.significant,
        statistic: round(r.statistic, 6),
        p_value: round(r.p_value, 9),
        ci95: r.ci95 ? [round(r.ci95[0], 9)!, round(r.ci95[1], 9)!] : null,
        ...(r.df !== undefined ? { df: round(r.df, 4)! } : {}),
      };

function improved(direction: ImpactMetric['direction'], r: TestResult | null): boolean | null {
  if (r === null || r.p_value === null) return null;
  if (!r.significant) return false;
  return direction === 'higher_is_better' ? r.difference > 0 : r.difference < 0;
}

export async function queryImpact(
  clickhouse: ClickHouseClient,
  request: { annotationId: string; windowText: string; windowMicros: number; fcrDays: number; nowMicros: number },
): Promise<ImpactResult> {
  const annotation = await getAnnotation(clickhouse, request.annotationId);
  const { windowMicros } = request;
  const at = parseIsoToMicros(annotation.at)!;
  const params: Record<string, unknown> = {
    prev_from_us: at - windowMicros,
    from_us: at,
    to_us: at + windowMicros,
    fcr_days: request.fcrDays,
  };
  for (const name of annotationScopeNames) params[`scope_${name}`] = annotation.scope[name] ?? '';
  const run = async <T>(query: string) => (await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  const [rows, fcrRows] = await Promise.all([run<ImpactRow>(impactSql), run<ImpactRow>(impactFcrSql)]);
  const side = (g: number) => ({
    ...(rows.find((r) => num(r.g) === g) ?? {}),
    ...(fcrRows.find((r) => num(r.g) === g) ?? {}),
  }) as Record<string, Num>;
  const before = side(0);
  const after = side(1);

  const metrics: ImpactMetric[] = [];
  for (const spec of rateSpecs) {
    const b = { x: num(before[spec.success]), n: num(before[spec.total]) };
    const a = { x: num(after[spec.success]), n: num(after[spec.total]) };
    const r = twoProportionZTest(b.x, b.n, a.x, a.n);
    metrics.push({
      metric: spec.metric,
      kind: 'rate',
      direction: spec.direction,
      before: { n: b.n, value: b.n > 0 ? round(b.x / b.n) : null },
      after: { n: a.n, value: a.n > 0 ? round(a.x / a.n) : null },
      ...rounded(r),
      test: 'two_proportion_z',
      improved: improved(spec.direction, r),
    });
  }
  for (const spec of meanSpecs) {
    const summary = (s: Record<string, Num>): SampleSummary => ({
      n: num(s[`${spec.prefix}_n`]),
      mean: finiteOrNull(s[`${spec.prefix}_mean`]) ?? 0,
      variance: finiteOrNull(s[`${spec.prefix}_var`]) ?? 0,
    });
    const b = summary(before);
    const a = summary(after);
    const r = welchTTest(b, a);
    metrics.push({
      metric: spec.metric,
      kind: 'mean',
      direction: spec.direction,
      before: { n: b.n, value: b.n > 0 ? round(b.mean) : null },
      after: { n: a.n, value: a.n > 0 ? round(a.mean) : null },
      ...rounded(r),
      test: 'welch_t',
      improved: improved(spec.direction, r),
    });
  }
  return {
    annotation,
    window: request.windowText,
    fcr_days: request.fcrDays,
    before: { from: microsToIso(at - windowMicros), to: microsToIso(at) },
    after: { from: microsToIso(at), to: microsToIso(at + windowMicros), complete: at + windowMicros <= request.nowMicros },
    metrics,
  };
}

