import { describe, expect, it } from 'vitest';
import { defaultScoringConfig as config, resolveScoringConfig } from './config.ts';
import { alertIdFor, contactReasonOf, describeDuration, signalIdFor, statelessSignals } from './signals.ts';
import { touchpoint } from './test-support.ts';

const at = Date.UTC(2026, 2, 1);
const types = (fields: Parameters<typeof touchpoint>[2]) => statelessSignals(touchpoint('c', at, fields), config).map((s) => s.type);

describe('survey_detractor', () => {
  it('fires for NPS ≤ 6, CSAT ≤ 2, CES ≥ 5 — at the threshold and not just past it', () => {
    expect(types({ survey: { kind: 'NPS', score: 6, comment: null } })).toEqual(['survey_detractor']);
    expect(types({ survey: { kind: 'NPS', score: 7, comment: null } })).toEqual([]);
    expect(types({ survey: { kind: 'CSAT', score: 2, comment: null } })).toEqual(['survey_detractor']);
    expect(types({ survey: { kind: 'CSAT', score: 3, comment: null } })).toEqual([]);
    expect(types({ survey: { kind: 'CES', score: 5, comment: null } })).toEqual(['survey_detractor']);
    expect(types({ survey: { kind: 'CES', score: 4, comment: null } })).toEqual([]);
  });

  it('explains itself and carries the configured weight', () => {
    const [signal] = statelessSignals(touchpoint('c', at, { survey: { kind: 'NPS', score: 3, comment: 'slow' } }), config);
    expect(signal).toEqual({ type: 'survey_detractor', weight: 3, explanation: 'NPS 3 ≤ 6: detractor' });
    const [ces] = statelessSignals(touchpoint('c', at, { survey: { kind: 'CES', score: 6, comment: null } }), config);
    expect(ces!.explanation).toBe('CES 6 ≥ 5: high effort');
  });
});

describe('negative_sentiment', () => {
  it('fires at −0.5 and below, not above', () => {
    expect(types({ sentiment: -0.5 })).toEqual(['negative_sentiment']);
    expect(types({ sentiment: -0.49 })).toEqual([]);
    expect(types({ sentiment: null })).toEqual([]);
    const [signal] = statelessSignals(touchpoint('c', at, { sentiment: -0.8 }), config);
    expect(signal).toEqual({ type: 'negative_sentiment', weight: 2, explanation: 'sentiment -0.8 ≤ -0.5: negative' });
  });

  it('follows overridden thresholds and weights', () => {
    const strict = resolveScoringConfig({ signals: { negative_sentiment: { max: -0.9, weight: 1.5 } } });
    expect(statelessSignals(touchpoint('c', at, { sentiment: -0.8 }), strict)).toEqual([]);
    expect(statelessSignals(touchpoint('c', at, { sentiment: -0.95 }), strict)[0]!.weight).toBe(1.5);
  });
});

it('a touchpoint can raise both stateless signals, survey first', () => {
  expect(types({ sentiment: -0.9, survey: { kind: 'NPS', score: 0, comment: null } })).toEqual(['survey_detractor', 'negative_sentiment']);
});

describe('repeat-contact candidates', () => {
  it('are customer-initiated touchpoints with a reason', () => {
    expect(contactReasonOf(touchpoint('c', at, { reason: 'billing_dispute' }))).toBe('billing_dispute');
    expect(contactReasonOf(touchpoint('c', at, { reason: 'billing_dispute', initiator: 'company' }))).toBeNull();
    expect(contactReasonOf(touchpoint('c', at, { reason: null }))).toBeNull();
  });
});

describe('ids', () => {
  it('are deterministic 32-hex-digit ids that differ by type and level', () => {
    expect(signalIdFor('e1', 'negative_sentiment')).toMatch(/^[0-9a-f]{32}$/);
    expect(signalIdFor('e1', 'negative_sentiment')).toBe(signalIdFor('e1', 'negative_sentiment'));
    expect(signalIdFor('e1', 'negative_sentiment')).not.toBe(signalIdFor('e1', 'survey_detractor'));
    expect(alertIdFor('c', 'e1', 'watch')).not.toBe(alertIdFor('c', 'e1', 'at_risk'));
  });
});

it('describes windows for explanations', () => {
  expect(describeDuration(7 * 24 * 3600_000)).toBe('7 days');
  expect(describeDuration(24 * 3600_000)).toBe('1 day');
  expect(describeDuration(36 * 3600_000)).toBe('36 hours');
  expect(describeDuration(1500)).toBe('1500 ms');
});
