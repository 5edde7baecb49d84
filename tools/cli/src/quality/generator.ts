// Labelled journeys for the detection-quality run: one story per customer, each built to raise one signal
// type (a positive) or to come close without crossing its threshold (a near miss), plus ordinary happy
// journeys, a few multi-signal "bad day" stories and stories older than the backfill horizon. Stories are
// relative in time (their last touchpoint at 0); `materializeStory` anchors one at a wall-clock time when
// it is posted, so every story ends "now" however long the run takes, and labels it with the catalogue.
import { seededRng, type DemoEvent, type Rng } from '../demo/demo.ts';
import { expectedSignals, isBackfill, type CatalogueRules, type CatalogueTouchpoint, type ExpectedSignal, type QualitySignalType } from './catalogue.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The journey whose expected duration the quality run shortens (rules file), so its timers fire during the run. */
export const TIMED_JOURNEY = 'quality_account_opening';

/** A touchpoint of a story, `atMs` relative to the story's end (≤ 0). */
export interface StoryStep {
  atMs: number;
  event: Omit<DemoEvent, 'customer_id' | 'occurred_at'>;
}

export interface Story {
  customer_id: string;
  kind: StoryKind;
  /** The signal type the story is about (positive or near miss), if any. */
  about?: QualitySignalType;
  steps: StoryStep[];
}

/** A touchpoint as posted, with its client-assigned event_id. */
export type QualityEvent = DemoEvent & { event_id: string };

