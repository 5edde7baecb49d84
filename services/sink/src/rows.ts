// Contract records → ClickHouse rows (columns as created by packages/clickhouse/migrations). Absent optional
// dimensions become '' so they can be grouping keys; absent measures stay null so averages skip them.
import { attributeText, sentimentOf, type Alert, type CustomerProfile, type Signal, type TouchpointEvent } from '@touchstream/contracts';
import { dateTime64FromMicros, type SignalColumns, type TouchpointColumns } from '@touchstream/clickhouse';

/** Where a record was read from; kept on every row to trace it back to Kafka. */
export interface KafkaOrigin {
  partition: number;
  offset: string | number;
}

export interface TouchpointRow extends TouchpointColumns {
  event_id: string;
  customer_id: string;
  occurred_at: string;
  received_at: string;
  kafka_partition: number;
  kafka_offset: number;
  /** The deduplication token of the insert (set by the batch plan; migration 003). */
  insert_token?: string;
}

export interface SignalRow extends SignalColumns {
  customer_id: string;
  occurred_at: string;
  kafka_partition: number;
  kafka_offset: number;
  /** The deduplication token of the insert (set by the batch plan; migration 003). */
  insert_token?: string;
}

export interface AlertSignalRow {
  signal_id: string;
  type: string;
  weight: number;
  event_id: string;
  explanation: string;
}

export interface AlertRow {
  alert_id: string;
  customer_id: string;
  score: number;
  score_before: number;
  level: string;
  signals: AlertSignalRow[];
  triggered_by: string;
  at: string;
  rules_version: string;
  kafka_partition: number;
  kafka_offset: number;
  /** The deduplication token of the insert (set by the batch plan; migration 003). */
  insert_token?: string;
}

/** One profile update (migration 010): attributes as three parallel arrays, 'unset' for a removed one. */
export interface ProfileUpdateRow {
  profile_id: string;
  customer_id: string;
  updated_at: string;
  received_at: string;
  attribute_names: string[];
  attribute_values: string[];
  attribute_kinds: string[];
  kafka_partition: number;
  kafka_offset: number;
  /** The deduplication token of the insert (set by the batch plan). */
  insert_token?: string;
}

/** A record ClickHouse cannot hold as it is; it goes to the dead-letter topic instead of blocking its partition. */
export class UnstorableRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnstorableRecordError';
  }
}

// The 1-minute buckets are DateTime (1970 … 2106); an event time outside would land in a clamped bucket.
const earliestMicros = 0;
const latestMicros = Date.UTC(2106, 0, 1) * 1000;

function eventTime(field: string, micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < earliestMicros || micros >= latestMicros) {
    throw new UnstorableRecordError(`${field} ${micros} is outside 1970-01-01 … 2106-01-01 (epoch microseconds)`);
  }
  return dateTime64FromMicros(micros);
}

function int64OrNull(field: string, value: number | null): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value)) throw new UnstorableRecordError(`${field} ${value} is not an integer`);
  return value;
}

function finiteOrNull(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : value;
}

function finite(field: string, value: number): number {
  if (!Number.isFinite(value)) throw new UnstorableRecordError(`${field} ${value} is not a finite number`);
  return value;
}

function kafkaOffset(origin: KafkaOrigin): number {
  const offset = Number(origin.offset);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new UnstorableRecordError(`Kafka offset ${origin.offset} is not representable`);
  return offset;
}

const noOrigin: KafkaOrigin = { partition: 0, offset: 0 };

export function touchpointRow(event: TouchpointEvent, origin: KafkaOrigin = noOrigin): TouchpointRow {
  const surveyScore = event.survey?.score ?? null;
  if (surveyScore !== null && (!Number.isInteger(surveyScore) || surveyScore < -32768 || surveyScore > 32767)) {
    throw new UnstorableRecordError(`survey score ${surveyScore} does not fit Int16`);
  }
  // Text without a number gets the score the processor gave it for the signals (the same function, deterministic).
  const { sentiment, source } = sentimentOf({ ...event, sentiment: finiteOrNull(event.sentiment) });
  return {
    event_id: event.event_id,
    customer_id: event.customer_id,
    occurred_at: eventTime('occurred_at', event.occurred_at),
    received_at: eventTime('received_at', event.received_at),
    channel: event.channel,
    touchpoint: event.touchpoint,
    initiator: event.initiator,
    journey: event.journey ?? '',
    stage: event.stage ?? '',
    reason: event.reason ?? '',
    outcome: event.outcome ?? '',
    duration_ms: int64OrNull('duration_ms', event.duration_ms),
    wait_ms: int64OrNull('wait_ms', event.wait_ms),
    sentiment,
    survey_kind: event.survey?.kind ?? '',
    survey_score: surveyScore,
    survey_comment: event.survey?.comment ?? '',
    agent_id: event.agent_id ?? '',
    session_id: event.session_id ?? '',
    attributes: event.attributes,
    text: event.text ?? '',
    sentiment_source: source ?? '',
    kafka_partition: origin.partition,
    kafka_offset: kafkaOffset(origin),
  };
}

export function signalRow(signal: Signal, origin: KafkaOrigin = noOrigin): SignalRow {
  return {
    signal_id: signal.signal_id,
    customer_id: signal.customer_id,
    type: signal.type,
    weight: finite('weight', signal.weight),
    event_id: signal.event_id,
    occurred_at: eventTime('occurred_at', signal.occurred_at),
    channel: signal.channel ?? '',
    touchpoint: signal.touchpoint ?? '',
    journey: signal.journey ?? '',
    stage: signal.stage ?? '',
    explanation: signal.explanation,
    rules_version: signal.rules_version ?? '',
    kafka_partition: origin.partition,
    kafka_offset: kafkaOffset(origin),
  };
}

export function alertRow(alert: Alert, origin: KafkaOrigin = noOrigin): AlertRow {
  return {
    alert_id: alert.alert_id,
    customer_id: alert.customer_id,
    score: finite('score', alert.score),
    score_before: finite('score_before', alert.score_before),
    level: alert.level,
    signals: alert.signals.map((s) => ({
      signal_id: s.signal_id,
      type: s.type,
      weight: finite('signals.weight', s.weight),
      event_id: s.event_id,
      explanation: s.explanation,
    })),
    triggered_by: alert.triggered_by,
    at: eventTime('at', alert.at),
    rules_version: alert.rules_version ?? '',
    kafka_partition: origin.partition,
    kafka_offset: kafkaOffset(origin),
  };
}

export function profileRow(profile: CustomerProfile, origin: KafkaOrigin = noOrigin): ProfileUpdateRow {
  // Sorted by name: the same update always makes the same row (and rollup rows), whatever order its map came in.
  const entries = Object.entries(profile.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of entries) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new UnstorableRecordError(`attribute ${name}: ${value} is not a finite number`);
  }
  return {
    profile_id: profile.profile_id,
    customer_id: profile.customer_id,
    updated_at: eventTime('updated_at', profile.updated_at),
    received_at: eventTime('received_at', profile.received_at),
    attribute_names: entries.map(([name]) => name),
    attribute_values: entries.map(([, value]) => (value === null ? '' : attributeText(value))),
    attribute_kinds: entries.map(([, value]) => (value === null ? 'unset' : typeof value)),
    kafka_partition: origin.partition,
    kafka_offset: kafkaOffset(origin),
  };
}
