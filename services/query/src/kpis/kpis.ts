// Experience KPIs per time bucket and per period, optionally split by one dimension, each with the previous period
// (same length, just before) beside it. Figures come from the aggregate table that matches the interval (the
// 1-minute aggregate, or the per-dimension 1 h / 1 day rollups of migration 004), signal counts from the matching
// signal rollup, and first-contact resolution from fcr_contacts (it needs each contact's next contact, which no
// aggregate state holds).
// Everything user-chosen in the SQL comes from the fixed fragments below; values travel as {name:Type}.
import { touchpointMeasuresSql, type ClickHouseClient } from '@touchstream/clickhouse';
import { personaConditionSql, type PersonaSql } from '../personas/sql.ts';
import { invalidParameter } from '../shared/errors.ts';
import { finiteOrNull, num, round } from '../shared/numbers.ts';
import { isScoped, scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';
import { churnRiskSignalSql, churnRiskTouchpointSql, type ChurnRiskBand } from './churn-risk.ts';
import { andChurnRiskSql, churnRiskConditionSql } from '../shared/churn-risk.ts';

export const kpiIntervalNames = ['minute', 'hour', 'day'] as const;
export type KpiInterval = (typeof kpiIntervalNames)[number];

export const kpiDimensionNames = ['channel', 'touchpoint', 'journey', 'stage', 'initiator', 'persona'] as const;
export type KpiDimension = (typeof kpiDimensionNames)[number];

const minuteMicros = 60_000_000;

interface KpiIntervalSpec {
  micros: number;
  /** How many buckets one request may ask for (the previous period doubles what is read). */
  maxBuckets: number;
  touchpointTable: string;
  /**
   * How the table holds the dimensions: `combined` (touchpoint_agg_1m: one row per combination of all five,
   * `uniq` states) or `single` (kpi_agg_1h/1d: rows per (dimension, key), '' for everyone, uniqCombined64(15)).
   */
  layout: 'combined' | 'single';
  /**
   * The rollup of the same width with every dimension on each row (touchpoint_agg_1h/1d, `uniq` states): read when
   * filters on two dimensions, or a filter on one and a split by another, are asked for, which `single` rows cannot
   * answer.
   */
  combinedTable: string;
  signalTable: string;
  /** The bucket of a raw row's occurred_at, for the figures read from the raw table. */
  rawBucketSql: string;
}

export const kpiIntervals: Record<KpiInterval, KpiIntervalSpec> = {
  minute: {
    micros: minuteMicros,
    maxBuckets: 7 * 24 * 60,
    touchpointTable: 'touchpoint_agg_1m',
    layout: 'combined',
    combinedTable: 'touchpoint_agg_1m',
    signalTable: 'signal_agg_1m',
    rawBucketSql: "toStartOfMinute(toDateTime(occurred_at, 'UTC'))",
  },
  hour: {
    micros: 60 * minuteMicros,
    maxBuckets: 93 * 24,
    touchpointTable: 'kpi_agg_1h',
    layout: 'single',
    combinedTable: 'touchpoint_agg_1h',
    signalTable: 'signal_agg_1h',
    rawBucketSql: "toStartOfHour(toDateTime(occurred_at, 'UTC'))",
  },
  day: {
    micros: 24 * 60 * minuteMicros,
    maxBuckets: 3 * 366,
    touchpointTable: 'kpi_agg_1d',
    layout: 'single',
    combinedTable: 'touchpoint_agg_1d',
    signalTable: 'signal_agg_1d',
    rawBucketSql: "toStartOfDay(toDateTime(occurred_at, 'UTC'))",
  },
};

/**
 * The dimension's column in the touchpoint tables and in the signal tables. Signals carry no initiator, so
 * by=initiator reports no signal counts (negative_signal_rate null) rather than attributing them to a guessed side.
 */
const kpiDimensions: Record<KpiDimension, { touchpointSql: string; signalSql: string | null; contactSql: string }> = {
  channel: { touchpointSql: 'channel', signalSql: 'channel', contactSql: 'channel' },
  touchpoint: { touchpointSql: 'touchpoint', signalSql: 'touchpoint', contactSql: 'touchpoint' },
  journey: { touchpointSql: 'journey', signalSql: 'journey', contactSql: 'journey' },
  stage: { touchpointSql: 'stage', signalSql: 'stage', contactSql: 'stage' },
  // fcr_contacts holds customer-initiated contacts only.
  initiator: { touchpointSql: 'initiator', signalSql: null, contactSql: "'customer'" },
  // A column of the per-persona sources below; contacts get it from the persona expression (§20.6).
  persona: { touchpointSql: 'persona', signalSql: 'persona', contactSql: 'persona' },
};

/**
 * Persona breakdown or filter (docs/architecture.md §20.6): no rollup holds a persona (it is decided at query time from
 * the profiles, so that a changed personas file applies at once), so the touchpoint and signal figures are computed from
 * the raw tables into the same -State columns the minute rollup has (with a persona column), and read like it. The cost
 * is a scan of the raw rows of both periods instead of the rollup.
 */
function personaTouchpointSource(interval: KpiInterval, persona: PersonaSql, columns: readonly string[]): string {
  return `(
  SELECT ${kpiIntervals[interval].rawBucketSql} AS bucket, ${persona.expression()} AS persona${columns.filter((c) => c !== 'persona').map((c) => `, ${c}`).join('')},${touchpointMeasuresSql}
  FROM touchpoints
  WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    AND ({persona:String} = '' OR persona = {persona:String})
  GROUP BY ${['bucket', ...columns].join(', ')})`;
}

function personaSignalSource(interval: KpiInterval, persona: PersonaSql, columns: readonly string[]): string {
  return `(
  SELECT ${kpiIntervals[interval].rawBucketSql} AS bucket, ${persona.expression()} AS persona${columns.filter((c) => c !== 'persona').map((c) => `, ${c}`).join('')}, countState() AS signals
  FROM signals
  WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    AND ({persona:String} = '' OR persona = {persona:String})
  GROUP BY ${['bucket', ...columns].join(', ')})`;
}

/**
 * The columns a per-persona source keeps: the persona, the breakdown's column and the filtered ones (channel, journey,
 * touchpoint). Grouping by only these keeps the raw aggregation small (by every dimension it was several times slower).
 */
function personaSourceColumns(by: KpiDimension | undefined, filter: KpiFilter | undefined, table: 'touchpoints' | 'signals'): string[] {
  const column = by ? (table === 'touchpoints' ? kpiDimensions[by].touchpointSql : kpiDimensions[by].signalSql) : null;
  const filtered = kpiFilterDimensions.filter((d) => filter?.[d]);
  return [...new Set(['persona', ...(column ? [column] : []), ...filtered])];
}

export const defaultFcrDays = 7;
export const maxFcrDays = 90;

/** What the KPIs can be split by: a touchpoint dimension, or the customer's churn-risk band (§22). */
export type KpiBy = KpiDimension | 'churn_risk';
export const kpiByNames = [...kpiDimensionNames, 'churn_risk'] as const;

export interface KpiRequest {
  fromMicros: number;
  toMicros: number;
  interval: KpiInterval;
  by?: KpiBy;
  /** Only touchpoints (and signals) of customers currently in this churn-risk band (§22; read from the raw tables). */
  churnRisk?: ChurnRiskBand;
  /** A contact counts as resolved first time when no contact about the same reason follows within this many days. */
  fcrDays?: number;
  /** Skip the per-bucket series (the heat map only needs the period totals). */
  totalsOnly?: boolean;
  /**
   * Leave out unique_customers (reported as 0): the heat map shows no such column, and merging the uniq states is
   * the costliest part of the rollup read.
   */
  skipUniqueCustomers?: boolean;
  /**
   * Only touchpoints (and signals, contacts) on this channel / of this journey / of this touchpoint, any together
   * (the workspace's global filters, the heat map's). See `touchpointReadOf` for the rollup each combination reads.
   */
  scope?: KpiFilter;
  /**
   * The catalogue's reaction-time targets (touchpoint name → ms, docs/architecture.md §20.3): with at least one,
   * reaction-time compliance is read from the raw touchpoints; without, its figures are 0 / null.
   */
  reactionTargets?: ReactionTargets;
  /**
   * The personas' SQL (docs/architecture.md §20.6): needed for by=persona and for a persona filter (`scope.persona`);
   * either reads the raw touchpoints and signals instead of the rollups.
   */
  personas?: PersonaSql;
}

/** The filters of a KPI read: the workspace's channel / journey scope, and a touchpoint. */
export interface KpiFilter extends Scope {
  touchpoint?: string;
}

const isKpiFiltered = (filter: KpiFilter | undefined) => isScoped(filter) || Boolean(filter?.touchpoint);

const kpiFilterDimensions = ['channel', 'journey', 'touchpoint'] as const satisfies ReadonlyArray<KpiDimension & keyof KpiFilter>;

/** True for a row (of any table with channel, journey and touchpoint columns) that the filter keeps. */
const kpiFilterConditionSql = () => `${scopeConditionSql()} AND ({touchpoint:String} = '' OR touchpoint = {touchpoint:String})`;

/**
 * Which touchpoint rollup a request reads. Unfiltered, or filtered on the one dimension it is split by (or on one
 * without a split), the per-dimension rows of kpi_agg_1h/1d (`single`: 30 days × that dimension's values, the fast
 * path); any other filter on hours or days reads touchpoint_agg_1h/1d, which keep every dimension on each row
 * (`combined`: as many rows as combinations seen per bucket). Minutes always read the combined touchpoint_agg_1m.
 */
export function touchpointReadOf(interval: KpiInterval, by: KpiDimension | undefined, filter: KpiFilter = {}) {
  const spec = kpiIntervals[interval];
  // Every filter set, whatever its name: one the per-dimension rows cannot answer must not be dropped silently.
  const filtered = Object.entries(filter).filter(([, value]) => value).map(([name]) => name);
  if (spec.layout === 'single') {
    if (filtered.length === 0) return { table: spec.touchpointTable, layout: 'single' as const, dimension: by ?? '', filterKey: null };
    const only = kpiFilterDimensions.find((d) => d === filtered[0]);
    if (filtered.length === 1 && only && (!by || by === only)) return { table: spec.touchpointTable, layout: 'single' as const, dimension: only, filterKey: only };
  }
  return { table: spec.combinedTable, layout: 'combined' as const, dimension: '', filterKey: null };
}

/** Touchpoint names and their reaction-time targets (ms), side by side: sent as two array parameters. */
export interface ReactionTargets {
  names: string[];
  targetsMs: number[];
}

/** The targets of a catalogue's entries that set one. */
export function reactionTargetsOf(entries: ReadonlyArray<{ touchpoint: string; reaction_time_ms: number | null }> | undefined): ReactionTargets {
  const targeted = (entries ?? []).filter((e) => e.reaction_time_ms !== null);
  return { names: targeted.map((e) => e.touchpoint), targetsMs: targeted.map((e) => Math.floor(e.reaction_time_ms!)) };
}

/** The KPI figures of one cell (a bucket or a whole period, for one key). */
export interface KpiFigures {
  events: number;
  unique_customers: number;
  nps: number | null;
  nps_responses: number;
  csat: number | null;
  csat_responses: number;
  csat_mean: number | null;
  ces_mean: number | null;
  ces_responses: number;
  avg_handling_ms: number | null;
  avg_wait_ms: number | null;
  p90_wait_ms: number | null;
  sentiment_mean: number | null;
  outcomes: number;
  abandonment_rate: number | null;
  journeys: number;
  journeys_completed: number;
  completion_rate: number | null;
  fcr_contacts: number;
  fcr: number | null;
  signals: number | null;
  negative_signal_rate: number | null;
  /** Touchpoints with a catalogued reaction-time target and a wait_ms. */
  reaction_time_contacts: number;
  /** Of those, waits ≤ their touchpoint's target. */
  reaction_time_met: number;
  /** reaction_time_met / reaction_time_contacts, 0…1. */
  reaction_time_compliance: number | null;
  /** 90th percentile (exact, no interpolation) of those contacts' wait_ms. */
  reaction_time_p90_ms: number | null;
}

export const kpiFigureNames: ReadonlyArray<keyof KpiFigures> = [
  'events', 'unique_customers', 'nps', 'nps_responses', 'csat', 'csat_responses', 'csat_mean', 'ces_mean', 'ces_responses',
  'avg_handling_ms', 'avg_wait_ms', 'p90_wait_ms', 'sentiment_mean', 'outcomes', 'abandonment_rate', 'journeys',
  'journeys_completed', 'completion_rate', 'fcr_contacts', 'fcr', 'signals', 'negative_signal_rate',
  'reaction_time_contacts', 'reaction_time_met', 'reaction_time_compliance', 'reaction_time_p90_ms',
];

export interface KpiBucket extends KpiFigures {
  bucket: string;
  key?: string;
  /** The same bucket one period earlier (bucket − period length), null when it had no data. */
  previous: KpiFigures | null;
}

export interface KpiTotal extends KpiFigures {
  key?: string;
  /** The same key over the previous period. */
  previous: KpiFigures;
}

export interface KpiResult {
  from: string;
  to: string;
  interval: KpiInterval;
  by: KpiBy | null;
  fcr_days: number;
  previous_period: { from: string; to: string };
  totals: KpiTotal[];
  buckets: KpiBucket[];
}

/** Widens [from, to) to whole buckets, so the first and last bucket are not silently partial. */
export function alignRange(fromMicros: number, toMicros: number, interval: KpiInterval) {
  const width = kpiIntervals[interval].micros;
  const alignedFrom = Math.floor(fromMicros / width) * width;
  const alignedTo = Math.ceil(toMicros / width) * width;
  const buckets = (alignedTo - alignedFrom) / width;
  const { maxBuckets } = kpiIntervals[interval];
  if (buckets > maxBuckets) {
    throw invalidParameter(
      `the range from ${microsToIso(fromMicros)} to ${microsToIso(toMicros)} spans ${buckets} ${interval} buckets; ` +
        `at most ${maxBuckets} are allowed per request (use a coarser interval or a shorter range)`,
    );
  }
  return { alignedFrom, alignedTo };
}

/**
 * How rows are grouped: `series` by bucket (over both periods), `totals` by period (1 = the requested one, 0 = the
 * previous one). The aggregate tables are read for `totals` alone or for `both` in one pass (GROUPING SETS: each
 * stored state is read and deserialised once for the two, which is most of the cost; `is_total` tells the rows
 * apart); first-contact resolution for `series` or `totals` (its totals are sums of its buckets).
 */
type Grouping = 'series' | 'totals';
type AggregateGrouping = 'totals' | 'both';
const periodSql = `toUInt32(bucket >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC'))`;
const groupSql = (grouping: AggregateGrouping) =>
  grouping === 'totals'
    ? `${periodSql} AS g`
    : `toUnixTimestamp(bucket) AS b, ${periodSql} AS p, grouping(b) AS is_total, if(is_total = 1, p, b) AS g`;
const groupBySql = (grouping: AggregateGrouping) => (grouping === 'both' ? 'GROUPING SETS ((b, k), (p, k))' : 'g, k');

const aggregateRange = `bucket >= toDateTime({prev_from_s:Int64}, 'UTC') AND bucket < toDateTime({to_s:Int64}, 'UTC')`;

/** Figures from the rollup table of the interval; exported so tests can check it has no values spliced in. */
export function touchpointAggregateSql(
  interval: KpiInterval,
  by: KpiDimension | undefined,
  grouping: AggregateGrouping,
  opts: { uniqueCustomers?: boolean; filter?: KpiFilter; persona?: PersonaSql } = {},
): string {
  // A persona split or filter reads the raw touchpoints aggregated into the combined rollup's columns (above).
  const read = opts.persona
    ? { table: personaTouchpointSource(interval, opts.persona, personaSourceColumns(by, opts.filter, 'touchpoints')), layout: 'combined' as const, dimension: '', filterKey: null }
    : touchpointReadOf(interval, by, opts.filter);
  const single = read.layout === 'single';
  // `single` tables hold the chosen dimension's rows under `key` (and everyone's under dimension ''); the
  // dimension name is one of the fixed names above, sent as a parameter all the same. Filtered on that dimension,
  // only the filter's key is read; without a split its figures are the total (key '').
  const key = single ? (read.filterKey && !by ? "''" : 'key') : by ? kpiDimensions[by].touchpointSql : "''";
  const filterSql = single
    ? ` AND dimension = {dimension:String}${read.filterKey ? ` AND key = {${read.filterKey}:String}` : ''}`
    : isKpiFiltered(opts.filter)
      ? ` AND ${kpiFilterConditionSql()}`
      : '';
  const uniqMerge = single ? 'uniqCombined64Merge(15)' : 'uniqMerge';
  const uniqIfMerge = single ? 'uniqCombined64IfMerge(15)' : 'uniqIfMerge';
  const uniqueCustomers = opts.uniqueCustomers === false ? 'toUInt64(0)' : `${uniqMerge}(customers)`;
  return `
SELECT
  ${groupSql(grouping)},
  ${key} AS k,
  countMerge(events) AS events,
  ${uniqueCustomers} AS unique_customers,
  sumMerge(nps_responses) AS nps_responses,
  sumMerge(nps_promoters) AS nps_promoters,
  sumMerge(nps_detractors) AS nps_detractors,
  sumMerge(csat_responses) AS csat_responses,
  sumMerge(csat_satisfied) AS csat_satisfied,
  sumMerge(csat_score_sum) AS csat_score_sum,
  sumMerge(ces_responses) AS ces_responses,
  sumMerge(ces_score_sum) AS ces_score_sum,
  sumMerge(duration_sum) AS duration_sum,
  countMerge(duration_count) AS duration_count,
  avgMerge(wait_avg) AS wait_avg,
  quantilesMerge(0.5, 0.9)(wait_quantiles)[2] AS wait_p90,
  avgMerge(sentiment_avg) AS sentiment_avg,
  sumMerge(outcome_started) + sumMerge(outcome_completed) + sumMerge(outcome_failed) + sumMerge(outcome_abandoned)
    + sumMerge(outcome_escalated) + sumMerge(outcome_transferred) + sumMerge(outcome_resolved)
    + sumMerge(outcome_unresolved) AS outcomes,
  sumMerge(outcome_abandoned) AS abandoned,
  ${uniqIfMerge}(journeys) AS journeys,
  ${uniqIfMerge}(journeys_completed) AS journeys_completed
FROM ${read.table}
WHERE ${aggregateRange}${filterSql}
GROUP BY ${groupBySql(grouping)}
ORDER BY g, k
${querySettingsSql}`;
}

export function signalAggregateSql(interval: KpiInterval, by: KpiDimension | undefined, grouping: AggregateGrouping, filter?: KpiFilter, persona?: PersonaSql): string | null {
  const key = by ? kpiDimensions[by].signalSql : "''";
  if (key === null) return null;
  return `
SELECT ${groupSql(grouping)}, ${key} AS k, countMerge(signals) AS signal_count
FROM ${persona ? personaSignalSource(interval, persona, personaSourceColumns(by, filter, 'signals')) : kpiIntervals[interval].signalTable}
WHERE ${aggregateRange}${isKpiFiltered(filter) ? ` AND ${kpiFilterConditionSql()}` : ''}
GROUP BY ${groupBySql(grouping)}
${querySettingsSql}`;
}

/**
 * First-contact resolution: customer-initiated contacts with a reason (fcr_contacts, fed by a view with every stored touchpoint), each
 * resolved unless the same customer contacted again (customer-initiated) about the same reason within {fcr_days}
 * days. The look-ahead reads up to {fcr_days} past the range's end; contacts too recent for their window to have
 * elapsed count as resolved so far. `scopeSql` adds fixed filter fragments (the impact analysis' scope).
 *
 * The key travels through the window's sort as a plain String: carrying a LowCardinality column (the dimension
 * columns are) through the sort and the window cost as much as all the rest (30-day FCR by stage on 10M events:
 * ~180 ms against ~100 ms as a String, ~85 ms with no key at all). A cast alone would not do: the planner moves
 * functions the sort does not need to after it, so the cast key is also the last ORDER BY column. It never
 * decides an order: FINAL leaves one row per (contact_key, occurred_at, event_id), the table's sorting key.
 */
export function fcrSql(groupExpression: string, key: string, scopeSql = ''): string {
  return `
WITH contacts AS (
  SELECT
    occurred_at,
    CAST(${key} AS String) AS k,
    leadInFrame(toNullable(occurred_at)) OVER (
      PARTITION BY contact_key ORDER BY occurred_at, event_id, k ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING
    ) AS next_at
  FROM fcr_contacts FINAL
  WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')${scopeSql}
    AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC') + toIntervalDay({fcr_days:UInt16})
)
SELECT
  ${groupExpression} AS g,
  k,
  count() AS fcr_contacts,
  countIf(next_at IS NULL OR next_at > occurred_at + toIntervalDay({fcr_days:UInt16})) AS fcr_resolved
FROM contacts
WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')
  AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
GROUP BY g, k
${querySettingsSql}`;
}

/**
 * Reaction-time compliance from the raw touchpoints: each row's target comes from the catalogue through
 * transform() over two array parameters (one statement whatever the catalogue's size; no SQL built from names);
 * rows of touchpoints without a target, or without a wait_ms, are not contacts here. Grouped like the aggregates
 * (one pass for buckets and periods), keyed by the same dimension columns. No FINAL, on purpose: the rollups the other
 * figures come from count each stored row once too (duplicates are kept out by the sink's insert tokens, FINAL is the
 * backstop for the rare one that is not), and FINAL over a table ordered by customer costs ~70× the read (2M rows,
 * 60 days: 1.7 s against 23 ms on chDB here), which every KPI request and the heat map would pay.
 */
export function reactionTimeSql(interval: KpiInterval, by: KpiDimension | undefined, grouping: AggregateGrouping, filtered = false, persona?: PersonaSql, churnRisk?: ChurnRiskBand): string {
  const key = by === 'persona' ? persona!.expression() : by ? kpiDimensions[by].touchpointSql : "''";
  return `
SELECT ${groupSql(grouping)}, k, count() AS rt_contacts, countIf(wait <= target) AS rt_met, quantileExact(0.9)(wait) AS rt_p90
FROM (
  SELECT
    ${kpiIntervals[interval].rawBucketSql} AS bucket,
    CAST(${key} AS String) AS k,
    assumeNotNull(wait_ms) AS wait,
    transform(toString(touchpoint), {rt_names:Array(String)}, {rt_targets:Array(Int64)}, toInt64(-1)) AS target
  FROM touchpoints
  WHERE occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')
    AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    AND wait_ms IS NOT NULL
    AND touchpoint IN {rt_names:Array(String)}${filtered ? `
    AND ${kpiFilterConditionSql()}` : ''}${persona ? `
    AND ${personaConditionSql(persona)}` : ''}${andChurnRiskSql(churnRisk)}
)
GROUP BY ${groupBySql(grouping)}
${querySettingsSql}`;
}

export function kpiFcrSql(interval: KpiInterval, by: KpiDimension | undefined, grouping: Grouping, filtered = false, persona?: PersonaSql, churnRisk?: ChurnRiskBand): string {
  const key = by === 'persona' ? persona!.expression() : by ? kpiDimensions[by].contactSql : "''";
  const group =
    grouping === 'series'
      ? `toUnixTimestamp(${kpiIntervals[interval].rawBucketSql})`
      : `toUInt32(occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC'))`;
  // A band filter keeps or drops a customer's contacts all together (contact_key is per customer), so FCR stays exact.
  const filters = [...(filtered ? [kpiFilterConditionSql()] : []), ...(persona ? [personaConditionSql(persona)] : []), ...(churnRisk ? [churnRiskConditionSql()] : [])];
  return fcrSql(group, key, filters.map((f) => `\n    AND ${f}`).join(''));
}

type Num = number | string | null | undefined;

interface TouchpointAggregateRow {
  g: Num;
  /** With grouping `both`: 1 on the period rows, 0 on the bucket rows. */
  is_total?: Num;
  k: string;
  events: Num;
  unique_customers: Num;
  nps_responses: Num;
  nps_promoters: Num;
  nps_detractors: Num;
  csat_responses: Num;
  csat_satisfied: Num;
  csat_score_sum: Num;
  ces_responses: Num;
  ces_score_sum: Num;
  duration_sum: Num;
  duration_count: Num;
  wait_avg: Num;
  wait_p90: Num;
  sentiment_avg: Num;
  outcomes: Num;
  abandoned: Num;
  journeys: Num;
  journeys_completed: Num;
}

interface SignalAggregateRow {
  g: Num;
  is_total?: Num;
  k: string;
  signal_count: Num;
}

interface ReactionTimeRow {
  g: Num;
  is_total?: Num;
  k: string;
  rt_contacts: Num;
  rt_met: Num;
  rt_p90: Num;
}

export interface FcrRow {
  g: Num;
  k: string;
  fcr_contacts: Num;
  fcr_resolved: Num;
}

const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

/** One cell's inputs, merged from the three sources (any may be missing). */
interface CellInputs {
  touchpoints?: TouchpointAggregateRow;
  signalCount?: number;
  fcr?: FcrRow;
  reaction?: ReactionTimeRow;
}

function figuresFromInputs(cell: CellInputs, signalsAvailable: boolean): KpiFigures {
  const t = cell.touchpoints;
  const events = num(t?.events);
  const npsResponses = num(t?.nps_responses);
  const csatResponses = num(t?.csat_responses);
  const cesResponses = num(t?.ces_responses);
  const outcomes = num(t?.outcomes);
  const journeys = num(t?.journeys);
  const journeysCompleted = num(t?.journeys_completed);
  const fcrContacts = num(cell.fcr?.fcr_contacts);
  const signals = signalsAvailable ? (cell.signalCount ?? 0) : null;
  const nps = ratio(num(t?.nps_promoters) - num(t?.nps_detractors), npsResponses);
  const csat = ratio(num(t?.csat_satisfied), csatResponses);
  return {
    events,
    unique_customers: num(t?.unique_customers),
    nps: nps === null ? null : round(nps * 100, 4),
    nps_responses: npsResponses,
    csat: csat === null ? null : round(csat * 100, 4),
    csat_responses: csatResponses,
    csat_mean: round(ratio(num(t?.csat_score_sum), csatResponses)),
    ces_mean: round(ratio(num(t?.ces_score_sum), cesResponses)),
    ces_responses: cesResponses,
    avg_handling_ms: round(ratio(num(t?.duration_sum), num(t?.duration_count)), 3),
    avg_wait_ms: round(finiteOrNull(t?.wait_avg), 3),
    p90_wait_ms: round(finiteOrNull(t?.wait_p90), 3),
    sentiment_mean: round(finiteOrNull(t?.sentiment_avg)),
    outcomes,
    abandonment_rate: round(ratio(num(t?.abandoned), outcomes)),
    journeys,
    journeys_completed: journeysCompleted,
    completion_rate: round(ratio(journeysCompleted, journeys)),
    fcr_contacts: fcrContacts,
    fcr: round(ratio(num(cell.fcr?.fcr_resolved), fcrContacts)),
    signals,
    negative_signal_rate: signals === null ? null : round(ratio(signals * 100, events), 4),
    reaction_time_contacts: num(cell.reaction?.rt_contacts),
    reaction_time_met: num(cell.reaction?.rt_met),
    reaction_time_compliance: round(ratio(num(cell.reaction?.rt_met), num(cell.reaction?.rt_contacts))),
    reaction_time_p90_ms: num(cell.reaction?.rt_contacts) > 0 ? finiteOrNull(cell.reaction?.rt_p90) : null,
  };
}

const cellKey = (g: number, k: string) => `${g}\u0000${k}`;

/** Merges the rows of the three sources by (group, key). */
function mergeCells(touchpoints: TouchpointAggregateRow[], signals: SignalAggregateRow[], fcr: FcrRow[], reaction: ReactionTimeRow[]) {
  const cells = new Map<string, CellInputs & { g: number; k: string }>();
  const cell = (g: Num, k: string) => {
    const id = cellKey(num(g), k);
    let c = cells.get(id);
    if (!c) cells.set(id, (c = { g: num(g), k }));
    return c;
  };
  for (const row of touchpoints) cell(row.g, row.k).touchpoints = row;
  for (const row of signals) cell(row.g, row.k).signalCount = num(row.signal_count);
  for (const row of fcr) cell(row.g, row.k).fcr = row;
  // A cell with reaction-time contacts always has touchpoints too (the same raw rows feed the rollups).
  for (const row of reaction) cell(row.g, row.k).reaction = row;
  return cells;
}

/** Sums per-bucket FCR rows into period rows (g = 1 from `fromS` on, else 0), as the totals query groups them. */
export function fcrTotalsFromSeries(rows: FcrRow[], fromS: number): FcrRow[] {
  const sums = new Map<string, FcrRow & { fcr_contacts: number; fcr_resolved: number }>();
  for (const row of rows) {
    const g = num(row.g) >= fromS ? 1 : 0;
    const id = cellKey(g, row.k);
    let sum = sums.get(id);
    if (!sum) sums.set(id, (sum = { g, k: row.k, fcr_contacts: 0, fcr_resolved: 0 }));
    sum.fcr_contacts += num(row.fcr_contacts);
    sum.fcr_resolved += num(row.fcr_resolved);
  }
  return [...sums.values()];
}

async function rowsOf<T>(clickhouse: ClickHouseClient, query: string | null, params: Record<string, unknown>): Promise<T[]> {
  if (query === null) return [];
  const result = await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}

export async function queryKpis(clickhouse: ClickHouseClient, request: KpiRequest): Promise<KpiResult> {
  const { alignedFrom, alignedTo } = alignRange(request.fromMicros, request.toMicros, request.interval);
  const fcrDays = request.fcrDays ?? defaultFcrDays;
  const span = alignedTo - alignedFrom;
  const prevFrom = alignedFrom - span;
  const params = {
    from_us: alignedFrom,
    to_us: alignedTo,
    prev_from_us: prevFrom,
    prev_from_s: Math.floor(prevFrom / 1_000_000),
    to_s: Math.floor(alignedTo / 1_000_000),
    fcr_days: fcrDays,
    dimension: request.by === 'churn_risk' ? '' : touchpointReadOf(request.interval, request.by, request.scope).dimension,
    churn_risk: request.churnRisk ?? '',
    rt_names: request.reactionTargets?.names ?? [],
    rt_targets: request.reactionTargets?.targetsMs ?? [],
    ...scopeParams(request.scope ?? {}),
    touchpoint: request.scope?.touchpoint ?? '',
    ...request.personas?.params,
    persona: request.scope?.persona ?? '',
  };
  const filtered = isKpiFiltered(request.scope);
  const { interval, by } = request;
  // Churn-risk bands belong to customers, not to rollup rows: that split or filter reads the raw tables (churn-risk.ts).
  const byRisk = by === 'churn_risk' || request.churnRisk !== undefined;
  const dimension = by === 'churn_risk' ? undefined : by;
  const persona = by === 'persona' || request.scope?.persona ? request.personas : undefined;
  if ((by === 'persona' || request.scope?.persona) && !persona) throw new Error('a persona breakdown or filter needs the personas (KpiRequest.personas)');
  const signalsAvailable = by === 'churn_risk' || !dimension || kpiDimensions[dimension].signalSql !== null;
  const uniqueCustomers = !request.skipUniqueCustomers;
  // With a series, the aggregates are read once for buckets and periods together (grouping `both`), and FCR per
  // bucket only: its counts add up, every bucket lying wholly in one period (the range is aligned to buckets), so
  // the period totals are the sums of the buckets.
  const series = !request.totalsOnly;
  const grouping: AggregateGrouping = series ? 'both' : 'totals';
  // No catalogued target: no raw read (the figures are then 0 / null).
  // FCR and reaction time have no band column to split by, but a band filter is a condition on the customer (§22).
  const reactionSql = params.rt_names.length > 0 && by !== 'churn_risk' ? reactionTimeSql(interval, dimension, grouping, filtered, persona, request.churnRisk) : null;
  const raw = kpiIntervals[interval].rawBucketSql;
  const riskKey = by === 'churn_risk' ? 'risk' : dimension ? kpiDimensions[dimension].touchpointSql : "''";
  const riskSignalKey = by === 'churn_risk' ? 'risk' : dimension ? kpiDimensions[dimension].signalSql : "''";
  const [touchpointRows, signalRows, fcrRows, reactionRows] = await Promise.all([
    rowsOf<TouchpointAggregateRow>(
      clickhouse,
      byRisk
        ? churnRiskTouchpointSql(raw, riskKey, grouping, filtered, persona)
        : touchpointAggregateSql(interval, dimension, grouping, { uniqueCustomers, filter: request.scope, persona }),
      params,
    ),
    rowsOf<SignalAggregateRow>(
      clickhouse,
      byRisk ? churnRiskSignalSql(raw, riskSignalKey, grouping, filtered, persona) : signalAggregateSql(interval, dimension, grouping, request.scope, persona),
      params,
    ),
    rowsOf<FcrRow>(clickhouse, by === 'churn_risk' ? null : kpiFcrSql(interval, dimension, series ? 'series' : 'totals', filtered, persona, request.churnRisk), params),
    rowsOf<ReactionTimeRow>(clickhouse, reactionSql, params),
  ] as const);
  const isTotal = (row: { is_total?: Num }) => !series || num(row.is_total) === 1;
  const totalRows: [TouchpointAggregateRow[], SignalAggregateRow[], FcrRow[], ReactionTimeRow[]] = [
    touchpointRows.filter(isTotal),
    signalRows.filter(isTotal),
    series ? fcrTotalsFromSeries(fcrRows, alignedFrom / 1_000_000) : fcrRows,
    reactionRows.filter(isTotal),
  ];
  const seriesRows: [TouchpointAggregateRow[], SignalAggregateRow[], FcrRow[], ReactionTimeRow[]] | null = series
    ? [touchpointRows.filter((r) => !isTotal(r)), signalRows.filter((r) => !isTotal(r)), fcrRows, reactionRows.filter((r) => !isTotal(r))]
    : null;

  // Totals: g = 1 is the requested period, g = 0 the previous one.
  const totalCells = mergeCells(...totalRows);
  const keys = [...new Set([...totalCells.values()].filter((c) => c.g === 1).map((c) => c.k))].sort();
  const totals: KpiTotal[] = keys.map((k) => {
    const figures = figuresFromInputs(totalCells.get(cellKey(1, k))!, signalsAvailable);
    const previous = figuresFromInputs(totalCells.get(cellKey(0, k)) ?? {}, signalsAvailable);
    return by ? { key: k, ...figures, previous } : { ...figures, previous };
  });

  const buckets: KpiBucket[] = [];
  if (seriesRows) {
    const seriesCells = mergeCells(...seriesRows);
    const fromS = alignedFrom / 1_000_000;
    const spanS = span / 1_000_000;
    const current = [...seriesCells.values()].filter((c) => c.g >= fromS).sort((a, b) => a.g - b.g || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    for (const c of current) {
      const earlier = seriesCells.get(cellKey(c.g - spanS, c.k));
      buckets.push({
        bucket: microsToIso(c.g * 1_000_000),
        ...(by ? { key: c.k } : {}),
        ...figuresFromInputs(c, signalsAvailable),
        previous: earlier ? figuresFromInputs(earlier, signalsAvailable) : null,
      });
    }
  }
  return {
    from: microsToIso(alignedFrom),
    to: microsToIso(alignedTo),
    interval,
    by: by ?? null,
    fcr_days: fcrDays,
    previous_period: { from: microsToIso(prevFrom), to: microsToIso(alignedFrom) },
    totals,
    buckets,
  };
}