export interface MaterializedStory {
  story: Story;
  events: QualityEvent[];
  /** Live signals the story must raise. */
  labels: ExpectedSignal[];
  /** Its events beyond the backfill horizon: whatever they record, they must raise no alert. */
  backfillEventIds: string[];
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const between = (rng: Rng, min: number, max: number) => Math.round(min + rng() * (max - min));
/** A sentiment in [min, max] with two decimals, so thresholds are compared on exact-looking values. */
const sentimentBetween = (rng: Rng, min: number, max: number) => Math.round((min + rng() * (max - min)) * 100) / 100;

type Step = { afterMs: number; event: StoryStep['event'] };

/** Forward steps (delay after the previous) → steps relative to the end. */
function endingAtZero(steps: Step[]): StoryStep[] {
  let t = 0;
  const absolute = steps.map((s) => ({ at: (t += s.afterMs), event: s.event }));
  return absolute.map((s) => ({ atMs: s.at - t, event: s.event }));
}

/**
 * A delay in [min, max], or — one time in five — exactly `edge`: the window itself for positives (windows
 * are inclusive) or one second past it for near misses, so the thresholds are tested where they are.
 */
const gap = (rng: Rng, min: number, max: number, edge: number) => (rng() < 0.2 ? edge : between(rng, min, max));

const agent = (rng: Rng) => `agent-${between(rng, 1, 60)}`;
const neutralSentiment = (rng: Rng) => sentimentBetween(rng, -0.2, 0.8);

// Every story builder gets the timer expected duration (ms) so timer stories can place their due times.
type Builder = (rng: Rng, ctx: { timerExpectedMs: number }) => Step[];

const builders = {
  // ── survey_detractor ──────────────────────────────────────────────────────────────────────────────
  detractor: (rng) => {
    const survey = pick(rng, [
      { kind: 'NPS' as const, score: between(rng, 0, 6) },
      { kind: 'CSAT' as const, score: between(rng, 1, 2) },
      { kind: 'CES' as const, score: between(rng, 5, 7) },
    ]);
    return [
      { afterMs: 0, event: { channel: 'web', touchpoint: 'order_confirmed', initiator: 'customer', journey: 'online_checkout', stage: 'purchase', outcome: 'completed' } },
      { afterMs: between(rng, 10 * MINUTE, 2 * DAY), event: { channel: 'email', touchpoint: `${survey.kind.toLowerCase()}_survey`, initiator: 'customer', survey } },
    ];
  },
  detractor_near: (rng) => {
    const survey = pick(rng, [
      { kind: 'NPS' as const, score: between(rng, 7, 8) },
      { kind: 'CSAT' as const, score: 3 },
      { kind: 'CES' as const, score: 4 },
    ]);
    return [
      { afterMs: 0, event: { channel: 'web', touchpoint: 'order_confirmed', initiator: 'customer', journey: 'online_checkout', stage: 'purchase', outcome: 'completed' } },
      { afterMs: between(rng, 10 * MINUTE, 2 * DAY), event: { channel: 'email', touchpoint: `${survey.kind.toLowerCase()}_survey`, initiator: 'customer', survey } },
    ];
  },

  // ── negative_sentiment ────────────────────────────────────────────────────────────────────────────
  negative_sentiment: (rng) => [
    { afterMs: 0, event: { channel: 'chat', touchpoint: 'delivery_chat', initiator: 'customer', journey: 'delivery_support', stage: 'support', reason: 'late_delivery', outcome: 'resolved', wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: between(rng, 2 * MINUTE, 10 * MINUTE), sentiment: pick(rng, [-0.5, sentimentBetween(rng, -0.95, -0.5)]), agent_id: agent(rng) } },
  ],
  negative_sentiment_near: (rng) => [
    { afterMs: 0, event: { channel: 'chat', touchpoint: 'delivery_chat', initiator: 'customer', journey: 'delivery_support', stage: 'support', reason: 'late_delivery', outcome: 'resolved', wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: between(rng, 2 * MINUTE, 10 * MINUTE), sentiment: pick(rng, [-0.49, sentimentBetween(rng, -0.45, -0.3)]), agent_id: agent(rng) } },
  ],

  // ── repeat_contact ────────────────────────────────────────────────────────────────────────────────
  repeat_contact: (rng) => {
    const reason = pick(rng, ['billing_dispute', 'roaming_charges', 'contract_change', 'broadband_outage']);
    return [
      { afterMs: 0, event: { channel: 'phone', touchpoint: 'support_call', initiator: 'customer', reason, outcome: 'unresolved', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: between(rng, 2 * MINUTE, 9 * MINUTE), agent_id: agent(rng) } },
      { afterMs: gap(rng, 2 * HOUR, 6.5 * DAY, 7 * DAY), event: { channel: 'phone', touchpoint: 'support_call', initiator: 'customer', reason, outcome: 'resolved', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: between(rng, 2 * MINUTE, 9 * MINUTE), agent_id: agent(rng) } },
    ];
  },
  repeat_contact_near: (rng) => {
    const reason = pick(rng, ['billing_dispute', 'roaming_charges', 'contract_change', 'broadband_outage']);
    const variant = rng();
    const call = (r: string, initiator: 'customer' | 'company') => ({ channel: 'phone', touchpoint: initiator === 'company' ? 'callback_call' : 'support_call', initiator, reason: r, outcome: 'resolved', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: between(rng, 2 * MINUTE, 9 * MINUTE), agent_id: agent(rng) });
    if (variant < 0.5) {
      // The same reason again, but after the 7-day window.
      return [
        { afterMs: 0, event: call(reason, 'customer') },
        { afterMs: gap(rng, 8 * DAY, 12 * DAY, 7 * DAY + SECOND), event: call(reason, 'customer') },
      ];
    }
    if (variant < 0.75) {
      // Within the window, but about something else.
      return [
        { afterMs: 0, event: call(reason, 'customer') },
        { afterMs: between(rng, 1 * HOUR, 3 * DAY), event: call(`${reason}_followup_question`, 'customer') },
      ];
    }
    // Within the window, but the company called back (not the customer chasing).
    return [
      { afterMs: 0, event: call(reason, 'customer') },
      { afterMs: between(rng, 1 * HOUR, 3 * DAY), event: call(reason, 'company') },
    ];
  },

  // ── channel_hopping ───────────────────────────────────────────────────────────────────────────────
  channel_hopping: (rng) => {
    const journey = pick(rng, ['address_change', 'plan_upgrade', 'card_replacement']);
    const [a, b, c] = pick(rng, [['web', 'mobile_app', 'chat'], ['mobile_app', 'web', 'phone'], ['web', 'chat', 'store']] as const);
    // One time in five the third channel comes exactly 24 h after the first (still within the window).
    const first = between(rng, 10 * MINUTE, 8 * HOUR);
    const second = rng() < 0.2 ? DAY - first : between(rng, 10 * MINUTE, 8 * HOUR);
    return [
      { afterMs: 0, event: { channel: a, touchpoint: `${journey}_page`, initiator: 'customer', journey, stage: 'service' } },
      { afterMs: first, event: { channel: b, touchpoint: `${journey}_view`, initiator: 'customer', journey, stage: 'service' } },
      { afterMs: second, event: assistedStep(rng, c, journey) },
    ];
  },
  channel_hopping_near: (rng) => {
    const journey = pick(rng, ['address_change', 'plan_upgrade', 'card_replacement']);
    if (rng() < 0.5) {
      // Back and forth between two channels only.
      return [
        { afterMs: 0, event: { channel: 'web', touchpoint: `${journey}_page`, initiator: 'customer', journey, stage: 'service' } },
        { afterMs: between(rng, 10 * MINUTE, 4 * HOUR), event: assistedStep(rng, 'chat', journey) },
        { afterMs: between(rng, 10 * MINUTE, 4 * HOUR), event: { channel: 'web', touchpoint: `${journey}_page`, initiator: 'customer', journey, stage: 'service' } },
      ];
    }
    // Three channels, but spread over more than 24 h (any 24 h holds two); one time in three just 1 s more.
    const first = between(rng, 13 * HOUR, 20 * HOUR);
    const second = rng() < 0.33 ? DAY + SECOND - first : between(rng, 13 * HOUR, 20 * HOUR);
    return [
      { afterMs: 0, event: { channel: 'web', touchpoint: `${journey}_page`, initiator: 'customer', journey, stage: 'service' } },
      { afterMs: first, event: { channel: 'mobile_app', touchpoint: `${journey}_view`, initiator: 'customer', journey, stage: 'service' } },
      { afterMs: second, event: assistedStep(rng, 'chat', journey) },
    ];
  },

  // ── self_service_failure ──────────────────────────────────────────────────────────────────────────
  self_service_failure: (rng) => {
    const selfService = pick(rng, ['web', 'mobile_app', 'ivr']);
    const assisted = pick(rng, ['phone', 'chat', 'branch']);
    return [
      { afterMs: 0, event: { channel: selfService, touchpoint: 'document_upload', initiator: 'customer', journey: 'personal_data_verification', stage: 'onboarding', outcome: pick(rng, ['failed', 'abandoned']) } },
      { afterMs: gap(rng, 2 * MINUTE, 55 * MINUTE, HOUR), event: assistedStep(rng, assisted, 'personal_data_verification') },
    ];
  },
  self_service_failure_near: (rng) => {
    const selfService = pick(rng, ['web', 'mobile_app']);
    const variant = rng();
    const failed = { channel: selfService, touchpoint: 'document_upload', initiator: 'customer' as const, journey: 'personal_data_verification', stage: 'onboarding', outcome: pick(rng, ['failed', 'abandoned']) };
    if (variant < 0.4) {
      // The assisted contact comes, but after the hour.
      return [
        { afterMs: 0, event: failed },
        { afterMs: gap(rng, 65 * MINUTE, 5 * HOUR, HOUR + SECOND), event: assistedStep(rng, 'phone', 'personal_data_verification') },
      ];
    }
    if (variant < 0.7) {
      // Within the hour, but the company calls (a proactive callback is not the customer giving up).
      return [
        { afterMs: 0, event: failed },
        { afterMs: between(rng, 2 * MINUTE, 50 * MINUTE), event: { ...assistedStep(rng, 'phone', 'personal_data_verification'), initiator: 'company', touchpoint: 'proactive_callback' } },
      ];
    }
    // Within the hour, the customer retries on self-service and succeeds.
    return [
      { afterMs: 0, event: failed },
      { afterMs: between(rng, 2 * MINUTE, 50 * MINUTE), event: { ...failed, outcome: 'completed' } },
    ];
  },

  // ── sla_breach ────────────────────────────────────────────────────────────────────────────────────
  sla_breach: (rng) => {
    const breach = pick(rng, [
      { channel: 'phone', wait_ms: between(rng, 121 * SECOND, 15 * MINUTE), duration_ms: between(rng, 2 * MINUTE, 9 * MINUTE) },
      { channel: 'phone', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: between(rng, 601 * SECOND, 25 * MINUTE) },
      { channel: 'chat', wait_ms: between(rng, 61 * SECOND, 10 * MINUTE), duration_ms: between(rng, 2 * MINUTE, 10 * MINUTE) },
      { channel: 'chat', wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: between(rng, 901 * SECOND, 30 * MINUTE) },
    ]);
    return [{ afterMs: 0, event: { ...breach, touchpoint: `${breach.channel}_support`, initiator: 'customer', reason: 'order_status', outcome: 'resolved', agent_id: agent(rng) } }];
  },
  sla_breach_near: (rng) => {
    const near = pick(rng, [
      { channel: 'phone', wait_ms: pick(rng, [120_000, between(rng, 100 * SECOND, 119 * SECOND)]), duration_ms: between(rng, 2 * MINUTE, 9 * MINUTE) },
      { channel: 'phone', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: pick(rng, [600_000, between(rng, 540 * SECOND, 599 * SECOND)]) },
      { channel: 'chat', wait_ms: pick(rng, [60_000, between(rng, 50 * SECOND, 59 * SECOND)]), duration_ms: between(rng, 2 * MINUTE, 10 * MINUTE) },
      { channel: 'chat', wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: pick(rng, [900_000, between(rng, 800 * SECOND, 899 * SECOND)]) },
      // A long wait on a channel without a wait SLA.
      { channel: 'email', wait_ms: between(rng, 1 * HOUR, 20 * HOUR), duration_ms: between(rng, 2 * MINUTE, 10 * MINUTE) },
    ]);
    return [{ afterMs: 0, event: { ...near, touchpoint: `${near.channel}_support`, initiator: 'customer', reason: 'order_status', outcome: 'resolved', agent_id: agent(rng) } }];
  },

  // ── sentiment_decline ─────────────────────────────────────────────────────────────────────────────
  sentiment_decline: (rng) => {
    const first = sentimentBetween(rng, 0.2, 0.9);
    const drop = sentimentBetween(rng, 0.55, 0.9);
    const mid = Math.round((first - drop * sentimentBetween(rng, 0.3, 0.7)) * 100) / 100;
    return declineSteps(rng, [first, mid, Math.round((first - drop) * 100) / 100]);
  },
  sentiment_decline_near: (rng) => {
    const first = sentimentBetween(rng, 0.2, 0.9);
    if (rng() < 0.6) {
      // Steadily down, but only by 0.2–0.4.
      const drop = sentimentBetween(rng, 0.2, 0.4);
      return declineSteps(rng, [first, Math.round((first - drop / 2) * 100) / 100, Math.round((first - drop) * 100) / 100]);
    }
    // Down by more than 0.5 overall, but not each lower than the one before.
    return declineSteps(rng, [first, Math.round((first + 0.05) * 100) / 100, Math.round((first - 0.6) * 100) / 100]);
  },

  // ── escalation ────────────────────────────────────────────────────────────────────────────────────
  escalation: (rng) => [
    { afterMs: 0, event: { ...assistedStep(rng, pick(rng, ['phone', 'chat']), 'claims_handling'), outcome: pick(rng, ['escalated', 'transferred']) } },
  ],
  escalation_near: (rng) => [
    { afterMs: 0, event: { ...assistedStep(rng, pick(rng, ['phone', 'chat']), 'claims_handling'), outcome: pick(rng, ['resolved', 'unresolved']) } },
  ],

  // ── complaint ─────────────────────────────────────────────────────────────────────────────────────
  complaint: (rng) => [
    { afterMs: 0, event: { channel: pick(rng, ['email', 'web', 'branch']), touchpoint: 'customer_message', initiator: 'customer', reason: pick(rng, ['complaint', 'formal_complaint', 'cancellation_threat']) } },
  ],
  complaint_near: (rng) => [
    { afterMs: 0, event: { channel: pick(rng, ['email', 'web', 'branch']), touchpoint: 'customer_message', initiator: 'customer', reason: pick(rng, ['complaint_status', 'compliment', 'cancellation_fee_question', 'billing_dispute']) } },
  ],

  // ── journey_not_completed (timer) ─────────────────────────────────────────────────────────────────
  journey_not_completed: (rng, { timerExpectedMs }) => {
    const steps: Step[] = [{ afterMs: 0, event: { channel: 'web', touchpoint: 'application_start', initiator: 'customer', journey: TIMED_JOURNEY, stage: 'onboarding', outcome: 'started' } }];
    // Maybe one more step that does not finish it; the due time stays 50–100 % of the expected duration away.
    if (rng() < 0.5) steps.push({ afterMs: between(rng, 0.05 * timerExpectedMs, 0.5 * timerExpectedMs), event: { channel: 'web', touchpoint: 'application_form', initiator: 'customer', journey: TIMED_JOURNEY, stage: 'onboarding', outcome: 'unresolved' } });
    return steps;
  },
  journey_not_completed_near: (rng, { timerExpectedMs }) => [
    // Completed in time: at 55–80 % of the expected duration, so the due time is ≥ 20 % of it after posting.
    { afterMs: 0, event: { channel: 'web', touchpoint: 'application_start', initiator: 'customer', journey: TIMED_JOURNEY, stage: 'onboarding', outcome: 'started' } },
    { afterMs: between(rng, 0.55 * timerExpectedMs, 0.8 * timerExpectedMs), event: { channel: 'web', touchpoint: 'application_submitted', initiator: 'customer', journey: TIMED_JOURNEY, stage: 'onboarding', outcome: pick(rng, ['completed', 'resolved']) } },
  ],

  // ── repeated_error ────────────────────────────────────────────────────────────────────────────────
  repeated_error: (rng) => {
    const channel = pick(rng, ['web', 'mobile_app']);
    return [
      { afterMs: 0, event: { channel, touchpoint: pick(rng, ['payment_failed', 'login_failed', 'otp_failed', 'error_page']), initiator: 'customer' } },
      { afterMs: gap(rng, 20 * SECOND, 55 * MINUTE, HOUR), event: { channel, touchpoint: pick(rng, ['payment_failed', 'login_failed', 'otp_failed', 'error_page']), initiator: 'customer' } },
    ];
  },
  repeated_error_near: (rng) => {
    const channel = pick(rng, ['web', 'mobile_app']);
    if (rng() < 0.5) {
      // Two errors, more than an hour apart.
      return [
        { afterMs: 0, event: { channel, touchpoint: 'payment_failed', initiator: 'customer' } },
        { afterMs: gap(rng, 65 * MINUTE, 6 * HOUR, HOUR + SECOND), event: { channel, touchpoint: 'login_failed', initiator: 'customer' } },
      ];
    }
    // One error, then a retry that works.
    return [
      { afterMs: 0, event: { channel, touchpoint: 'payment_failed', initiator: 'customer' } },
      { afterMs: between(rng, 20 * SECOND, 10 * MINUTE), event: { channel, touchpoint: 'payment_retry', initiator: 'customer' } },
    ];
  },

  // ── several at once, and none at all ──────────────────────────────────────────────────────────────
  bad_day: (rng) => {
    // IVR abandoned, a long and unhappy call (self-service failure, SLA, negative sentiment), the same
    // problem again the next days (repeat contact, escalated), then a detractor survey.
    const reason = pick(rng, ['billing_dispute', 'roaming_charges']);
    return [
      { afterMs: 0, event: { channel: 'ivr', touchpoint: 'ivr_billing_menu', initiator: 'customer', journey: 'billing_support', stage: 'support', reason, outcome: 'abandoned', duration_ms: between(rng, 40 * SECOND, 3 * MINUTE) } },
      { afterMs: between(rng, 2 * MINUTE, 30 * MINUTE), event: { channel: 'phone', touchpoint: 'billing_inquiry_call', initiator: 'customer', journey: 'billing_support', stage: 'support', reason, outcome: 'unresolved', wait_ms: between(rng, 5 * MINUTE, 20 * MINUTE), duration_ms: between(rng, 3 * MINUTE, 9 * MINUTE), sentiment: sentimentBetween(rng, -0.9, -0.55), agent_id: agent(rng) } },
      { afterMs: between(rng, 1 * DAY, 3 * DAY), event: { channel: 'phone', touchpoint: 'billing_inquiry_call', initiator: 'customer', journey: 'billing_support', stage: 'support', reason, outcome: 'escalated', wait_ms: between(rng, 10 * SECOND, 100 * SECOND), duration_ms: between(rng, 3 * MINUTE, 9 * MINUTE), sentiment: sentimentBetween(rng, -0.9, -0.55), agent_id: agent(rng) } },
      { afterMs: between(rng, 10 * MINUTE, 2 * HOUR), event: { channel: 'sms', touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: between(rng, 0, 4) } } },
    ];
  },
  happy: (rng) => {
    const channel = pick(rng, ['web', 'mobile_app']);
    return [
      { afterMs: 0, event: { channel, touchpoint: 'product_page', initiator: 'customer', journey: 'online_checkout', stage: 'consideration' } },
      { afterMs: between(rng, 30 * SECOND, 10 * MINUTE), event: { channel, touchpoint: 'cart', initiator: 'customer', journey: 'online_checkout', stage: 'purchase' } },
      { afterMs: between(rng, 30 * SECOND, 10 * MINUTE), event: { channel, touchpoint: 'order_confirmed', initiator: 'customer', journey: 'online_checkout', stage: 'purchase', outcome: 'completed' } },
      { afterMs: between(rng, 1 * SECOND, 10 * SECOND), event: { channel: 'email', touchpoint: 'order_confirmation_email', initiator: 'company' } },
      { afterMs: between(rng, 1 * HOUR, 3 * DAY), event: { channel: 'email', touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: between(rng, 8, 10) } } },
    ];
  },
  backfill: (rng) => [
    // Bad, but old: beyond the 30-day horizon nothing is raised (the story is shifted back when generated).
    { afterMs: 0, event: { channel: 'phone', touchpoint: 'support_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'escalated', wait_ms: between(rng, 5 * MINUTE, 20 * MINUTE), sentiment: sentimentBetween(rng, -0.9, -0.6), agent_id: agent(rng) } },
    { afterMs: between(rng, 1 * HOUR, 2 * DAY), event: { channel: 'phone', touchpoint: 'support_call', initiator: 'customer', reason: 'billing_dispute', outcome: 'unresolved', agent_id: agent(rng) } },
    { afterMs: between(rng, 10 * MINUTE, 2 * HOUR), event: { channel: 'email', touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score: between(rng, 0, 4) } } },
  ],
} satisfies Record<string, Builder>;

