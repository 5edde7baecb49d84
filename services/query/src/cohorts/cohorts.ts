// Cohorts by first touch: customers grouped by the week (ISO, from Monday) or month of their first touchpoint ever,
// and the share of each cohort active (any touchpoint) in each following period. Read from customer_activity_1d
// (one row per customer and active day), so it needs no scan of the raw table and outlives the raw TTL.
import type { PersonaSql } from '../personas/sql.ts';
import { churnRiskBandSql, churnRiskConditionSql, churnRiskParams } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { round } from '../shared/numbers.ts';
import { isScoped, scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';

export const cohortPeriodNames = ['week', 'month'] as const;
export type CohortPeriod = (typeof cohortPeriodNames)[number];

/** Fixed SQL per period: its start of a Date, and its unit for dateDiff. */
const periodSql: Record<CohortPeriod, { start: (day: string) => string; unit: string }> = {
  week: { start: (day) => `toMonday(${day})`, unit: 'week' },
  month: { start: (day) => `toStartOfMonth(${day})`, unit: 'month' },
};

/**
 * With a channel or journey filter, activity is read from the raw table (customer_activity_1d has no such columns):
 * first touchpoint and activity both count only the touchpoints on that channel / of that journey, and the answer
 * reaches back only as far as the raw table's TTL. Two fixed statements; the filter values travel as parameters.
 */
const scopedActivitySql = `(SELECT DISTINCT customer_id, toDate(occurred_at, 'UTC') AS day FROM touchpoints WHERE ${scopeConditionSql()})`;

function cohortSql(period: CohortPeriod, scoped: boolean, personas?: { sql: PersonaSql; breakdown: boolean; filter: boolean }, risk: { breakdown?: boolean; filter?: boolean } = {}): string {
  const { start, unit } = periodSql[period];
  const activity = scoped ? scopedActivitySql : 'customer_activity_1d';
  // Persona (docs/architecture.md §20.6): each customer's persona now, decided once per customer in `firsts`.
  const persona = personas ? personas.sql.expression() : "''";
  // Churn-risk band (§22): likewise each customer's band now, when split by it.
  const band = risk.breakdown ? churnRiskBandSql() : "''";
  return `
WITH firsts AS (
  SELECT customer_id, ${start('min(day)')} AS cohort, ${persona} AS persona, ${band} AS churn_risk
  FROM ${activity}${risk.filter ? `
  -- Only customers in the churn-risk band (§22): their cohort and their activity (the join below) both.
  WHERE ${churnRiskConditionSql()}` : ''}
  GROUP BY customer_id
  HAVING cohort >= {from_day:Date} AND cohort < {to_day:Date}${personas?.filter ? ` AND persona = {persona:String}` : ''}
)
SELECT
  toString(f.cohort) AS cohort,
  ${personas?.breakdown ? 'f.persona' : risk.breakdown ? 'f.churn_risk' : "''"} AS segment,
  toUInt32(dateDiff('${unit}', f.cohort, ${start('a.day')})) AS period_index,
  uniqExact(a.customer_id) AS active
FROM ${activity} AS a
INNER JOIN firsts AS f ON a.customer_id = f.customer_id
WHERE a.day >= {from_day:Date} AND a.day < {until_day:Date}
GROUP BY cohort, segment, period_index
ORDER BY cohort, segment, period_index
${querySettingsSql}`;
}

export interface CohortRow {
  /** First day of the cohort's week or month (YYYY-MM-DD). */
  cohort: string;
  /** With by=persona: the persona of the cohort's customers (one row per cohort and persona). */
  persona?: string;
  /** With by=churn_risk: the current churn-risk band of the cohort's customers (one row per cohort and band). */
  churn_risk?: string;
  /** Customers whose first touchpoint fell in it. */
  customers: number;
  /** Period 0 is the cohort's own (share 1); one entry per following period that has begun, up to `periods`. */
  retention: Array<{ period: number; active: number; share: number }>;
}

export interface CohortResult {
  period: CohortPeriod;
  from: string;
  to: string;
  periods: number;
  cohorts: CohortRow[];
}

const dayMs = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Start (UTC ms) of the week or month containing `ms`. */
function periodStart(period: CohortPeriod, ms: number): number {
  const d = new Date(ms);
  if (period === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return day - ((d.getUTCDay() + 6) % 7) * dayMs;
}

/** Adds `count` periods to a period start. */
function addPeriods(period: CohortPeriod, startMs: number, count: number): number {
  if (period === 'week') return startMs + count * 7 * dayMs;
  const d = new Date(startMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + count, 1);
}

export async function queryCohorts(
  clickhouse: ClickHouseClient,
  request: {
    period: CohortPeriod; fromMs?: number; toMs?: number; periods: number; nowMs: number; scope?: Scope;
    /** Split each cohort by persona (§20.6; needs `personas`, as `scope.persona` does). */
    byPersona?: boolean;
    /** Split each cohort by the customers' churn-risk band now (§22). */
    byChurnRisk?: boolean;
    personas?: PersonaSql;
  },
): Promise<CohortResult> {
  const { period, periods } = request;
  // Whole periods: `to` defaults to the end of the current period, `from` to `periods` periods before it.
  const to = addPeriods(period, periodStart(period, (request.toMs ?? request.nowMs + 1) - 1), 1);
  const from = periodStart(period, request.fromMs ?? addPeriods(period, to, -periods));
  // Activity is observed from the first cohort up to `periods` periods after the last one, but never past now.
  const until = Math.min(addPeriods(period, to, periods), addPeriods(period, periodStart(period, request.nowMs), 1));
  const rs = await clickhouse.query({
    query: cohortSql(period, isScoped(request.scope), request.personas ? { sql: request.personas, breakdown: Boolean(request.byPersona), filter: Boolean(request.scope?.persona) } : undefined, { breakdown: request.byChurnRisk, filter: Boolean(request.scope?.churnRisk) }),
    query_params: {
      from_day: isoDay(from), to_day: isoDay(to), until_day: isoDay(until), ...scopeParams(request.scope ?? {}),
      ...request.personas?.params, persona: request.scope?.persona ?? '', ...churnRiskParams(request.scope?.churnRisk),
    },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ cohort: string; segment: string; period_index: number | string; active: number | string }>();
  const byCohort = new Map<string, Map<number, number>>();
  const keyOf = (row: { cohort: string; segment: string }) => `${row.cohort}\u0000${row.segment}`;
  for (const row of rows) {
    let m = byCohort.get(keyOf(row));
    if (!m) byCohort.set(keyOf(row), (m = new Map()));
    m.set(Number(row.period_index), Number(row.active));
  }
  const nowPeriod = periodStart(period, request.nowMs);
  const cohorts: CohortRow[] = [];
  for (const [key, active] of byCohort) {
    const [cohort, segment] = key.split('\u0000') as [string, string];
    const customers = active.get(0) ?? 0;
    const cohortStart = Date.parse(`${cohort}T00:00:00Z`);
    const retention: CohortRow['retention'] = [];
    // Periods that have begun by now, up to `periods` after the cohort's own.
    for (let i = 0; i <= periods && addPeriods(period, cohortStart, i) <= nowPeriod; i++) {
      const a = active.get(i) ?? 0;
      retention.push({ period: i, active: a, share: customers > 0 ? round(a / customers)! : 0 });
    }
    cohorts.push(request.byPersona ? { cohort, persona: segment, customers, retention } : request.byChurnRisk ? { cohort, churn_risk: segment, customers, retention } : { cohort, customers, retention });
  }
  return { period, from: isoDay(from), to: isoDay(to), periods, cohorts };
}
