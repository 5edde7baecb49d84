// GENERATED from /schemas/*.avsc by packages/contracts/src/codegen.ts: do not edit by hand.
// Timestamps (timestamp-micros) are microseconds since the Unix epoch.

export type Initiator = 'customer' | 'company';
export const InitiatorValues = ['customer', 'company'] as const;

export type Outcome = 'started' | 'completed' | 'failed' | 'abandoned' | 'escalated' | 'transferred' | 'resolved' | 'unresolved';
export const OutcomeValues = ['started', 'completed', 'failed', 'abandoned', 'escalated', 'transferred', 'resolved', 'unresolved'] as const;

export type SurveyKind = 'NPS' | 'CSAT' | 'CES';
export const SurveyKindValues = ['NPS', 'CSAT', 'CES'] as const;

export interface Survey {
  kind: SurveyKind;
  /** NPS 0-10, CSAT 1-5, CES 1-7. */
  score: number;
  comment: null | string;
}

/** One interaction between a customer and the company, initiated by either side. */
export interface TouchpointEvent {
  /** Idempotency key; client-generated (UUID/ULID) or assigned by ingest. */
  event_id: string;
  /** Stitched customer identity; Kafka key. */
  customer_id: string;
  /** Event time. */
  occurred_at: number;
  /** Set by ingest. */
  received_at: number;
  /** web, mobile_app, ivr, phone, chat, email, sms, social, store, branch, back_office, ... */
  channel: string;
  /** What happened, e.g. checkout_page, billing_inquiry_call. */
  touchpoint: string;
  initiator: Initiator;
  /** Journey type, e.g. personal_data_verification. */
  journey: null | string;
  /** awareness, consideration, purchase, onboarding, usage, support, advocacy, ... */
  stage: null | string;
  /** Reason code, e.g. billing_dispute. */
  reason: null | string;
  outcome: null | Outcome;
  /** Handling time. */
  duration_ms: null | number;
  /** Queue or wait time. */
  wait_ms: null | number;
  /** -1 (negative) ... 1 (positive), from speech/text analytics. */
  sentiment: null | number;
  survey: null | Survey;
  agent_id: null | string;
  session_id: null | string;
  /** Free-form, bounded size. */
  attributes: Record<string, string>;
  /** What the customer said or wrote: a chat or email message, a call-transcript snippet. Scored for sentiment when sentiment is null (added in v2). */
  text: null | string;
}

/** A weak signal of negative experience detected by the processor from one touchpoint. */
export interface Signal {
  /** Deterministic: derived from event_id and type, so a replay re-emits the same id. */
  signal_id: string;
  customer_id: string;
  /** survey_detractor, negative_sentiment, repeat_contact, ... */
  type: string;
  weight: number;
  /** The touchpoint that raised it. */
  event_id: string;
  occurred_at: number;
  channel: null | string;
  touchpoint: null | string;
  journey: null | string;
  stage: null | string;
  explanation: string;
  rules_version: null | string;
}

export interface AlertSignal {
  signal_id: string;
  type: string;
  weight: number;
  event_id: string;
  explanation: string;
}

/** Raised when a customer's decayed weak-signal score crosses a level. */
export interface Alert {
  /** Deterministic: derived from the triggering event and level. */
  alert_id: string;
  customer_id: string;
  /** Score after the triggering signals. */
  score: number;
  score_before: number;
  /** watch, at_risk, critical */
  level: string;
  signals: Array<AlertSignal>;
  /** event_id of the touchpoint that crossed the level. */
  triggered_by: string;
  /** Event time of the triggering touchpoint. */
  at: number;
  rules_version: null | string;
  /** Journey of the triggering touchpoint (added in v2). */
  journey: null | string;
  /** Channel of the triggering touchpoint (added in v2). */
  channel: null | string;
}

/** Input that could not be accepted or processed, kept with its reasons for inspection and replay. */
export interface DeadLetter {
  dead_letter_id: string;
  /** Who sent it: the write key's source name, or the consumer group for poison records. */
  source: string;
  /** ingest, processor, sink */
  stage: string;
  /** The raw payload as received. */
  payload: Buffer;
  content_type: null | string;
  reasons: Array<string>;
  received_at: number;
  origin_topic: null | string;
  origin_partition: null | number;
  origin_offset: null | string;
  /** Position in the HTTP batch. */
  request_index: null | number;
}

/** A customer's churn-risk score from the processor's live model, as of their latest touchpoint (docs/architecture.md §22). */
export interface ChurnScore {
  customer_id: string;
  /** Probability of churn within the model's horizon, 0…1. */
  score: number;
  /** low, medium, high (the rules' churn.bands). */
  band: string;
  /** The customer's latest touchpoint when scored. */
  event_id: string;
  /** Event time of that touchpoint. */
  scored_at: number;
  model_version: string;
  rules_version: null | string;
}

/** Profile attributes of one customer as of updated_at (a partial update: attributes not named keep their values), from the customer's own profile endpoint or a CRM batch. */
export interface CustomerProfile {
  /** Idempotency key; client-given, or derived by ingest from the source and the content. */
  profile_id: string;
  /** Stitched customer identity; Kafka key. */
  customer_id: string;
  /** When these values became true (the CRM's change time); the latest per attribute wins. Defaults to the time ingest received them. */
  updated_at: number;
  /** Set by ingest. */
  received_at: number;
  /** Attribute name to value; null removes the attribute. */
  attributes: Record<string, null | string | number | boolean>;
}