/** `mixed`: two single-purpose stories lived by one customer, days apart or overlapping, so state carries over. */
export type StoryKind = keyof typeof builders | 'mixed';
export const STORY_KINDS = [...(Object.keys(builders) as Array<keyof typeof builders>), 'mixed'] as StoryKind[];
/** What a mixed story is made of: anything but timers, backfill and bad days. */
const MIXABLE_KINDS = (Object.keys(builders) as Array<keyof typeof builders>).filter((k) => !k.startsWith('journey_not_completed') && k !== 'backfill' && k !== 'bad_day');

function mixedSteps(rng: Rng, ctx: { timerExpectedMs: number }): StoryStep[] {
  const first = endingAtZero(builders[pick(rng, MIXABLE_KINDS)](rng, ctx));
  const second = endingAtZero(builders[pick(rng, MIXABLE_KINDS)](rng, ctx));
  const shift = rng() < 0.5 ? between(rng, 0, 3 * HOUR) : between(rng, 1 * DAY, 10 * DAY);
  const merged = [...first.map((x) => ({ ...x, atMs: x.atMs - shift })), ...second].sort((x, y) => x.atMs - y.atMs);
  const end = merged.at(-1)!.atMs;
  return merged.map((x) => ({ ...x, atMs: x.atMs - end }));
}

