// The signal catalogue as a specification (docs/architecture.md §4, issue 3): a plain, independent reading of each rule over
// one customer's touchpoints in event-time order. The quality run uses it as ground truth, so precision and
// recall measure the engine against the written rules, not against the generator's intentions: whatever a
// generated story legitimately triggers (a sentiment ≤ −0.5 inside a decline story, an IVR `transferred`)
// is labelled too. The generator's unit tests check that each story labels what it was built to label.
// Where the catalogue leaves a choice open, this follows the engine's documented one (README "Weak signals"):
// channel_hopping and repeated_error rest for a window after firing ("not again until window after that
// firing": exactly one window later they may fire again, while windows themselves are inclusive); only
// customer-initiated touchpoints count as channels; touchpoints beyond the 30-day horizon may record signals but raise no alert (the run
// counts those apart and fails on any alert they raise).

// The names are the engine's (the contract); the rules below are this file's own reading of them.
import { signalTypes, type SignalType } from '@touchstream/contracts';
export const QUALITY_SIGNAL_TYPES = signalTypes;
export type QualitySignalType = SignalType;

export const ASSISTED_CHANNELS = new Set(['phone', 'chat', 'store', 'branch', 'agent', 'back_office']);
export const SELF_SERVICE_CHANNELS = new Set(['web', 'mobile_app', 'ivr']);
export const ERROR_TOUCHPOINTS = new Set(['payment_failed', 'login_failed', 'error_page', 'otp_failed']);
export const COMPLAINT_REASONS = new Set(['complaint', 'formal_complaint', 'cancellation_threat']);
/** Wait and handling SLAs per channel, ms; a value over them is a breach. */
export const CHANNEL_SLAS: Record<string, { waitMs: number; handlingMs: number }> = {
  phone: { waitMs: 120_000, handlingMs: 600_000 },
  chat: { waitMs: 60_000, handlingMs: 900_000 },
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface CatalogueRules {
  repeatContactWindowMs: number;
  channelHoppingWindowMs: number;
  channelHoppingMinChannels: number;
  selfServiceFailureWindowMs: number;
  negativeSentimentMax: number;
  sentimentDeclineMinDrop: number;
  repeatedErrorWindowMs: number;
  repeatedErrorMin: number;
  /** Events older than this before processing raise nothing. */
  backfillHorizonMs: number;
  /** Expected duration of a journey (ms) before `journey_not_completed` fires; default 48 h. */
  journeyExpectedMs: (journey: string) => number;
}

export const defaultCatalogueRules: CatalogueRules = {
  repeatContactWindowMs: 7 * DAY,
  channelHoppingWindowMs: DAY,
  channelHoppingMinChannels: 3,
  selfServiceFailureWindowMs: HOUR,
  negativeSentimentMax: -0.5,
  sentimentDeclineMinDrop: 0.5,
  repeatedErrorWindowMs: HOUR,
  repeatedErrorMin: 2,
  backfillHorizonMs: 30 * DAY,
  journeyExpectedMs: () => 48 * HOUR,
};

/** The fields of a touchpoint the catalogue reads; `occurredAtMs` is event time. */
export interface CatalogueTouchpoint {
  event_id: string;
  occurredAtMs: number;
  channel: string;
  touchpoint: string;
  initiator: 'customer' | 'company';
  journey?: string;
  reason?: string;
  outcome?: string;
  duration_ms?: number;
  wait_ms?: number;
  sentiment?: number;
  survey?: { kind: 'NPS' | 'CSAT' | 'CES'; score: number };
}

/** One expected signal: its type and the event it fires on (for the timer: the started event, and the due time). */
export interface ExpectedSignal {
  type: QualitySignalType;
  event_id: string;
  /** journey_not_completed only: wall-clock time (epoch ms) at which it becomes due. */
  dueAtMs?: number;
}

export function isDetractor(survey: CatalogueTouchpoint['survey']): boolean {
  if (!survey) return false;
  if (survey.kind === 'NPS') return survey.score <= 6;
  if (survey.kind === 'CSAT') return survey.score <= 2;
  return survey.score >= 5;
}

/** Events beyond the backfill horizon when processed at `processedAtMs`: they may record signals but must raise no alert. */
export function isBackfill(occurredAtMs: number, processedAtMs: number, rules: CatalogueRules = defaultCatalogueRules): boolean {
  return occurredAtMs < processedAtMs - rules.backfillHorizonMs;
}

/**
 * The live signals a customer's touchpoints raise, in event order, when processed at `processedAtMs` (wall clock;
 * decides backfill). Touchpoints must be given in event-time order (the order they are posted in).
 */
export function expectedSignals(touchpoints: readonly CatalogueTouchpoint[], processedAtMs: number, rules: CatalogueRules = defaultCatalogueRules): ExpectedSignal[] {
  const out: ExpectedSignal[] = [];
  const lastContactByReason = new Map<string, number>();
  const channelsByGroup = new Map<string, Array<{ channel: string; at: number }>>();
  /** Per journey/reason: when channel_hopping last fired (it rests for a window after firing). */
  const hoppingFiredAt = new Map<string, number>();
  let repeatedErrorFiredAt: number | undefined;
  const selfServiceFailures: number[] = [];
  const sentiments: number[] = [];
  const errors: number[] = [];
  const openJourneys = new Map<string, { event_id: string; dueAtMs: number }>();

  for (const tp of touchpoints) {
    const t = tp.occurredAtMs;
    const live = !isBackfill(t, processedAtMs, rules);
    const fire = (type: QualitySignalType) => {
      if (live) out.push({ type, event_id: tp.event_id });
    };
    const customerContact = tp.initiator === 'customer';

    // Survey, sentiment and outcome signals of the touchpoint alone.
    if (isDetractor(tp.survey)) fire('survey_detractor');
    if (tp.sentiment !== undefined && tp.sentiment <= rules.negativeSentimentMax) fire('negative_sentiment');
    if (tp.reason !== undefined && COMPLAINT_REASONS.has(tp.reason)) fire('complaint');
    if (tp.outcome === 'escalated' || tp.outcome === 'transferred') fire('escalation');
    const sla = CHANNEL_SLAS[tp.channel];
    if (sla && ((tp.wait_ms ?? 0) > sla.waitMs || (tp.duration_ms ?? 0) > sla.handlingMs)) fire('sla_breach');

    // repeat_contact: same reason as a previous customer-initiated contact within the window.
    if (customerContact && tp.reason !== undefined) {
      const previous = lastContactByReason.get(tp.reason);
      if (previous !== undefined && t - previous <= rules.repeatContactWindowMs) fire('repeat_contact');
      lastContactByReason.set(tp.reason, t);
    }

    // channel_hopping: distinct channels of the customer's own touchpoints within one journey (or reason)
    // within the window; fires when the count reaches the threshold, then rests for a window.
    const group = tp.journey !== undefined ? `journey:${tp.journey}` : tp.reason !== undefined ? `reason:${tp.reason}` : undefined;
    if (group !== undefined && customerContact) {
      const seen = (channelsByGroup.get(group) ?? []).filter((c) => t - c.at <= rules.channelHoppingWindowMs);
      const before = new Set(seen.map((c) => c.channel)).size;
      seen.push({ channel: tp.channel, at: t });
      channelsByGroup.set(group, seen);
      const after = new Set(seen.map((c) => c.channel)).size;
      const firedAt = hoppingFiredAt.get(group);
      const resting = firedAt !== undefined && t - firedAt < rules.channelHoppingWindowMs;
      if (before < rules.channelHoppingMinChannels && after >= rules.channelHoppingMinChannels && !resting) {
        hoppingFiredAt.set(group, t);
        fire('channel_hopping');
      }
    }

    // self_service_failure: a failed/abandoned self-service step, then a customer-initiated assisted contact within the window.
    if (customerContact && ASSISTED_CHANNELS.has(tp.channel)) {
      const recent = selfServiceFailures.filter((f) => t - f <= rules.selfServiceFailureWindowMs);
      if (recent.length) fire('self_service_failure');
      // One assisted contact answers the failures before it.
      selfServiceFailures.length = 0;
    }
    if (SELF_SERVICE_CHANNELS.has(tp.channel) && (tp.outcome === 'failed' || tp.outcome === 'abandoned')) selfServiceFailures.push(t);

    // sentiment_decline over the last three touchpoints with a sentiment.
    if (tp.sentiment !== undefined) {
      sentiments.push(tp.sentiment);
      if (sentiments.length > 3) sentiments.shift();
      if (sentiments.length === 3) {
        const [a, b, c] = sentiments as [number, number, number];
        if (a > b && b > c && a - c >= rules.sentimentDeclineMinDrop - 1e-9) fire('sentiment_decline');
      }
    }

    // repeated_error: the touchpoint that makes it ≥ N error touchpoints within the window, then it rests for a window.
    if (ERROR_TOUCHPOINTS.has(tp.touchpoint)) {
      errors.push(t);
      const recent = errors.filter((e) => t - e <= rules.repeatedErrorWindowMs);
      const resting = repeatedErrorFiredAt !== undefined && t - repeatedErrorFiredAt < rules.repeatedErrorWindowMs;
      if (recent.length >= rules.repeatedErrorMin && !resting) {
        repeatedErrorFiredAt = t;
        fire('repeated_error');
      }
    }

    // journey_not_completed timers.
    if (tp.journey !== undefined) {
      if (tp.outcome === 'started') {
        if (live) openJourneys.set(tp.journey, { event_id: tp.event_id, dueAtMs: t + rules.journeyExpectedMs(tp.journey) });
      } else if (tp.outcome === 'completed' || tp.outcome === 'resolved') {
        openJourneys.delete(tp.journey);
      }
    }
  }
  for (const open of openJourneys.values()) out.push({ type: 'journey_not_completed', event_id: open.event_id, dueAtMs: open.dueAtMs });
  return out;
}
