// One customer's journey: the stored timeline, signals and alerts from ClickHouse plus the live state the processor
// keeps in Redis (which is ahead of ClickHouse by the sink's lag, and is where the decayed score lives).
import type { ClickHouseClient, SignalColumns, TouchpointColumns } from '@touchstream/clickhouse';
import type { Cluster, Redis } from 'ioredis';
import { customerStateKey, decayedScore } from '@touchstream/contracts';
import { alertFromRow, alertColumnsSql, type AlertRow, type AlertView } from '../alerts/alerts.ts';
import { ApiError, invalidParameter } from '../shared/errors.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso, optionalMicrosToIso, toMicros } from '../shared/time.ts';

interface SurveyView {
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
  /** 'given' (sent with the touchpoint) or 'derived' (scored from its text); null without a sentiment. */
  sentiment_source: string | null;
  text: string | null;
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
  /** The processor's repeat-contact memory, per contact reason code. */
  reasons: Record<string, ReasonState>;
  /** The live churn-risk score (docs/architecture.md §22): null until the processor has scored the customer with a model. */
  churn_risk: { score: number; band: string; model_version: string | null } | null;
}

/**
 * What the processor remembers of a customer's contacts about one reason (its repeat_contact rule): the hash fields
 * `reason_streak:<reason>` and `reason_last_at:<reason>` (services/processor/src/apply-touchpoints.lua).
 */
export interface ReasonState {
  /**
   * Contacts in the current streak: each within the repeat-contact window of the one before (1 = no repeat). As of
   * the last contact: a later contact outside the window starts a new streak.
   */
  streak: number;
  /** Event time of the latest customer-initiated contact about the reason. */
  last_contact_at: string | null;
}

/** One entry of the interleaved timeline: a touchpoint, a weak signal or an alert, at its event time. */
type JourneyEntry =
  | { kind: 'touchpoint'; at: string; touchpoint: TimelineEntry }
  | { kind: 'signal'; at: string; signal: SignalView }
  | { kind: 'alert'; at: string; alert: AlertView };

export interface JourneyResult {
  customer_id: string;
  live: LiveState | null;
  /** Touchpoints, signals and alerts interleaved, newest first (at the same instant: alert, signal, touchpoint). */
  entries: JourneyEntry[];
  /** Pass as `cursor` to get the next (older) page; null when this page is the last. */
  next_cursor: string | null;
  /** This page's entries split by kind, newest first. */
  timeline: TimelineEntry[];
  signals: SignalView[];
  alerts: AlertView[];
}

interface JourneyRequest {
  customerId: string;
  limit: number;
  /** From the previous page's next_cursor. */
  cursor?: string;
}

/**
 * Position in the interleaved order: (event time, kind rank, id), compared as a tuple, newest first. Ties in time
 * are broken by kind and id, so a page boundary between two entries of the same microsecond loses neither.
 */
interface JourneyCursor {
  atMicros: number;
  rank: number;
  id: string;
}

const kindRank = { touchpoint: 0, signal: 1, alert: 2 } as const;

function encodeJourneyCursor(c: JourneyCursor): string {
  return Buffer.from(JSON.stringify([c.atMicros, c.rank, c.id])).toString('base64url');
}

/** Decodes a cursor; throws a 400 for anything that is not one this API produced. */
function decodeJourneyCursor(text: string): JourneyCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) && value.length === 3 &&
      Number.isSafeInteger(value[0]) && [0, 1, 2].includes(value[1] as number) && typeof value[2] === 'string'
    ) {
      return { atMicros: value[0] as number, rank: value[1] as number, id: value[2] };
    }
  } catch {
    // fall through to the 400
  }
  throw invalidParameter(`cursor must be the next_cursor of a previous page (got ${JSON.stringify(text.slice(0, 80))})`);
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
// before the background merge has; reading by customer keeps it to the customer's own granules. The plain time
// bound lets ClickHouse skip granules; the tuple comparison is the exact cursor position.
/** One page of a customer's rows of `table` older than the cursor, newest first, with the kind's fixed rank. */
const customerPageSql = (columns: string, table: string, time: string, id: string, rank: number) => `
SELECT ${columns}
FROM ${table} FINAL
WHERE customer_id = {customer_id:String}
  AND ${time} <= fromUnixTimestamp64Micro({cursor_us:Int64}, 'UTC')
  AND (toUnixTimestamp64Micro(${time}), ${rank}, ${id}) < ({cursor_us:Int64}, {cursor_rank:UInt8}, {cursor_id:String})
ORDER BY ${time} DESC, ${id} DESC
LIMIT {limit:UInt32}
${querySettingsSql}`;

const timelineSql = customerPageSql(
  `event_id, toUnixTimestamp64Micro(occurred_at) AS occurred_us, toUnixTimestamp64Micro(received_at) AS received_us,
  channel, touchpoint, initiator, journey, stage, reason, outcome, duration_ms, wait_ms, sentiment, sentiment_source, text,
  survey_kind, survey_score, survey_comment, agent_id, session_id, attributes`,
  'touchpoints',
  'occurred_at',
  'event_id',
  kindRank.touchpoint,
);

const signalsSql = customerPageSql(
  `signal_id, type, weight, event_id, toUnixTimestamp64Micro(occurred_at) AS occurred_us,
  channel, touchpoint, journey, stage, explanation, rules_version`,
  'signals',
  'occurred_at',
  'signal_id',
  kindRank.signal,
);

