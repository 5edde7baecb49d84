// One customer's journey: the stored timeline, signals and alerts from ClickHouse plus the live state the processor
// keeps in Redis (which is ahead of ClickHouse by the sink's lag, and is where the decayed score lives).
import type { ClickHouseClient, SignalColumns, TouchpointColumns } from '@touchstream/clickhouse';
import type { Redis } from 'ioredis';
import { customerStateKey, decayedScore } from '@touchstream/processor';
import { ApiError } from './errors.ts';
import { alertFromRow, alertColumnsSql, type AlertRow, type AlertView } from './alerts.ts';
import { querySettingsSql } from './settings.ts';
import { microsToIso, optionalMicrosToIso, toMicros } from './time.ts';

export interface SurveyView {
  kind: string;
  score: number | null;
  comment: string | null;
}

export interface TimelineEntry {
  event_id: string;
  occurred_at: string;
  received_at: string;
  channel: string;
  touchpoint: string;
  initiator: string;
  journey: string | null;
  stage: string | null;
  reason: string | null;
  outcome: string | null;
  duration_ms: number | null;
  wait_ms: number | null;
  sentiment: number | null;
  survey: SurveyView | null;
  agent_id: string | null;
  session_id: string | null;
  attributes: Record<string, string>;
}

export interface SignalView {
  signal_id: string;
  type: string;
  weight: number;
  event_id: string;
  occurred_at: string;
  channel: string | null;
  touchpoint: string | null;
  journey: string | null;
  stage: string | null;
  explanation: string;
  rules_version: string | null;
}

export interface LiveState {
  events: number;
  first_occurred_at: string | null;
  last_occurred_at: string | null;
  last_event_id: string | null;
  last_channel: string | null;
  last_touchpoint: string | null;
  /** Decayed to the time of the request. */
  score: number;
  /** As stored at score_at. */
  score_at_last_update: number;
  score_at: string | null;
  level: string;
  last_alert_id: string | null;
  last_alert_at: string | null;
  /** Per-reason contact counters the processor keeps (`reason:<code>` fields). */
  reasons: Record<string, number>;
}

export interface JourneyResult {
  customer_id: string;
  live: LiveState | null;
  timeline: TimelineEntry[];
  /** Pass as `before` to get the next (older) page; null when this page is the last. */
  next_before: string | null;
  signals: SignalView[];
  alerts: AlertView[];
}

export interface JourneyRequest {
  customerId: string;
  limit: number;
  beforeMicros?: number;
}

/** Empty strings are how ClickHouse stores an absent optional dimension (see migration 001). */
const blankToNull = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);
const optionalNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

interface TimelineRow extends TouchpointColumns<number | string> {
  event_id: string;
  occurred_us: number | string;
  received_us: number | string;
}

interface SignalRow extends SignalColumns {
  occurred_us: number | string;
}

// FINAL collapses a duplicate that reached ClickHouse in two inserts (ReplacingMergeTree on the event's sort key)
// before the background merge has; reading by customer keeps it to the customer's own granules.
/** One page of a customer's rows of `table`, newest `time` first (ties by `id`), older than `before_us`. */
const customerPageSql = (columns: string, table: string, time: string, id: string) => `
SELECT ${columns}
FROM ${table} FINAL
WHERE customer_id = {customer_id:String}
  AND ${time} < fromUnixTimestamp64Micro({before_us:Int64}, 'UTC')
ORDER BY ${time} DESC, ${id} DESC
LIMIT {limit:UInt32}
${querySettingsSql}`;

const timelineSql = customerPageSql(
  `event_id, toUnixTimestamp64Micro(occurred_at) AS occurred_us, toUnixTimestamp64Micro(received_at) AS received_us,
  channel, touchpoint, initiator, journey, stage, reason, outcome, duration_ms, wait_ms, sentiment,
  survey_kind, survey_score, survey_comment, agent_id, session_id, attributes`,
  'touchpoints',
  'occurred_at',
  'event_id',
);

const signalsSql = customerPageSql(
  `signal_id, type, weight, event_id, toUnixTimestamp64Micro(occurred_at) AS occurred_us,
  channel, touchpoint, journey, stage, explanation, rules_version`,
  'signals',
  'occurred_at',
  'signal_id',
);

const customerAlertsSql = customerPageSql(alertColumnsSql, 'alerts', 'at', 'alert_id');

const customerExistsSql = `
SELECT 1 FROM touchpoints WHERE customer_id = {customer_id:String} LIMIT 1 ${querySettingsSql}`;

/** Far enough in the future to mean "no upper bound" while staying inside DateTime64(6)'s range. */
const noUpperBoundMicros = Date.UTC(2200, 0, 1) * 1000;