/** An assisted contact the customer starts, within SLA and with a neutral sentiment. */
function assistedStep(rng: Rng, channel: string, journey: string): StoryStep['event'] {
  const timed = channel === 'phone' || channel === 'chat';
  return {
    channel,
    touchpoint: `${channel}_contact`,
    initiator: 'customer',
    journey,
    stage: 'support',
    outcome: 'resolved',
    ...(timed ? { wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: between(rng, 1 * MINUTE, 8 * MINUTE) } : {}),
    sentiment: neutralSentiment(rng),
    agent_id: agent(rng),
  };
}

/** Three chats with the given sentiments, hours to days apart, no reason (so no repeat contact). */
function declineSteps(rng: Rng, sentiments: [number, number, number]): Step[] {
  return sentiments.map((sentiment, i) => ({
    afterMs: i === 0 ? 0 : between(rng, 1 * HOUR, 2 * DAY),
    event: { channel: 'chat', touchpoint: 'support_chat', initiator: 'customer' as const, journey: 'account_support', stage: 'support', outcome: 'resolved', wait_ms: between(rng, 5 * SECOND, 50 * SECOND), duration_ms: between(rng, 1 * MINUTE, 10 * MINUTE), sentiment },
  }));
}

/** How often each kind is drawn (relative). Near misses about as often as positives. */
const KIND_WEIGHTS: Record<StoryKind, number> = {
  detractor: 3, detractor_near: 3,
  negative_sentiment: 3, negative_sentiment_near: 3,
  repeat_contact: 3, repeat_contact_near: 3,
  channel_hopping: 3, channel_hopping_near: 3,
  self_service_failure: 3, self_service_failure_near: 3,
  sla_breach: 3, sla_breach_near: 3,
  sentiment_decline: 3, sentiment_decline_near: 3,
  escalation: 3, escalation_near: 3,
  complaint: 3, complaint_near: 3,
  journey_not_completed: 3, journey_not_completed_near: 3,
  repeated_error: 3, repeated_error_near: 3,
  bad_day: 2,
  happy: 4,
  backfill: 1,
  mixed: 6,
};
const TIMER_KINDS = new Set<StoryKind>(['journey_not_completed', 'journey_not_completed_near']);

