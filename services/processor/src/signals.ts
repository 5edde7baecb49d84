// Signals that depend on one touchpoint alone (survey answers, sentiment) are decided here, in TypeScript.
// Signals that depend on the customer's history (repeat contact) are decided inside the atomic Lua script
// (apply-touchpoints.lua), so two processors can never both see "no previous contact".
import { createHash } from 'node:crypto';
import type { TouchpointEvent } from '@touchstream/schemas';
import type { RaisedLevel, ScoringConfig, SignalType } from './config.ts';

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
export function alertIdFor(customerId: string, eventId: string, level: RaisedLevel): string {
  return sha1Hex32(`${customerId}\0${eventId}\0${level}`);
}

/** Signals decided by the touchpoint alone, in a fixed order (survey first, then sentiment). */
export function statelessSignals(event: TouchpointEvent, config: ScoringConfig): SignalDecision[] {
  const decisions: SignalDecision[] = [];
  const detractor = surveyDetractorExplanation(event, config);
  if (detractor) decisions.push({ type: 'survey_detractor', weight: config.weights.survey_detractor, explanation: detractor });
  if (event.sentiment !== null && event.sentiment <= config.negativeSentimentMax) {
    decisions.push({
      type: 'negative_sentiment',
      weight: config.weights.negative_sentiment,
      explanation: `sentiment ${event.sentiment} ≤ ${config.negativeSentimentMax}: negative`,
    });
  }
  return decisions;
}

function surveyDetractorExplanation(event: TouchpointEvent, config: ScoringConfig): string | null {
  const survey = event.survey;
  if (!survey) return null;
  switch (survey.kind) {
    case 'NPS':
      return survey.score <= config.npsDetractorMax ? `NPS ${survey.score} ≤ ${config.npsDetractorMax}: detractor` : null;
    case 'CSAT':
      return survey.score <= config.csatDissatisfiedMax ? `CSAT ${survey.score} ≤ ${config.csatDissatisfiedMax}: dissatisfied` : null;
    case 'CES':
      return survey.score >= config.cesHighEffortMin ? `CES ${survey.score} ≥ ${config.cesHighEffortMin}: high effort` : null;
  }
}

/**
 * The reason a touchpoint counts as a contact for repeat-contact detection, or null: only contacts the
 * customer started (a company-sent email about billing is not the customer chasing billing again).
 */
export function contactReasonOf(event: TouchpointEvent): string | null {
  return event.initiator === 'customer' && event.reason ? event.reason : null;
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
