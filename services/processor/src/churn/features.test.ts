// The one feature definition, checked on a hand-worked customer: the state hash as the processor writes it (live
// scoring) and the stored history replayed (training) give the same ChurnState and the same vector, by hand.
import { describe, expect, it } from 'vitest';
import { churnFeatureNames, churnFeatures, churnStateFromHash, hashFromFieldValues, churnStateFields } from './features.ts';
import { replayChurnStates } from './history.ts';

const DAY = 86_400_000_000;
const T = 1_717_200_000_000_000; // 2024-06-01T00:00:00Z in µs
const opts = { halfLifeMs: 72 * 3_600_000, sentimentCount: 3 };

// Three touchpoints over three days; the second raises negative_sentiment (2), the third negative_sentiment (2) and
// repeat_contact (3). Score by hand (half-life 3 days): 0 → 2 → 2·2^(−2/3) + 5 = 6.259921049894873.
const touchpoints = [
  { event_id: 'e1', occurred_at: T, sentiment: 0.5 },
  { event_id: 'e2', occurred_at: T + DAY, sentiment: -0.5 },
  { event_id: 'e3', occurred_at: T + 3 * DAY, sentiment: -0.7 },
];
const signals = [
  { type: 'negative_sentiment', weight: 2, event_id: 'e2', occurred_at: T + DAY },
  { type: 'negative_sentiment', weight: 2, event_id: 'e3', occurred_at: T + 3 * DAY },
  { type: 'repeat_contact', weight: 3, event_id: 'e3', occurred_at: T + 3 * DAY },
];
// What apply-touchpoints.lua leaves in ts:{c}:state after the same three (numbers as %.17g strings).
const hash: Record<string, string> = {
  events: '3',
  signals: '3',
  'signals:negative_sentiment': '2',
  'signals:repeat_contact': '1',
  first_occurred_at: String(T),
  last_occurred_at: String(T + 3 * DAY),
  score: '6.2599210498948734',
  score_at: String(T + 3 * DAY),
  sentiments: JSON.stringify([[String(T), '0.5'], [String(T + DAY), '-0.5'], [String(T + 3 * DAY), '-0.69999999999999996']]),
  level: 'watch',
  last_event_id: 'e3',
};

const expected: Record<string, number> = {
  events: 3,
  tenure_days: 3,
  contacts_per_week: 7,
  score: 6.259921049894873,
  signals_per_event: 1,
  signals_negative_sentiment: 2,
  signals_repeat_contact: 1,
  sentiment_last: -0.7,
  sentiment_mean: -0.7 / 3,
  sentiment_trend: -1.2,
};

function named(vector: number[]): Record<string, number> {
  return Object.fromEntries(churnFeatureNames.map((n, i) => [n, vector[i]!]));
}

describe('churn features', () => {
  it('compute the hand-worked vector from the live state hash', () => {
    const f = named(churnFeatures(churnStateFromHash(hash)));
    for (const [name, value] of Object.entries(expected)) expect(f[name], name).toBeCloseTo(value, 12);
    // Every other signal type counts 0.
    expect(Object.entries(f).filter(([n, v]) => n.startsWith('signals_') && n !== 'signals_per_event' && !(n in expected) && v !== 0)).toEqual([]);
  });

  it('compute the same vector from the stored history replayed', () => {
    const states = replayChurnStates(touchpoints, signals, opts);
    expect(states).toHaveLength(3);
    const live = churnFeatures(churnStateFromHash(hash));
    const replayed = churnFeatures(states[2]!);
    replayed.forEach((v, i) => expect(v, churnFeatureNames[i]).toBeCloseTo(live[i]!, 12));
    // And the state after each earlier touchpoint, as training samples it.
    expect(named(churnFeatures(states[0]!))).toMatchObject({ events: 1, tenure_days: 0, contacts_per_week: 7, score: 0, sentiment_trend: 0, sentiment_last: 0.5 });
    expect(named(churnFeatures(states[1]!))).toMatchObject({ events: 2, score: 2, signals_negative_sentiment: 1, sentiment_trend: -1 });
  });

  it('count a fired journey timer at its due time, and keep only the newest sentiments', () => {
    const states = replayChurnStates(
      [
        { event_id: 'a', occurred_at: T, sentiment: 0.9 },
        { event_id: 'b', occurred_at: T + DAY, sentiment: 0.6 },
        { event_id: 'c', occurred_at: T + 2 * DAY, sentiment: 0.3 },
        { event_id: 'd', occurred_at: T + 3 * DAY, sentiment: 0 },
      ],
      // The timer of `a` fired at T + 2 d (before c, which has the same time): 3 decayed over 1 d at d.
      [{ type: 'journey_not_completed', weight: 3, event_id: 'a', occurred_at: T + 2 * DAY }],
      opts,
    );
    expect(states[1]!.score).toBe(0);
    expect(states[2]!.score).toBe(3);
    expect(states[3]!.score).toBeCloseTo(3 * 2 ** (-1 / 3), 12);
    expect(states[3]!.sentiments).toEqual([0.6, 0.3, 0]);
    expect(states[3]!.signalsByType).toEqual({ journey_not_completed: 1 });
  });

  it('read a customer the processor has not seen as zeros, from the script reply', () => {
    const values = churnStateFields.map(() => false as const);
    const state = churnStateFromHash(hashFromFieldValues(values));
    expect(churnFeatures(state).every((v) => v === 0)).toBe(true);
  });
});
