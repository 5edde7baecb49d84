// Funnels over the raw touchpoints. One statement per request; its text depends only on the funnel's SHAPE (number
// of steps, which are optional, ordered or not, breakdown) — every value (touchpoints, channels, window, range)
// travels as a {name:Type} parameter.
//
// Semantics (also in the route description):
//  * Ordered: a customer enters at their first step-1 event in the range. Each required step is the first matching
//    event strictly after the previous required step, at most `window` after the entry. An optional step counts when
//    it happens after the previous required step and before the next required step (or, if that is never reached,
//    within the window); skipping it does not stop the customer.
//  * Unordered: a customer enters at their first event matching any step; step k is reached once all required steps
//    1…k happened within `window` of the entry, in any order; its time is the latest of them.
//  * Exclusions: the first exclusion event after the entry ends the customer's funnel there — steps after it do not
//    count (the customer still counts for the steps reached before).
//  * Conversion and time "from previous" are relative to the previous REQUIRED step (step 1 is always required).
import { personaConditionSql, type PersonaSql } from '../personas/sql.ts';
import { andChurnRiskSql, churnRiskBandSql, churnRiskParams, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { invalidParameter } from '../shared/errors.ts';
import { num, round } from '../shared/numbers.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';

export interface StepMatcher {
  touchpoint: string;
  channel?: string;
  outcome?: string;
  journey?: string;
}

export interface FunnelStep extends StepMatcher {
  optional?: boolean;
  label?: string;
}

export const funnelBreakdownNames = ['channel', 'first_channel', 'persona', 'churn_risk'] as const;
export type FunnelBreakdown = (typeof funnelBreakdownNames)[number];
export const funnelOrderNames = ['ordered', 'unordered'] as const;
export type FunnelOrder = (typeof funnelOrderNames)[number];

export const maxFunnelSteps = 32;

export interface FunnelRequest {
  steps: FunnelStep[];
  exclusions: StepMatcher[];
  order: FunnelOrder;
  windowMicros: number;
  breakdown?: FunnelBreakdown;
  fromMicros: number;
  toMicros: number;
  /** Only customers of this persona (docs/architecture.md §20.6). */
  persona?: string;
  /** The personas' SQL: needed for breakdown `persona` and for `persona`. */
  personas?: PersonaSql;
  /** Only customers whose newest churn-risk score is in this band (docs/architecture.md §22). */
  churnRisk?: ChurnRiskBand;
}

/** Upper bounds (seconds) of the time-to-convert histogram's bins; the last bin is open-ended. */
export const histogramBinsSeconds = [60, 300, 900, 3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400] as const;

export interface HistogramBin {
  /** Upper bound in seconds (inclusive); null for the open last bin. */
  le_seconds: number | null;
  customers: number;
}

export interface FunnelStepResult {
  step: number;
  label: string;
  touchpoint: string;
  optional: boolean;
  customers: number;
  conversion_from_previous: number | null;
  conversion_from_first: number | null;
  median_seconds_from_previous: number | null;
  p90_seconds_from_previous: number | null;
  median_seconds_from_first: number | null;
  p90_seconds_from_first: number | null;
  histogram_from_previous: HistogramBin[];
}

export interface FunnelResult {
  from: string;
  to: string;
  order: FunnelOrder;
  window_seconds: number;
  steps: FunnelStepResult[];
  breakdown: { by: FunnelBreakdown; groups: Array<{ key: string; steps: FunnelStepResult[] }> } | null;
}

function validateFunnel(request: FunnelRequest): void {
  const { steps } = request;
  if (steps.length < 2 || steps.length > maxFunnelSteps) {
    throw invalidParameter(`a funnel has 2 to ${maxFunnelSteps} steps (got ${steps.length})`);
  }
  if (steps[0]!.optional) throw invalidParameter('steps.0 cannot be optional: the first step is where customers enter the funnel');
}

const matcherSql = (prefix: string) =>
  `(tp, ch, oc, jr) -> touchpoint = tp AND (ch = '' OR channel = ch) AND (oc = '' OR outcome = oc) AND (jr = '' OR journey = jr), ` +
  `{${prefix}_touchpoints:Array(String)}, {${prefix}_channels:Array(String)}, {${prefix}_outcomes:Array(String)}, {${prefix}_journeys:Array(String)}`;

/** Bitmask of the steps an event matches (bit k-1 = step k), and whether it is an exclusion event. */
const stepMaskSql = `arraySum(arrayMap((tp, ch, oc, jr, i) -> if(touchpoint = tp AND (ch = '' OR channel = ch) AND (oc = '' OR outcome = oc) AND (jr = '' OR journey = jr), bitShiftLeft(toUInt64(1), i), toUInt64(0)),
    {step_touchpoints:Array(String)}, {step_channels:Array(String)}, {step_outcomes:Array(String)}, {step_journeys:Array(String)}, range(toUInt64(length({step_touchpoints:Array(String)})))))`;
const exclusionSql = `arrayExists(${matcherSql('excl')})`;

// With every event kept, the step matching runs only on events whose touchpoint is in the funnel at all: `if` is
// short-circuit evaluated, and the bitmask's lambda over all steps is the expensive part of the scan.
const relevant = (expression: string, otherwise: string) =>
  `if(touchpoint IN {all_step_touchpoints:Array(String)} OR touchpoint IN {excl_touchpoints:Array(String)}, ${expression}, ${otherwise})`;

interface Shape {
  order: FunnelOrder;
  breakdown?: FunnelBreakdown;
  /** Keep every event of the customer (needed for first_channel and for what dropped customers did next). */
  allEvents: boolean;
  /** With a persona breakdown or filter (§20.6). */
  personas?: PersonaSql;
  personaFilter?: boolean;
  /** With a churn-risk band filter (§22). */
  churnRisk?: ChurnRiskBand;
}

// The statement text is the same for any number of steps: which steps are optional and which required step comes
// before / after each one travel as array parameters, and the steps are evaluated by arrayFold/arrayMap over the step
// index. (Spelling each step out as its own column made ClickHouse's analyser expand the chain of aliases
// exponentially: a 21-step funnel took half a minute to plan.)
//
// Per customer (in the range): T = event times (µs), M = step bitmasks (bit k-1 = step k), X = exclusion flags,
// C = channels, P = touchpoints, all in time order; then R[k] = when step k was reached (0 = not reached),
// Q[k] = when the previous required step was reached, base = when the customer entered.
function customerStepsSql(shape: Shape): string {
  const match = (k: string) => `bitTest(m, ${k} - 1)`;
  const columns: string[] = [];
  if (shape.order === 'ordered') {
    columns.push(`arrayFirst((t, m) -> bitTest(m, 0), T, M) AS base`);
    columns.push(`if(base = 0, 0, arrayFirst((t, x) -> x AND t > base, T, X)) AS exclusion_at`);
    columns.push(`if(exclusion_at = 0, base + {window_us:Int64}, least(base + {window_us:Int64}, exclusion_at - 1)) AS lim`);
    // Required steps in order: each the first match after the previous required one, within the window.
    columns.push(`arrayFold((acc, k) -> arrayPushBack(acc,
        if({optional:Array(UInt8)}[k] OR acc[{prev_required:Array(UInt8)}[k]] = 0, toInt64(0),
          arrayFirst((t, m) -> ${match('k')} AND t > acc[{prev_required:Array(UInt8)}[k]] AND t <= lim, T, M))),
      range(2, toUInt64(length({optional:Array(UInt8)}) + 1)), [toInt64(base)]) AS required_at`);
    // Optional steps: between the previous required step and the next one (or the window's end if never reached).
    columns.push(`arrayMap(k -> if(NOT {optional:Array(UInt8)}[k], required_at[k],
        if(required_at[{prev_required:Array(UInt8)}[k]] = 0, toInt64(0),
          arrayFirst((t, m) -> ${match('k')} AND t > required_at[{prev_required:Array(UInt8)}[k]] AND t <= lim
            AND ({next_required:Array(UInt8)}[k] = 0 OR required_at[{next_required:Array(UInt8)}[k]] = 0 OR t < required_at[{next_required:Array(UInt8)}[k]]), T, M))),
      range(1, toUInt64(length({optional:Array(UInt8)}) + 1))) AS R`);
  } else {
    columns.push(`arrayFirst((t, m) -> m != 0, T, M) AS base`);
    columns.push(`if(base = 0, 0, arrayFirst((t, x) -> x AND t > base, T, X)) AS exclusion_at`);
    columns.push(`if(exclusion_at = 0, base + {window_us:Int64}, least(base + {window_us:Int64}, exclusion_at - 1)) AS lim`);
    columns.push(`arrayMap(k -> if(base = 0, toInt64(0), arrayFirst((t, m) -> ${match('k')} AND t >= base AND t <= lim, T, M)),
      range(1, toUInt64(length({optional:Array(UInt8)}) + 1))) AS U`);
    // Required step k: every required step 1…k done; reached at the latest of them.
    columns.push(`arrayMap(k -> if(arrayAll(j -> {optional:Array(UInt8)}[j] OR j > k OR U[j] > 0, arrayEnumerate(U)),
        arrayMax(arrayMap(j -> if({optional:Array(UInt8)}[j] OR j > k, toInt64(0), U[j]), arrayEnumerate(U))), toInt64(0)), arrayEnumerate(U)) AS required_at`);
    columns.push(`arrayMap(k -> if(NOT {optional:Array(UInt8)}[k], required_at[k],
        if(required_at[{prev_required:Array(UInt8)}[k]] > 0 AND U[k] > 0, greatest(U[k], required_at[{prev_required:Array(UInt8)}[k]]), toInt64(0))),
      arrayEnumerate(U)) AS R`);
  }
  columns.push(`arrayMap(k -> R[{prev_required:Array(UInt8)}[k]], arrayEnumerate(R)) AS Q`);
  const key =
    shape.breakdown === 'persona'
      ? shape.personas!.expression()
      : shape.breakdown === 'churn_risk'
      ? churnRiskBandSql()
      : shape.breakdown === 'first_channel'
      ? 'C[1]'
      : shape.breakdown === 'channel'
        ? shape.order === 'ordered'
          ? 'arrayFirst((c, m) -> bitTest(m, 0), C, M)'
          : 'arrayFirst((c, m) -> m != 0, C, M)'
        : "''";
  columns.push(`${key} AS breakdown_key`);
  const prefilter = shape.allEvents
    ? ''
    : `AND (touchpoint IN {all_step_touchpoints:Array(String)} OR touchpoint IN {excl_touchpoints:Array(String)})`;
  return `
    SELECT customer_id, T, M, X, C, P, ${columns.join(',\n      ')}
    FROM (
      SELECT customer_id,
        arraySort(groupArray((toUnixTimestamp64Micro(occurred_at), ${relevant(stepMaskSql, 'toUInt64(0)')}, ${relevant(exclusionSql, '0')}, channel, touchpoint))) AS ev,
        arrayMap(e -> e.1, ev) AS T, arrayMap(e -> e.2, ev) AS M, arrayMap(e -> e.3, ev) AS X,
        arrayMap(e -> toString(e.4), ev) AS C, arrayMap(e -> toString(e.5), ev) AS P
      FROM touchpoints
      WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
        ${prefilter}${shape.personaFilter ? `
        AND ${personaConditionSql(shape.personas!)}` : ''}${andChurnRiskSql(shape.churnRisk, 'customer_id')}
      GROUP BY customer_id
    )`;
}

function funnelSql(shape: Omit<Shape, 'allEvents'>): string {
  const keys = shape.breakdown ? `[CAST(NULL, 'Nullable(String)'), breakdown_key]` : `[CAST(NULL, 'Nullable(String)')]`;
  return `
SELECT step, group_key, count() AS customers,
  quantilesExactInclusiveIf(0.5, 0.9)((r - q) / 1e6, step > 1) AS from_previous,
  quantilesExactInclusive(0.5, 0.9)((r - base) / 1e6) AS from_first,
  sumForEachIf(arrayMap(b -> toUInt64(r - q <= b), {bins_us:Array(Int64)}), step > 1) AS cumulative_bins
FROM (${customerStepsSql({ ...shape, allEvents: shape.breakdown === 'first_channel' })})
ARRAY JOIN R AS r, Q AS q, arrayEnumerate(R) AS step
ARRAY JOIN ${keys} AS group_key
WHERE r > 0
GROUP BY step, group_key
ORDER BY step, group_key
${querySettingsSql}`;
}

/**
 * Customers who reached the step before {step} (the previous required one) but not {step}, with what they did next.
 * One row per next (touchpoint, channel): how many customers, and the first {page_end} of them by customer id — enough
 * to cut any page [offset, offset + limit) from the merged groups, in one pass over the data.
 */
function droppedSql(shape: Omit<Shape, 'allEvents'>): string {
  return `
SELECT next_touchpoint, next_channel, count() AS customers,
  arraySlice(arraySort(groupArray((customer_id, last_step_at, next_at))), 1, {page_end:UInt32}) AS first_customers
FROM (
  SELECT customer_id,
    arrayMax(arraySlice(R, 1, {step:UInt8} - 1)) AS last_step_at,
    arrayFirstIndex(t -> t > last_step_at, T) AS next_index,
    if(next_index = 0, '', P[next_index]) AS next_touchpoint,
    if(next_index = 0, '', C[next_index]) AS next_channel,
    if(next_index = 0, 0, T[next_index]) AS next_at
  FROM (${customerStepsSql({ ...shape, allEvents: true })})
  WHERE Q[{step:UInt8}] > 0 AND R[{step:UInt8}] = 0
)
GROUP BY next_touchpoint, next_channel
${querySettingsSql}`;
}

function funnelParams(request: FunnelRequest) {
  const col = (xs: StepMatcher[], f: keyof StepMatcher) => xs.map((s) => s[f] ?? '');
  return {
    from_us: request.fromMicros,
    to_us: request.toMicros,
    window_us: request.windowMicros,
    step_touchpoints: col(request.steps, 'touchpoint'),
    step_channels: col(request.steps, 'channel'),
    step_outcomes: col(request.steps, 'outcome'),
    step_journeys: col(request.steps, 'journey'),
    all_step_touchpoints: [...new Set(request.steps.map((s) => s.touchpoint))],
    excl_touchpoints: col(request.exclusions, 'touchpoint'),
    excl_channels: col(request.exclusions, 'channel'),
    excl_outcomes: col(request.exclusions, 'outcome'),
    excl_journeys: col(request.exclusions, 'journey'),
    bins_us: histogramBinsSeconds.map((s) => s * 1_000_000),
    ...stepStructure(request.steps),
    ...request.personas?.params,
    persona: request.persona ?? '',
    ...churnRiskParams(request.churnRisk),
  };
}

/** Per step (1-based positions): optional flag, the required step before it (1 for step 1) and after it (0 = none). */
function stepStructure(steps: FunnelStep[]) {
  const optional = steps.map((s, i) => (i > 0 && s.optional ? 1 : 0));
  const prevRequired = optional.map((_, i) => {
    for (let j = i - 1; j >= 0; j--) if (!optional[j]) return j + 1;
    return 1;
  });
  const nextRequired = optional.map((_, i) => {
    for (let j = i + 1; j < optional.length; j++) if (!optional[j]) return j + 1;
    return 0;
  });
  return { optional, prev_required: prevRequired, next_required: nextRequired };
}

const shapeOf = (request: FunnelRequest) => ({ order: request.order, breakdown: request.breakdown, personas: request.personas, personaFilter: Boolean(request.persona), churnRisk: request.churnRisk });

interface FunnelRow {
  step: number | string;
  group_key: string | null;
  customers: number | string;
  from_previous: number[];
  from_first: number[];
  cumulative_bins: Array<number | string>;
}

function stepResults(request: FunnelRequest, rows: FunnelRow[]): FunnelStepResult[] {
  const byStep = new Map(rows.map((r) => [num(r.step), r]));
  const counts = request.steps.map((_, i) => num(byStep.get(i + 1)?.customers));
  const prevRequiredIndex = (i: number) => {
    for (let j = i - 1; j >= 0; j--) if (j === 0 || !request.steps[j]!.optional) return j;
    return 0;
  };
  return request.steps.map((s, i) => {
    const row = byStep.get(i + 1);
    const customers = counts[i]!;
    const previous = i === 0 ? null : counts[prevRequiredIndex(i)]!;
    const cumulative = (row?.cumulative_bins ?? []).map(num);
    const histogram: HistogramBin[] =
      i === 0
        ? []
        : [...histogramBinsSeconds, null].map((le, b) => ({
            le_seconds: le,
            customers: (b < cumulative.length ? cumulative[b]! : customers) - (b === 0 ? 0 : (cumulative[b - 1] ?? 0)),
          }));
    const quantile = (xs: number[] | undefined, at: number) => (row && customers > 0 && xs && xs.length ? round(Number(xs[at]), 3) : null);
    return {
      step: i + 1,
      label: s.label ?? s.touchpoint,
      touchpoint: s.touchpoint,
      optional: i > 0 && Boolean(s.optional),
      customers,
      conversion_from_previous: previous === null ? null : previous > 0 ? round(customers / previous) : null,
      conversion_from_first: counts[0]! > 0 ? round(customers / counts[0]!) : null,
      median_seconds_from_previous: i === 0 ? null : quantile(row?.from_previous, 0),
      p90_seconds_from_previous: i === 0 ? null : quantile(row?.from_previous, 1),
      median_seconds_from_first: quantile(row?.from_first, 0),
      p90_seconds_from_first: quantile(row?.from_first, 1),
      histogram_from_previous: histogram,
    };
  });
}

export async function queryFunnel(clickhouse: ClickHouseClient, request: FunnelRequest): Promise<FunnelResult> {
  validateFunnel(request);
  const result = await clickhouse.query({ query: funnelSql(shapeOf(request)), query_params: funnelParams(request), format: 'JSONEachRow' });
  const rows = await result.json<FunnelRow>();
  const overall = rows.filter((r) => r.group_key === null);
  const groups = new Map<string, FunnelRow[]>();
  for (const r of rows) if (r.group_key !== null) groups.set(r.group_key, [...(groups.get(r.group_key) ?? []), r]);
  return {
    from: microsToIso(request.fromMicros),
    to: microsToIso(request.toMicros),
    order: request.order,
    window_seconds: request.windowMicros / 1_000_000,
    steps: stepResults(request, overall),
    breakdown: request.breakdown
      ? {
          by: request.breakdown,
          groups: [...groups.entries()]
            .map(([key, rs]) => ({ key, steps: stepResults(request, rs) }))
            .sort((a, b) => b.steps[0]!.customers - a.steps[0]!.customers || a.key.localeCompare(b.key)),
        }
      : null,
  };
}

export interface DroppedCustomer {
  customer_id: string;
  last_step_at: string;
  next_touchpoint: string | null;
  next_channel: string | null;
  next_at: string | null;
}

export interface DroppedResult {
  step: number;
  label: string;
  total: number;
  limit: number;
  offset: number;
  customers: DroppedCustomer[];
  next_touchpoints: Array<{ touchpoint: string | null; channel: string | null; customers: number }>;
}

export async function queryDropped(
  clickhouse: ClickHouseClient,
  request: FunnelRequest,
  page: { step: number; limit: number; offset: number; top: number },
): Promise<DroppedResult> {
  validateFunnel(request);
  if (page.step < 2 || page.step > request.steps.length) {
    throw invalidParameter(`step must be between 2 and ${request.steps.length}, the number of steps (got ${page.step}); nobody drops at step 1`);
  }
  const params = { ...funnelParams(request), step: page.step, page_end: page.offset + page.limit };
  const result = await clickhouse.query({ query: droppedSql(shapeOf(request)), query_params: params, format: 'JSONEachRow' });
  const groups = await result.json<{
    next_touchpoint: string;
    next_channel: string;
    customers: number | string;
    first_customers: Array<[string, number | string, number | string]>;
  }>();
  const total = groups.reduce((s, g) => s + num(g.customers), 0);
  const customers = groups
    .flatMap((g) => g.first_customers.map(([customer_id, lastStepAt, nextAt]) => ({ customer_id, lastStepAt, nextAt, g })))
    .sort((x, y) => (x.customer_id < y.customer_id ? -1 : x.customer_id > y.customer_id ? 1 : 0))
    .slice(page.offset, page.offset + page.limit);
  const nextRows = [...groups].sort(
    (x, y) => num(y.customers) - num(x.customers) || x.next_touchpoint.localeCompare(y.next_touchpoint) || x.next_channel.localeCompare(y.next_channel),
  );
  return {
    step: page.step,
    label: request.steps[page.step - 1]!.label ?? request.steps[page.step - 1]!.touchpoint,
    total,
    limit: page.limit,
    offset: page.offset,
    customers: customers.map(({ customer_id, lastStepAt, nextAt, g }) => ({
      customer_id,
      last_step_at: microsToIso(num(lastStepAt)),
      next_touchpoint: g.next_touchpoint || null,
      next_channel: g.next_channel || null,
      next_at: num(nextAt) > 0 ? microsToIso(num(nextAt)) : null,
    })),
    next_touchpoints: nextRows.slice(0, page.top).map((r) => ({ touchpoint: r.next_touchpoint || null, channel: r.next_channel || null, customers: num(r.customers) })),
  };
}