export interface GeneratorOptions {
  seed: number;
  /** Generate stories until they hold at least this many touchpoints. */
  events: number;
  /** Expected duration of TIMED_JOURNEY in the rules of the run under test. */
  timerExpectedMs: number;
  /** Prefix of customer ids (unique per run, so runs against a shared stack do not mix). */
  customerPrefix: string;
  /**
   * Timer stories are only drawn among the first this fraction of customers, so their due times (up to
   * one expected duration after posting) pass while the rest is still being posted. Default 0.5.
   */
  timerShare?: number;
}

/** Deterministic stories for a seed: one per customer, in posting order. */
export function generateStories(opts: GeneratorOptions): Story[] {
  const rng = seededRng(opts.seed);
  const totalWeight = (kinds: StoryKind[]) => kinds.reduce((n, k) => n + KIND_WEIGHTS[k], 0);
  const allKinds = STORY_KINDS;
  const untimedKinds = STORY_KINDS.filter((k) => !TIMER_KINDS.has(k));
  // Average story length, to know roughly how many customers the requested events make.
  const expectedCustomers = Math.ceil(opts.events / 2.3);
  const timerUntil = expectedCustomers * (opts.timerShare ?? 0.5);
  const stories: Story[] = [];
  let events = 0;
  while (events < opts.events) {
    const kinds = stories.length < timerUntil ? allKinds : untimedKinds;
    let roll = rng() * totalWeight(kinds);
    const kind = kinds.find((k) => (roll -= KIND_WEIGHTS[k]) < 0) ?? kinds[kinds.length - 1]!;
    const ctx = { timerExpectedMs: opts.timerExpectedMs };
    const steps = kind === 'mixed' ? mixedSteps(rng, ctx) : endingAtZero(builders[kind](rng, ctx));
    if (kind === 'backfill') {
      const back = between(rng, 31 * DAY, 40 * DAY);
      for (const s of steps) s.atMs -= back;
    }
    const about = kind.replace(/_near$/, '');
    stories.push({
      customer_id: `${opts.customerPrefix}${stories.length}-${kind}`,
      kind,
      about: (STORY_ABOUT as Record<string, QualitySignalType>)[about],
      steps,
    });
    events += steps.length;
  }
  return stories;
}

