// KPIs per time bucket (and optionally per dimension) from the 1-minute aggregate tables. Hour and day buckets are
// merged from the 1-minute states for now; once 1 h / 1 d rollup tables exist only `kpiIntervals` needs to point at
// them. Everything user-chosen in the SQL comes from the fixed fragments below; values travel as {name:Type}.
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { invalidParameter } from './errors.ts';
import { querySettingsSql } from './settings.ts';
import { microsToIso } from './time.ts';

export const kpiIntervalNames = ['minute', 'hour', 'day'] as const;
export type KpiInterval = (typeof kpiIntervalNames)[number];

export const kpiDimensionNames = ['channel', 'touchpoint', 'journey', 'stage', 'initiator'] as const;
export type KpiDimension = (typeof kpiDimensionNames)[number];

const minuteMicros = 60_000_000;

/** Bucket expression over the 1-minute `bucket` column, its width, and how many buckets one request may ask for. */
export const kpiIntervals: Record<KpiInterval, { bucketSql: string; micros: number; maxBuckets: number }> = {
  minute: { bucketSql: 'bucket', micros: minuteMicros, maxBuckets: 7 * 24 * 60 },
  hour: { bucketSql: 'toStartOfHour(bucket)', micros: 60 * minuteMicros, maxBuckets: 93 * 24 },
  day: { bucketSql: 'toStartOfDay(bucket)', micros: 24 * 60 * minuteMicros, maxBuckets: 3 * 366 },
};

/**
 * The dimension's column in touchpoint_agg_1m and in signal_agg_1m. Signals carry no initiator, so by=initiator
 * reports no signal counts (negative_signal_rate null) rather than attributing them to a guessed side.
 */
export const kpiDimensions: Record<KpiDimension, { touchpointSql: string; signalSql: string | null }> = {
  channel: { touchpointSql: 'channel', signalSql: 'channel' },
  touchpoint: { touchpointSql: 'touchpoint', signalSql: 'touchpoint' },
  journey: { touchpointSql: 'journey', signalSql: 'journey' },
  stage: { touchpointSql: 'stage', signalSql: 'stage' },
  initiator: { touchpointSql: 'initiator', signalSql: null },
};

export interface KpiRequest {
  fromMicros: number;
  toMicros: number;
  interval: KpiInterval;
  by?: KpiDimension;
}

export interface KpiBucket {
  bucket: string;
  key?: string;
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
  signals: number | null;
  negative_signal_rate: number | null;
}

