// Signals that depend on one touchpoint alone (survey, sentiment, SLA, escalation, complaint) are decided
// here, in TypeScript. Signals that depend on the customer's history (repeat contact, channel hopping,
// self-service failure, sentiment decline, repeated error, journey timers) are decided inside the atomic
// Lua scripts, so two processors can never both see "no previous contact"; this file hands them the
// parameters in force for the touchpoint (its channel's and journey's overrides applied).
import { createHash } from 'node:crypto';
import { sentimentOf, type TouchpointEvent } from '@touchstream/contracts';
import type { AlertLevelName, SignalType } from '@touchstream/contracts';
import { signalParamsFor, type ScoringConfig, type SignalParams } from './config.ts';

/** A signal before it is attached to its event: what fired, how much it weighs, and why. */
export interface SignalDecision {
  type: SignalType;
  weight: number;
  explanation: string;
}

function sha1Hex32(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex').slice(0, 32);
}

/** Deterministic signal id: the same event raising the same signal type always gets the same id. */
export function signalIdFor(eventId: string, type: string): string {
  return sha1Hex32(`${eventId}\0${type}`);
}

/**
 * Deterministic alert id. The Lua script computes the same value with redis.sha1hex (it is the one that
 * decides the level); keep both in step — the integration tests compare them.
 */
export function alertIdFor(customerId: string, eventId: string, level: AlertLevelName): string {
  return sha1Hex32(`${customerId}\0${eventId}\0${level}`);
}

/**
 * Alert id of an alert raised by a journey_not_completed timer: distinct from any alert the `started`
 * touchpoint itself raised (same event id), so neither replaces the other downstream.
 */
export function timerAlertIdFor(customerId: string, startedEventId: string, level: AlertLevelName): string {
  return sha1Hex32(`${customerId}\0timer:${startedEventId}\0${level}`);
}

/**
 * The touchpoint as the signals see it: without a sentiment number but with text (its `text` or survey
 * comment), the sentiment derived from the text (packages/contracts sentiment.ts), flagged `derived`.
 */
export function withSentiment(event: TouchpointEvent): { event: TouchpointEvent; derived: boolean } {
  const { sentiment, source } = sentimentOf(event);
  return source === 'derived' ? { event: { ...event, sentiment }, derived: true } : { event, derived: false };
}

/** Signals decided by the touchpoint alone, in catalogue order. `derivedSentiment`: its sentiment came from its text. */
export function statelessSignals(event: TouchpointEvent, config: ScoringConfig, params = paramsOf(event, config), derivedSentiment = false): SignalDecision[] {
  const decisions: SignalDecision[] = [];
  const add = (type: SignalType, explanation: string | null) => {
    if (explanation !== null && params[type].enabled) decisions.push({ type, weight: params[type].weight, explanation });
  };
  add('survey_detractor', surveyDetractorExplanation(event, params.survey_detractor));
  const negative = params.negative_sentiment.max;
  const derivedNote = derivedSentiment ? ' (derived from text)' : '';
  add('negative_sentiment', event.sentiment !== null && event.sentiment <= negative ? `sentiment ${event.sentiment}${derivedNote} ≤ ${negative}: negative` : null);
  add('sla_breach', slaBreachExplanation(event, params.sla_breach, config.touchpointReactionTimes));
  add('escalation', event.outcome !== null && params.escalation.outcomes.includes(event.outcome) ? `outcome ${event.outcome}` : null);
  add('complaint', event.reason !== null && params.complaint.reasons.includes(event.reason) ? `reason ${event.reason} is a complaint` : null);
  return decisions;
}

export function paramsOf(event: TouchpointEvent, config: ScoringConfig): SignalParams {
  return signalParamsFor(config, event.channel, event.journey);
}

function surveyDetractorExplanation(event: TouchpointEvent, p: SignalParams['survey_detractor']): string | null {
  const survey = event.survey;
  if (!survey) return null;
  switch (survey.kind) {
    case 'NPS':
      return survey.score <= p.nps_max ? `NPS ${survey.score} ≤ ${p.nps_max}: detractor` : null;
    case 'CSAT':
      return survey.score <= p.csat_max ? `CSAT ${survey.score} ≤ ${p.csat_max}: dissatisfied` : null;
    case 'CES':
      return survey.score >= p.ces_min ? `CES ${survey.score} ≥ ${p.ces_min}: high effort` : null;
  }
}

function slaBreachExplanation(event: TouchpointEvent, p: SignalParams['sla_breach'], reactionTimes: ScoringConfig['touchpointReactionTimes']): string | null {
  const breaches: string[] = [];
  const catalogued = p.source === 'catalogue' ? reactionTimes?.[event.touchpoint] : undefined;
  const waitSla = catalogued ?? p.wait[event.channel];
  if (waitSla !== undefined && event.wait_ms !== null && event.wait_ms > waitSla) {
    breaches.push(
      catalogued !== undefined
        ? `wait ${describeDuration(event.wait_ms)} > ${event.touchpoint} reaction-time target ${describeDuration(waitSla)} (catalogue)`
        : `wait ${describeDuration(event.wait_ms)} > ${event.channel} wait SLA ${describeDuration(waitSla)}`,
    );
  }
  const handlingSla = p.handling[event.channel];
  if (handlingSla !== undefined && event.duration_ms !== null && event.duration_ms > handlingSla) {
    breaches.push(`handling ${describeDuration(event.duration_ms)} > ${event.channel} handling SLA ${describeDuration(handlingSla)}`);
  }
  return breaches.length ? breaches.join('; ') : null;
}

