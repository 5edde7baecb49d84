// The weak-signal types the processor detects (docs/architecture.md §4): recorded on every signal
// (`signals.v1`, ClickHouse `signals.type`) and named in the rules file.
export const signalTypes = [
  'repeat_contact',
  'channel_hopping',
  'self_service_failure',
  'sla_breach',
  'negative_sentiment',
  'sentiment_decline',
  'survey_detractor',
  'escalation',
  'complaint',
  'journey_not_completed',
  'repeated_error',
] as const;
export type SignalType = (typeof signalTypes)[number];