const customerAlertsSql = customerPageSql(alertColumnsSql, 'alerts', 'at', 'alert_id', kindRank.alert);

const customerExistsSql = `
SELECT 1 FROM touchpoints WHERE customer_id = {customer_id:String} LIMIT 1 ${querySettingsSql}`;

/** Far enough in the future to mean "no upper bound" while staying inside DateTime64(6)'s range. */
const noUpperBoundMicros = Date.UTC(2200, 0, 1) * 1000;

function timelineEntryFromRow(row: TimelineRow): TimelineEntry {
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
    sentiment_source: blankToNull(row.sentiment_source),
    text: blankToNull(row.text),
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

// The processor's per-reason fields of the state hash (apply-touchpoints.lua, repeat contact).
const reasonStreakPrefix = 'reason_streak:';
const reasonLastAtPrefix = 'reason_last_at:';

/** Reads the processor's state hash (docs/architecture.md §4) into the API's shape; null when Redis has nothing for the customer. */
export function liveStateFromHash(
  hash: Record<string, string>,
  nowMicros: number,
  halfLifeMs: number,
): LiveState | null {
  if (Object.keys(hash).length === 0) return null;
  const storedScore = Number(hash.score ?? 0) || 0;
  const scoreAt = toMicros(hash.score_at);
  // A Map, not an object: reason codes come from events, and one named __proto__ must stay a reason.
  const reasons = new Map<string, ReasonState>();
  const reasonOf = (reason: string) => {
    let state = reasons.get(reason);
    if (!state) reasons.set(reason, (state = { streak: 1, last_contact_at: null }));
    return state;
  };
  for (const [field, value] of Object.entries(hash)) {
    // Without a streak field the script counts the streak as 1 (`tonumber(rs[2]) or 1`); both are written together.
    if (field.startsWith(reasonStreakPrefix)) reasonOf(field.slice(reasonStreakPrefix.length)).streak = Number(value) || 1;
    else if (field.startsWith(reasonLastAtPrefix)) reasonOf(field.slice(reasonLastAtPrefix.length)).last_contact_at = optionalMicrosToIso(value);
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
    // fromEntries defines own properties, so a reason named __proto__ is one too.
    reasons: Object.fromEntries(reasons),
    churn_risk: hash.churn_score !== undefined && Number.isFinite(Number(hash.churn_score)) && hash.churn_band
      ? { score: Number(hash.churn_score), band: hash.churn_band, model_version: blankToNull(hash.churn_model) }
      : null,
  };
}

interface Positioned {
  position: JourneyCursor;
  entry: JourneyEntry;
}

/** Newest first: larger (time, rank, id) first. */
function byPositionDescending(a: Positioned, b: Positioned): number {
  const x = a.position, y = b.position;
  if (x.atMicros !== y.atMicros) return y.atMicros - x.atMicros;
  if (x.rank !== y.rank) return y.rank - x.rank;
  return x.id < y.id ? 1 : x.id > y.id ? -1 : 0;
}

export async function queryJourney(
  deps: { clickhouse: ClickHouseClient; redis: Redis | Cluster; halfLifeMs: number },
  request: JourneyRequest,
  nowMicros: number,
): Promise<JourneyResult> {
  const cursor = request.cursor === undefined ? undefined : decodeJourneyCursor(request.cursor);
  const params = {
    customer_id: request.customerId,
    cursor_us: cursor?.atMicros ?? noUpperBoundMicros,
    cursor_rank: cursor?.rank ?? 255,
    cursor_id: cursor?.id ?? '',
    // One more than a page from each source: if the merged list is longer than a page, there is a next page.
    limit: request.limit + 1,
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
    // An empty page may only mean the cursor is past the customer's oldest entry.
    const exists = cursor !== undefined && (await run<{ '1': number }>(customerExistsSql)).length > 0;
    if (!exists) throw new ApiError(404, 'CUSTOMER_NOT_FOUND', `no touchpoints or live state for customer ${JSON.stringify(request.customerId)}`);
  }
  const merged: Positioned[] = [
    ...timelineRows.map((row) => {
      const touchpoint = timelineEntryFromRow(row);
      return { position: { atMicros: Number(row.occurred_us), rank: kindRank.touchpoint, id: row.event_id }, entry: { kind: 'touchpoint' as const, at: touchpoint.occurred_at, touchpoint } };
    }),
    ...signalRows.map((row) => {
      const signal = signalFromRow(row);
      return { position: { atMicros: Number(row.occurred_us), rank: kindRank.signal, id: row.signal_id }, entry: { kind: 'signal' as const, at: signal.occurred_at, signal } };
    }),
    ...alertRows.map((row) => {
      const alert = alertFromRow(row);
      return { position: { atMicros: Number(row.at_us), rank: kindRank.alert, id: row.alert_id }, entry: { kind: 'alert' as const, at: alert.at, alert } };
    }),
  ].sort(byPositionDescending);
  const page = merged.slice(0, request.limit);
  const last = page.at(-1);
  const entries = page.map((p) => p.entry);
  return {
    customer_id: request.customerId,
    live,
    entries,
    next_cursor: merged.length > request.limit && last ? encodeJourneyCursor(last.position) : null,
    timeline: entries.flatMap((e) => (e.kind === 'touchpoint' ? [e.touchpoint] : [])),
    signals: entries.flatMap((e) => (e.kind === 'signal' ? [e.signal] : [])),
    alerts: entries.flatMap((e) => (e.kind === 'alert' ? [e.alert] : [])),
  };
}