/**
 * The reason a touchpoint counts as a contact for repeat-contact detection, or null: only contacts the
 * customer started (a company-sent email about billing is not the customer chasing billing again).
 */
export function contactReasonOf(event: TouchpointEvent): string | null {
  return event.initiator === 'customer' && event.reason ? event.reason : null;
}

/**
 * What the customer script needs to decide the history-dependent signals of one touchpoint: one entry
 * per signal the touchpoint takes part in, with the parameters in force for it (durations in event
 * micros, text for explanations) and its deterministic signal id. Absent = the touchpoint plays no part.
 */
export interface StatefulInputs {
  contact?: { reason: string; enabled: boolean; weight: number; window_us: number; window_text: string; signal_id: string };
  /** Customer-initiated touchpoint in a journey (or, without one, with a reason): one channel of the group. */
  hop?: { group: string; enabled: boolean; weight: number; window_us: number; window_text: string; min: number; signal_id: string };
  /** A failed/abandoned touchpoint on a self-service channel: remembered. */
  self_service_failed?: true;
  /** A customer-initiated touchpoint on an assisted channel: fires when a remembered failure is recent. */
  assisted?: { enabled: boolean; weight: number; window_us: number; window_text: string; signal_id: string };
  decline?: { sentiment: number; enabled: boolean; weight: number; count: number; min_drop: number; signal_id: string };
  error?: { enabled: boolean; weight: number; window_us: number; window_text: string; min: number; signal_id: string };
  /** Outcome started on a journey (live, not backfill): arms the journey_not_completed timer. */
  start?: { journey: string; due: number; enabled: boolean; weight: number; expected_text: string; signal_id: string };
  /** Outcome completed/resolved on a journey: disarms its timer. */
  complete?: { journey: string };
}

export function statefulInputs(event: TouchpointEvent, config: ScoringConfig, params: SignalParams, live: boolean): StatefulInputs {
  const inputs: StatefulInputs = {};
  const id = (type: SignalType) => signalIdFor(event.event_id, type);
  const byCustomer = event.initiator === 'customer';
  const contactReason = contactReasonOf(event);
  if (contactReason) {
    const p = params.repeat_contact;
    inputs.contact = { reason: contactReason, enabled: p.enabled, weight: p.weight, window_us: p.window * 1000, window_text: describeDuration(p.window), signal_id: id('repeat_contact') };
  }
  const group = event.journey ? `journey ${event.journey}` : event.reason ? `reason ${event.reason}` : null;
  if (byCustomer && group) {
    const p = params.channel_hopping;
    inputs.hop = { group, enabled: p.enabled, weight: p.weight, window_us: p.window * 1000, window_text: describeDuration(p.window), min: p.min_channels, signal_id: id('channel_hopping') };
  }
  const ssf = params.self_service_failure;
  if (event.outcome !== null && ssf.failure_outcomes.includes(event.outcome) && config.selfServiceChannels.includes(event.channel)) {
    inputs.self_service_failed = true;
  }
  if (byCustomer && config.assistedChannels.includes(event.channel)) {
    inputs.assisted = { enabled: ssf.enabled, weight: ssf.weight, window_us: ssf.window * 1000, window_text: describeDuration(ssf.window), signal_id: id('self_service_failure') };
  }
  if (event.sentiment !== null) {
    const p = params.sentiment_decline;
    inputs.decline = { sentiment: event.sentiment, enabled: p.enabled, weight: p.weight, count: p.count, min_drop: p.min_drop, signal_id: id('sentiment_decline') };
  }
  const err = params.repeated_error;
  if (err.touchpoints.includes(event.touchpoint)) {
    inputs.error = { enabled: err.enabled, weight: err.weight, window_us: err.window * 1000, window_text: describeDuration(err.window), min: err.min_errors, signal_id: id('repeated_error') };
  }
  const jnc = params.journey_not_completed;
  if (event.journey && event.outcome === 'started' && live) {
    inputs.start = {
      journey: event.journey,
      due: event.occurred_at + jnc.expected_duration * 1000,
      enabled: jnc.enabled,
      weight: jnc.weight,
      expected_text: describeDuration(jnc.expected_duration),
      signal_id: id('journey_not_completed'),
    };
  }
  if (event.journey && event.outcome !== null && jnc.completion_outcomes.includes(event.outcome)) {
    inputs.complete = { journey: event.journey };
  }
  return inputs;
}

/** "7 days", "36 hours", "90 minutes" or "1500 ms": for explanations. */
export function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [24 * 3600 * 1000, 'day'],
    [3600 * 1000, 'hour'],
    [60 * 1000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}
