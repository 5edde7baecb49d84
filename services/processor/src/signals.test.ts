import { describe, expect, it } from 'vitest';
import { defaultScoringConfig as config, resolveScoringConfig } from './config.ts';
import { alertIdFor, contactReasonOf, describeDuration, paramsOf, signalIdFor, statefulInputs, statelessSignals, timerAlertIdFor } from './signals.ts';
import { touchpoint } from '@touchstream/testkit';

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
    expect(timerAlertIdFor('c', 'e1', 'watch')).not.toBe(alertIdFor('c', 'e1', 'watch'));
  });
});

it('describes windows for explanations', () => {
  expect(describeDuration(7 * 24 * 3600_000)).toBe('7 days');
  expect(describeDuration(24 * 3600_000)).toBe('1 day');
  expect(describeDuration(36 * 3600_000)).toBe('36 hours');
  expect(describeDuration(1500)).toBe('1500 ms');
});

describe('sla_breach', () => {
  it('fires over the channel wait or handling SLA, not at it, and not on channels without one', () => {
    expect(types({ channel: 'phone', wait_ms: 120_000 })).toEqual([]);
    expect(types({ channel: 'phone', wait_ms: 120_001 })).toEqual(['sla_breach']);
    expect(types({ channel: 'phone', duration_ms: 600_000 })).toEqual([]);
    expect(types({ channel: 'phone', duration_ms: 600_001 })).toEqual(['sla_breach']);
    expect(types({ channel: 'chat', wait_ms: 60_001 })).toEqual(['sla_breach']);
    expect(types({ channel: 'chat', duration_ms: 900_000 })).toEqual([]);
    expect(types({ channel: 'chat', duration_ms: 900_001 })).toEqual(['sla_breach']);
    expect(types({ channel: 'email', wait_ms: 10 * 3600_000, duration_ms: 10 * 3600_000 })).toEqual([]);
  });

  it('is one signal explaining both breaches', () => {
    const [signal] = statelessSignals(touchpoint('c', at, { channel: 'phone', wait_ms: 180_000, duration_ms: 660_000 }), config);
    expect(signal).toEqual({
      type: 'sla_breach',
      weight: 1,
      explanation: 'wait 3 minutes > phone wait SLA 2 minutes; handling 11 minutes > phone handling SLA 10 minutes',
    });
  });
});

describe('sla_breach with source: catalogue', () => {
  // The catalogue sets billing_call 5 min; help_chat has no target (its channel's 60 s applies).
  const fromCatalogue = {
    ...resolveScoringConfig({ signals: { sla_breach: { source: 'catalogue' } } }),
    touchpointReactionTimes: { billing_call: 300_000 },
  };
  const typesWith = (c: typeof config, fields: Parameters<typeof touchpoint>[2]) => statelessSignals(touchpoint('c', at, fields), c).map((s) => s.type);

  it("takes a catalogued touchpoint's reaction_time as its wait SLA, else its channel's; handling stays per channel", () => {
    // 3 min: over the phone SLA (2 min), within the catalogue's 5 min.
    expect(typesWith(fromCatalogue, { channel: 'phone', touchpoint: 'billing_call', wait_ms: 180_000 })).toEqual([]);
    expect(typesWith(config, { channel: 'phone', touchpoint: 'billing_call', wait_ms: 180_000 })).toEqual(['sla_breach']);
    expect(typesWith(fromCatalogue, { channel: 'phone', touchpoint: 'billing_call', duration_ms: 600_001 })).toEqual(['sla_breach']);
    expect(typesWith(fromCatalogue, { channel: 'chat', touchpoint: 'help_chat', wait_ms: 60_001 })).toEqual(['sla_breach']);
    const [signal] = statelessSignals(touchpoint('c', at, { channel: 'phone', touchpoint: 'billing_call', wait_ms: 360_000 }), fromCatalogue);
    expect(signal!.explanation).toBe('wait 6 minutes > billing_call reaction-time target 5 minutes (catalogue)');
  });

  it('ignores the catalogue with source: channel (the default)', () => {
    const channelOnly = { ...config, touchpointReactionTimes: { billing_call: 1_000 } };
    expect(typesWith(channelOnly, { channel: 'phone', touchpoint: 'billing_call', wait_ms: 60_000 })).toEqual([]);
  });
});