export interface KpiResult {
  from: string;
  to: string;
  interval: KpiInterval;
  by: KpiDimension | null;
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

/** Builds the KPI statement; exported so tests can check it has no values spliced in. */
export function kpiSql(interval: KpiInterval, by: KpiDimension | undefined): string {
  const bucketSql = kpiIntervals[interval].bucketSql;
  const touchpointKey = by ? kpiDimensions[by].touchpointSql : "''";
  const signalKey = by ? kpiDimensions[by].signalSql : "''";
  const range = `bucket >= toDateTime({from_s:Int64}, 'UTC') AND bucket < toDateTime({to_s:Int64}, 'UTC')`;
  // Signals are counted in the same (bucket, key) cells and joined on; a cell with signals but no touchpoint
  // (a timer-raised signal) still shows up, with events = 0.
  const signalCte = signalKey
    ? `SELECT ${bucketSql} AS b, ${signalKey} AS k, countMerge(signals) AS signal_count
       FROM signal_agg_1m WHERE ${range} GROUP BY b, k`
    : `SELECT toDateTime(0, 'UTC') AS b, '' AS k, toUInt64(0) AS signal_count WHERE 0`;
  return `
WITH
  t AS (
    SELECT
      ${bucketSql} AS b,
      ${touchpointKey} AS k,
      countMerge(events) AS events,
      uniqMerge(customers) AS unique_customers,
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
      sumMerge(outcome_abandoned) AS abandoned
    FROM touchpoint_agg_1m
    WHERE ${range}
    GROUP BY b, k
  ),
  s AS (${signalCte})
SELECT
  toUnixTimestamp(b) AS bucket_s,
  k AS key,
  events, unique_customers, nps_responses, nps_promoters, nps_detractors, csat_responses, csat_satisfied,
  csat_score_sum, ces_responses, ces_score_sum, duration_sum, duration_count, wait_avg, wait_p90, sentiment_avg,
  outcomes, abandoned, signal_count
FROM t FULL OUTER JOIN s USING (b, k)
ORDER BY b, k
${querySettingsSql}`;
}

interface KpiRow {
  bucket_s: number | string;
  key: string;
  events: number | string;
  unique_customers: number | string;
  nps_responses: number | string;
  nps_promoters: number | string;
  nps_detractors: number | string;
  csat_responses: number | string;
  csat_satisfied: number | string;
  csat_score_sum: number | string;
  ces_responses: number | string;
  ces_score_sum: number | string;
  duration_sum: number | string | null;
  duration_count: number | string;
  wait_avg: number | null;
  wait_p90: number | null;
  sentiment_avg: number | null;
  outcomes: number | string;
  abandoned: number | string;
  signal_count: number | string;
}

/** UInt64/Int64 arrive quoted from a server and as numbers from chDB; counts here fit a double exactly. */
const num = (v: number | string | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
const finiteOrNull = (v: number | string | null | undefined): number | null => {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};
const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
/** Rounds derived figures so 1/3 reads 0.333333 rather than 0.33333333333333331. */
const round = (v: number | null, digits = 6): number | null => (v === null ? null : Number(v.toFixed(digits)));

export function kpiBucketFromRow(row: KpiRow, by: KpiDimension | undefined): KpiBucket {
  const events = num(row.events);
  const npsResponses = num(row.nps_responses);
  const csatResponses = num(row.csat_responses);
  const cesResponses = num(row.ces_responses);
  const outcomes = num(row.outcomes);
  const signals = by && !kpiDimensions[by].signalSql ? null : num(row.signal_count);
  const nps = ratio(num(row.nps_promoters) - num(row.nps_detractors), npsResponses);
  const csat = ratio(num(row.csat_satisfied), csatResponses);
  const bucket: KpiBucket = {
    bucket: microsToIso(num(row.bucket_s) * 1_000_000),
    events,
    unique_customers: num(row.unique_customers),
    nps: nps === null ? null : round(nps * 100, 4),
    nps_responses: npsResponses,
    csat: csat === null ? null : round(csat * 100, 4),
    csat_responses: csatResponses,
    csat_mean: round(ratio(num(row.csat_score_sum), csatResponses)),
    ces_mean: round(ratio(num(row.ces_score_sum), cesResponses)),
    ces_responses: cesResponses,
    avg_handling_ms: round(ratio(num(row.duration_sum), num(row.duration_count)), 3),
    avg_wait_ms: round(finiteOrNull(row.wait_avg), 3),
    p90_wait_ms: round(finiteOrNull(row.wait_p90), 3),
    sentiment_mean: round(finiteOrNull(row.sentiment_avg)),
    outcomes,
    abandonment_rate: round(ratio(num(row.abandoned), outcomes)),
    signals,
    negative_signal_rate: signals === null ? null : round(ratio(signals, events)),
  };
  if (by) bucket.key = row.key;
  return bucket;
}

export async function queryKpis(clickhouse: ClickHouseClient, request: KpiRequest): Promise<KpiResult> {
  const { alignedFrom, alignedTo } = alignRange(request.fromMicros, request.toMicros, request.interval);
  const result = await clickhouse.query({
    query: kpiSql(request.interval, request.by),
    query_params: { from_s: Math.floor(alignedFrom / 1_000_000), to_s: Math.floor(alignedTo / 1_000_000) },
    format: 'JSONEachRow',
  });
  const rows = await result.json<KpiRow>();
  return {
    from: microsToIso(alignedFrom),
    to: microsToIso(alignedTo),
    interval: request.interval,
    by: request.by ?? null,
    buckets: rows.map((row) => kpiBucketFromRow(row, request.by)),
  };
}