export function timelineEntryFromRow(row: TimelineRow): TimelineEntry {
  return {
    event_id: row.event_id,
    occurred_at: microsToIso(Number(row.occurred_us)),
    received_at: microsToIso(Number(row.received_us)),
    channel: row.channel,
    touchpoint: row.touchpoint,
    initiator: row.initiator,
    journey: blankToNull(row.journey),
    stage: blankToNull(row.stage),
    reason: blankToNull(row.reason),
    outcome: blankToNull(row.outcome),
    duration_ms: optionalNumber(row.duration_ms),
    wait_ms: optionalNumber(row.wait_ms),
    sentiment: optionalNumber(row.sentiment),
    survey: row.survey_kind
      ? { kind: row.survey_kind, score: optionalNumber(row.survey_score), comment: blankToNull(row.survey_comment) }
      : null,
    agent_id: blankToNull(row.agent_id),
    session_id: blankToNull(row.session_id),
    attributes: row.attributes ?? {},
  };
}

function signalFromRow(row: SignalRow): SignalView {
  return {
    signal_id: row.signal_id,
    type: row.type,
    weight: Number(row.weight),
    event_id: row.event_id,
    occurred_at: microsToIso(Number(row.occurred_us)),
    channel: blankToNull(row.channel),
    touchpoint: blankToNull(row.touchpoint),
    journey: blankToNull(row.journey),
    stage: blankToNull(row.stage),
    explanation: row.explanation,
    rules_version: blankToNull(row.rules_version),
  };
}

/** Reads the processor's state hash (DESIGN §4) into the API's shape; null when Redis has nothing for the customer. */
export function liveStateFromHash(
  hash: Record<string, string>,
  nowMicros: number,
  halfLifeMs: number,
): LiveState | null {
  if (Object.keys(hash).length === 0) return null;
  const storedScore = Number(hash.score ?? 0) || 0;
  const scoreAt = toMicros(hash.score_at);
  const reasons: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('reason:')) reasons[field.slice('reason:'.length)] = Number(value) || 0;
  }
  return {
    events: Number(hash.events ?? 0) || 0,
    first_occurred_at: optionalMicrosToIso(hash.first_occurred_at),
    last_occurred_at: optionalMicrosToIso(hash.last_occurred_at),
    last_event_id: blankToNull(hash.last_event_id),
    last_channel: blankToNull(hash.last_channel),
    last_touchpoint: blankToNull(hash.last_touchpoint),
    // A score_at in the future (clock skew between event time and this host) must not grow the score.
    score: scoreAt === null ? storedScore : decayedScore(storedScore, scoreAt, Math.max(nowMicros, scoreAt), halfLifeMs),
    score_at_last_update: storedScore,
    score_at: scoreAt === null ? null : microsToIso(scoreAt),
    level: hash.level || 'none',
    last_alert_id: blankToNull(hash.last_alert_id),
    last_alert_at: optionalMicrosToIso(hash.last_alert_at),
    reasons,
  };
}

export async function queryJourney(
  deps: { clickhouse: ClickHouseClient; redis: Redis; halfLifeMs: number },
  request: JourneyRequest,
  nowMicros: number,
): Promise<JourneyResult> {
  const params = {
    customer_id: request.customerId,
    before_us: request.beforeMicros ?? noUpperBoundMicros,
    limit: request.limit,
  };
  const run = async <T>(query: string) =>
    (await deps.clickhouse.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  const [timelineRows, signalRows, alertRows, stateHash] = await Promise.all([
    run<TimelineRow>(timelineSql),
    run<SignalRow>(signalsSql),
    run<AlertRow>(customerAlertsSql),
    deps.redis.hgetall(customerStateKey(request.customerId)),
  ]);
  const live = liveStateFromHash(stateHash, nowMicros, deps.halfLifeMs);
  if (!live && timelineRows.length === 0 && signalRows.length === 0 && alertRows.length === 0) {
    // An empty page may only mean `before` is older than the customer's first event.
    const exists = request.beforeMicros !== undefined && (await run<{ '1': number }>(customerExistsSql)).length > 0;
    if (!exists) throw new ApiError(404, 'CUSTOMER_NOT_FOUND', `no touchpoints or live state for customer ${JSON.stringify(request.customerId)}`);
  }
  const timeline = timelineRows.map(timelineEntryFromRow);
  const last = timeline.at(-1);
  return {
    customer_id: request.customerId,
    live,
    timeline,
    next_before: timeline.length === request.limit && last ? last.occurred_at : null,
    signals: signalRows.map(signalFromRow),
    alerts: alertRows.map(alertFromRow),
  };
}
