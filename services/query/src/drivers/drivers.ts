// Drivers of an outcome: which touchpoints, reasons, channels and weak signals customers saw in the N days before
// the outcome, compared with customers without it.
//
// Population: customers with at least one touchpoint in [from, to).
//  * Outcome customers: their FIRST outcome in [from, to) is the anchor; factors are what they saw in [anchor − N days,
//    anchor) — strictly before the outcome, so the outcome event itself is not a factor.
//  * Reference window for the others: the N days before their LAST touchpoint in [from, to), same strictness. This
//    mirrors the outcome side (a window of the same length ending at an event of the customer's) without needing a
//    matched control.
// Each factor gives a 2×2 table of customers (a = outcome & factor, b = outcome & not, c = factor & no outcome,
// d = neither); lift is the relative risk a/(a+c) ÷ b/(b+d) with a log-RR 95% CI, the odds ratio ad/bc with Woolf's
// 95% CI. Tables with a zero cell get the Haldane–Anscombe +0.5 correction (flagged `corrected`).
import type { PersonaSql } from '../personas/sql.ts';
import { andChurnRiskSql, churnRiskParams, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { num, round } from '../shared/numbers.ts';
import { scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { distinctValuesSql, querySettingsSql } from '../shared/sql.ts';
import { correctedTable, oddsRatio, relativeRisk } from '../shared/stats.ts';
import { microsToIso } from '../shared/time.ts';

export const builtInOutcomes = ['survey_detractor', 'alert_raised', 'journey_abandoned'] as const;
const factorKinds = ['touchpoint', 'reason', 'channel', 'signal', 'persona'] as const;
export type FactorKind = (typeof factorKinds)[number];
export const driverSortNames = ['lift', 'odds_ratio'] as const;
export type DriverSort = (typeof driverSortNames)[number];

/** Row predicates of the built-in outcomes that are read from touchpoints (same detractor rule as the processor). */
const touchpointOutcomeSql: Record<string, string> = {
  survey_detractor: `(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6) OR (survey_kind = 'CSAT' AND ifNull(survey_score, 99) <= 2) OR (survey_kind = 'CES' AND ifNull(survey_score, -1) >= 5)`,
  journey_abandoned: `outcome = 'abandoned'`,
  named_touchpoint: `touchpoint = {outcome_touchpoint:String}`,
};

export interface DriversRequest {
  outcome: string;
  windowMicros: number;
  fromMicros: number;
  toMicros: number;
  minCustomers: number;
  sort: DriverSort;
  limit: number;
  /** Only customers with a touchpoint on this channel / of this journey in the range (their factors stay all they saw); `persona` / `churnRisk`: of it. */
  scope?: Scope;
  /**
   * The personas (docs/architecture.md §20.6): each customer's persona becomes a factor (`persona:<name>`), so a
   * persona more prone to the outcome ranks like any touchpoint; also needed for `scope.persona`.
   */
  personas?: PersonaSql;
}

export interface Driver {
  kind: FactorKind;
  value: string;
  /** a: customers with the outcome who saw the factor. */
  outcome_with_factor: number;
  /** b */
  outcome_without_factor: number;
  /** c */
  no_outcome_with_factor: number;
  /** d */
  no_outcome_without_factor: number;
  /** Share of customers with the factor who had the outcome: a/(a+c). */
  outcome_rate_with_factor: number;
  outcome_rate_without_factor: number | null;
  lift: number | null;
  lift_ci_low: number | null;
  lift_ci_high: number | null;
  odds_ratio: number | null;
  odds_ratio_ci_low: number | null;
  odds_ratio_ci_high: number | null;
  corrected: boolean;
}

export interface DriversResult {
  outcome: string;
  days: number;
  from: string;
  to: string;
  customers: number;
  outcome_customers: number;
  drivers: Driver[];
}

function driversSql(outcome: string, personas?: PersonaSql, churnRisk?: ChurnRiskBand): string {
  const fromAlerts = outcome === 'alert_raised';
  const predicate = fromAlerts ? '0' : (touchpointOutcomeSql[outcome] ?? touchpointOutcomeSql.named_touchpoint!);
  const outcomeAt = fromAlerts ? `ifNull(alert_at, 0)` : `first_outcome_at`;
  const alertJoin = fromAlerts
    ? `LEFT JOIN (
        SELECT customer_id, min(toUnixTimestamp64Micro(at)) AS alert_at
        FROM alerts FINAL
        WHERE at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
        GROUP BY customer_id
      ) AS a USING (customer_id)`
    : '';
  return `
WITH
-- The distinct touchpoints, reasons, channels and signal types of the range, once (distinctValuesSql).
(
  ${distinctValuesSql('touchpoint', 'touchpoints', 'window_us')},
  ${distinctValuesSql('reason', 'touchpoints', 'window_us')},
  ${distinctValuesSql('channel', 'touchpoints', 'window_us')}
) AS dict,
${distinctValuesSql('type', 'signals', 'window_us')} AS signal_dict,
per_customer AS (
  SELECT customer_id, T, TP, RS, CH,
    ${personas ? `toUInt32(indexOf({ps_names:Array(String)}, ${personas.expression()}))` : 'toUInt32(0)'} AS persona_id,
    ${outcomeAt} AS outcome_at,
    if(outcome_at > 0, outcome_at, last_at) AS anchor
  FROM (
    -- Only sets of events in time windows are needed, so the arrays are left unsorted (the groupArrays of one group
    -- keep the same row order); the first outcome and the last touchpoint in the range are aggregated directly.
    SELECT customer_id,
      groupArray(toUnixTimestamp64Micro(occurred_at)) AS T,
      groupArray(transform(touchpoint, dict.1, arrayEnumerate(dict.1), 0)) AS TP,
      groupArray(transform(reason, dict.2, arrayEnumerate(dict.2), 0)) AS RS,
      groupArray(transform(channel, dict.3, arrayEnumerate(dict.3), 0)) AS CH,
      minIf(toUnixTimestamp64Micro(occurred_at), (${predicate}) AND occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')) AS first_outcome_at,
      maxIf(toUnixTimestamp64Micro(occurred_at), occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')) AS last_at,
      countIf(occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND ${scopeConditionSql()}) AS in_scope
    FROM touchpoints
    WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64} - {window_us:Int64}, 'UTC')
      AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    GROUP BY customer_id
  ) AS c
  ${alertJoin}
  WHERE last_at > 0 AND in_scope > 0${personas ? `
    AND ({persona:String} = '' OR {ps_names:Array(String)}[persona_id] = {persona:String})` : ''}${andChurnRiskSql(churnRisk)}
),
-- (Not restricted with IN (SELECT … FROM per_customer): the CTE would be computed a second time for it.)
signal_times AS (
  SELECT customer_id, groupArray((toUnixTimestamp64Micro(occurred_at), transform(type, signal_dict, arrayEnumerate(signal_dict), 0))) AS S
  FROM signals
  WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64} - {window_us:Int64}, 'UTC')
    AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
  GROUP BY customer_id
)
SELECT multiIf(kind = 1, concat('touchpoint:', dict.1[id]), kind = 2, concat('reason:', dict.2[id]),
    kind = 3, concat('channel:', dict.3[id]), kind = 4, concat('signal:', signal_dict[id]),${personas ? ` kind = 5, concat('persona:', {ps_names:Array(String)}[id]),` : ''} '') AS factor,
  countIf(outcome_at > 0) AS with_outcome, count() AS customers
FROM (
  SELECT p.outcome_at AS outcome_at,
    -- distinct (kind, position) pairs from events inside the customer's window; (0, 0) counts the customer
    -- (arrays zipped into the lambdas, not indexed from inside them: a captured array is copied once per element)
    arrayMap(t -> t >= p.anchor - {window_us:Int64} AND t < p.anchor, p.T) AS w,
    arrayConcat(
      [(toUInt8(0), toUInt32(0))],
      arrayMap(x -> (toUInt8(1), x), arrayDistinct(arrayFilter((x, k) -> k, p.TP, w))),
      arrayMap(x -> (toUInt8(2), x), arrayFilter(x -> x != indexOf(dict.2, ''), arrayDistinct(arrayFilter((x, k) -> k, p.RS, w)))),
      arrayMap(x -> (toUInt8(3), x), arrayDistinct(arrayFilter((x, k) -> k, p.CH, w))),
      arrayMap(x -> (toUInt8(4), x), arrayDistinct(arrayMap(x -> x.2, arrayFilter(x -> x.1 >= p.anchor - {window_us:Int64} AND x.1 < p.anchor, s.S)))),
      -- The customer's persona (none without personas: persona_id 0 is left out below)
      [(toUInt8(5), p.persona_id)]
    ) AS factors
  FROM per_customer AS p
  LEFT JOIN signal_times AS s ON s.customer_id = p.customer_id
)
ARRAY JOIN factors.1 AS kind, factors.2 AS id
-- (position 0: a value first stored after the dictionaries were read, while this query ran; left out)
WHERE kind = 0 OR id > 0
GROUP BY kind, id
${querySettingsSql}`;
}

interface FactorRow {
  factor: string;
  with_outcome: number | string;
  customers: number | string;
}

function driversFromCounts(request: DriversRequest, rows: FactorRow[]): DriversResult {
  const total = rows.find((r) => r.factor === '');
  const customers = num(total?.customers);
  const outcomeCustomers = num(total?.with_outcome);
  const others = customers - outcomeCustomers;
  const drivers: Driver[] = [];
  for (const row of rows) {
    if (row.factor === '') continue;
    const split = row.factor.indexOf(':');
    const kind = row.factor.slice(0, split) as FactorKind;
    const value = row.factor.slice(split + 1);
    const a = num(row.with_outcome);
    const c = num(row.customers) - a;
    const b = outcomeCustomers - a;
    const d = others - c;
    if (a < request.minCustomers) continue;
    // Without any customer on one side there is nothing to compare with.
    const comparable = outcomeCustomers > 0 && others > 0;
    const { table, corrected } = correctedTable({ a, b, c, d });
    const rr = comparable ? relativeRisk(table) : null;
    const or = comparable ? oddsRatio(table) : null;
    drivers.push({
      kind,
      value,
      outcome_with_factor: a,
      outcome_without_factor: b,
      no_outcome_with_factor: c,
      no_outcome_without_factor: d,
      outcome_rate_with_factor: round(a / (a + c))!,
      outcome_rate_without_factor: b + d > 0 ? round(b / (b + d)) : null,
      lift: rr ? round(rr.value, 4) : null,
      lift_ci_low: rr ? round(rr.ci_low, 4) : null,
      lift_ci_high: rr ? round(rr.ci_high, 4) : null,
      odds_ratio: or ? round(or.value, 4) : null,
      odds_ratio_ci_low: or ? round(or.ci_low, 4) : null,
      odds_ratio_ci_high: or ? round(or.ci_high, 4) : null,
      corrected: comparable && corrected,
    });
  }
  const key = request.sort === 'odds_ratio' ? 'odds_ratio' : 'lift';
  drivers.sort((x, y) => (y[key] ?? -1) - (x[key] ?? -1) || y.outcome_with_factor - x.outcome_with_factor || x.kind.localeCompare(y.kind) || x.value.localeCompare(y.value));
  return {
    outcome: request.outcome,
    days: request.windowMicros / 86_400_000_000,
    from: microsToIso(request.fromMicros),
    to: microsToIso(request.toMicros),
    customers,
    outcome_customers: outcomeCustomers,
    drivers: drivers.slice(0, request.limit),
  };
}

export async function queryDrivers(clickhouse: ClickHouseClient, request: DriversRequest): Promise<DriversResult> {
  const result = await clickhouse.query({
    query: driversSql(request.outcome, request.personas, request.scope?.churnRisk),
    query_params: {
      ...request.personas?.params,
      ps_names: request.personas?.names ?? [],
      persona: request.scope?.persona ?? '',
      ...churnRiskParams(request.scope?.churnRisk),
      from_us: request.fromMicros,
      to_us: request.toMicros,
      window_us: request.windowMicros,
      outcome_touchpoint: request.outcome,
      ...scopeParams(request.scope ?? {}),
    },
    format: 'JSONEachRow',
  });
  return driversFromCounts(request, await result.json<FactorRow>());
}
