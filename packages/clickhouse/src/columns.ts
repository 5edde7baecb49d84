// Columns of the tables created by migrations/ as rows travel in JSON (the sink writes them, the query API reads
// them). Absent optional dimensions are stored as '' so they can be grouping keys; absent measures are null.
// Ids, timestamps and the Kafka origin are left to each side: they differ in how they are written and read.

/**
 * The descriptive columns of `touchpoints`. `Int64` is how its Int64 columns travel: a number when inserted, a
 * number or a quoted string when read back (a server quotes 64-bit integers in JSON, chDB does not).
 */
export interface TouchpointColumns<Int64 = number> {
  channel: string;
  touchpoint: string;
  initiator: string;
  journey: string;
  stage: string;
  reason: string;
  outcome: string;
  duration_ms: Int64 | null;
  wait_ms: Int64 | null;
  sentiment: number | null;
  survey_kind: string;
  survey_score: number | null;
  survey_comment: string;
  agent_id: string;
  session_id: string;
  attributes: Record<string, string>;
  /** Migration 009: the touchpoint's text ('' without), and 'given' | 'derived' | '' (no sentiment). */
  text: string;
  sentiment_source: string;
}

/** The descriptive columns of `signals`. */
export interface SignalColumns {
  signal_id: string;
  type: string;
  weight: number;
  event_id: string;
  channel: string;
  touchpoint: string;
  journey: string;
  stage: string;
  explanation: string;
  rules_version: string;
}