describe('escalation and complaint', () => {
  it('escalation fires on escalated or transferred outcomes only', () => {
    expect(types({ outcome: 'escalated' })).toEqual(['escalation']);
    expect(types({ outcome: 'transferred' })).toEqual(['escalation']);
    expect(types({ outcome: 'resolved' })).toEqual([]);
  });

  it('complaint fires on the configured reasons only', () => {
    for (const reason of ['complaint', 'formal_complaint', 'cancellation_threat']) expect(types({ reason })).toEqual(['complaint']);
    expect(types({ reason: 'billing_dispute' })).toEqual([]);
    const [signal] = statelessSignals(touchpoint('c', at, { reason: 'cancellation_threat' }), config);
    expect(signal).toEqual({ type: 'complaint', weight: 4, explanation: 'reason cancellation_threat is a complaint' });
  });
});

describe('overrides per channel and journey', () => {
  const rules = resolveScoringConfig({
    overrides: {
      channels: { phone: { escalation: { weight: 5 } }, chat: { negative_sentiment: { enabled: false } } },
      journeys: { vip_support: { escalation: { weight: 9 }, sla_breach: { wait: { phone: 30_000 } } } },
    },
  });
  const signalOf = (fields: Parameters<typeof touchpoint>[2]) => statelessSignals(touchpoint('c', at, fields), rules);

  it('the channel override applies on its channel; the journey override wins over it', () => {
    expect(signalOf({ channel: 'web', outcome: 'escalated' })[0]!.weight).toBe(2);
    expect(signalOf({ channel: 'phone', outcome: 'escalated' })[0]!.weight).toBe(5);
    expect(signalOf({ channel: 'phone', journey: 'vip_support', outcome: 'escalated' })[0]!.weight).toBe(9);
    expect(signalOf({ channel: 'phone', journey: 'vip_support', wait_ms: 30_001 }).map((s) => s.type)).toEqual(['sla_breach']);
    expect(signalOf({ channel: 'phone', wait_ms: 30_001 })).toEqual([]);
  });

  it('a disabled signal does not fire', () => {
    expect(signalOf({ channel: 'chat', sentiment: -0.9 })).toEqual([]);
    expect(signalOf({ channel: 'phone', sentiment: -0.9 }).map((s) => s.type)).toEqual(['negative_sentiment']);
  });
});

describe('inputs of the history-dependent signals', () => {
  const live = true;
  const inputs = (fields: Parameters<typeof touchpoint>[2], isLive = live) => {
    const e = touchpoint('c', at, fields);
    return statefulInputs(e, config, paramsOf(e, config), isLive);
  };

  it('channel hopping groups customer-initiated touchpoints by journey, else by reason', () => {
    expect(inputs({ journey: 'billing', reason: 'x' }).hop?.group).toBe('journey billing');
    expect(inputs({ reason: 'billing_dispute' }).hop?.group).toBe('reason billing_dispute');
    expect(inputs({}).hop).toBeUndefined();
    expect(inputs({ journey: 'billing', initiator: 'company' }).hop).toBeUndefined();
  });

  it('self-service failures are failed/abandoned on self-service channels; assisted contacts are customer-initiated', () => {
    expect(inputs({ channel: 'web', outcome: 'failed' }).self_service_failed).toBe(true);
    expect(inputs({ channel: 'ivr', outcome: 'abandoned' }).self_service_failed).toBe(true);
    expect(inputs({ channel: 'web', outcome: 'escalated' }).self_service_failed).toBeUndefined();
    expect(inputs({ channel: 'phone', outcome: 'failed' }).self_service_failed).toBeUndefined();
    expect(inputs({ channel: 'phone' }).assisted).toMatchObject({ weight: 3, window_us: 3600e6 });
    expect(inputs({ channel: 'phone', initiator: 'company' }).assisted).toBeUndefined();
    expect(inputs({ channel: 'email' }).assisted).toBeUndefined();
  });

  it('error touchpoints are the configured names', () => {
    expect(inputs({ touchpoint: 'payment_failed' }).error).toMatchObject({ min: 2, window_us: 3600e6, weight: 2 });
    expect(inputs({ touchpoint: 'checkout_page' }).error).toBeUndefined();
  });

  it('a live started touchpoint on a journey arms a timer due after the expected duration; completed/resolved disarm', () => {
    expect(inputs({ journey: 'j', outcome: 'started' }).start).toMatchObject({ journey: 'j', due: (at + 48 * 3600_000) * 1000, weight: 3, expected_text: '2 days' });
    expect(inputs({ journey: 'j', outcome: 'started' }, false).start).toBeUndefined();
    expect(inputs({ outcome: 'started' }).start).toBeUndefined();
    expect(inputs({ journey: 'j', outcome: 'completed' }).complete).toEqual({ journey: 'j' });
    expect(inputs({ journey: 'j', outcome: 'resolved' }).complete).toEqual({ journey: 'j' });
    expect(inputs({ journey: 'j', outcome: 'failed' }).complete).toBeUndefined();
  });
});