const STORY_ABOUT: Partial<Record<string, QualitySignalType>> = {
  detractor: 'survey_detractor',
  negative_sentiment: 'negative_sentiment',
  repeat_contact: 'repeat_contact',
  channel_hopping: 'channel_hopping',
  self_service_failure: 'self_service_failure',
  sla_breach: 'sla_breach',
  sentiment_decline: 'sentiment_decline',
  escalation: 'escalation',
  complaint: 'complaint',
  journey_not_completed: 'journey_not_completed',
  repeated_error: 'repeated_error',
};

/** Microsecond ISO-8601 for an epoch-ms time (ingest keeps microseconds; ms is enough here). */
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Anchors a story's last touchpoint at `endAtMs` (wall clock at posting), assigns event ids
 * (`<customer>.<n>`) and labels it with the catalogue as it will be processed (at about `endAtMs`).
 */
export function materializeStory(story: Story, endAtMs: number, rules: CatalogueRules): MaterializedStory {
  const events: QualityEvent[] = story.steps.map((s, i) => ({
    event_id: `${story.customer_id}.${i}`,
    customer_id: story.customer_id,
    occurred_at: iso(endAtMs + s.atMs),
    ...s.event,
  }));
  const touchpoints: CatalogueTouchpoint[] = events.map((e) => ({ ...e, occurredAtMs: Date.parse(e.occurred_at) }));
  return {
    story,
    events,
    labels: expectedSignals(touchpoints, endAtMs, rules),
    backfillEventIds: touchpoints.filter((t) => isBackfill(t.occurredAtMs, endAtMs, rules)).map((t) => t.event_id),
  };
}
