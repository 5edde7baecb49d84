// A tiny Markov graph's conversion probability and removal effects, by hand.
import { describe, expect, it } from 'vitest';
import { addTransition, conversionProbability, removalEffects, type Transitions } from './markov.ts';

describe('Markov chain removal effects', () => {
  // Paths: (start) → email → web → (conversion)
  //        (start) → social → email → web → (conversion)
  //        (start) → social → web → (null)
  //        (start) → (conversion)            (a conversion with no touchpoint before it)
  // Transition probabilities: start → email 1/4, social 2/4, conversion 1/4; email → web 1;
  // social → email 1/2, web 1/2; web → conversion 2/3, null 1/3.
  const transitions: Transitions = new Map();
  const path = (states: string[]) => states.slice(1).forEach((to, i) => addTransition(transitions, states[i]!, to, 1));
  path(['(start)', 'email', 'web', '(conversion)']);
  path(['(start)', 'social', 'email', 'web', '(conversion)']);
  path(['(start)', 'social', 'web', '(null)']);
  path(['(start)', '(conversion)']);

  it('conversion probability', () => {
    // x_web = 2/3, x_email = 2/3, x_social = ½·2/3 + ½·2/3 = 2/3
    // x_start = ¼·2/3 + ½·2/3 + ¼·1 = 1/6 + 1/3 + 1/4 = 3/4
    expect(conversionProbability(transitions)).toBeCloseTo(0.75, 12);
  });

  it('removal effects', () => {
    // without web: email, social lead nowhere → x_start = ¼ → 1 − (1/4)/(3/4) = 2/3
    // without email: x_social = ½·0 + ½·2/3 = 1/3 → x_start = ½·1/3 + ¼ = 5/12 → 1 − (5/12)/(3/4) = 4/9
    // without social: x_start = ¼·2/3 + ¼ = 5/12 → 4/9
    const { base, effects } = removalEffects(transitions);
    expect(base).toBeCloseTo(0.75, 12);
    expect(effects.get('web')).toBeCloseTo(2 / 3, 12);
    expect(effects.get('email')).toBeCloseTo(4 / 9, 12);
    expect(effects.get('social')).toBeCloseTo(4 / 9, 12);
    expect([...effects.keys()].sort()).toEqual(['email', 'social', 'web']);
  });

  it('a chain without conversions has probability 0 and no effects', () => {
    const none: Transitions = new Map();
    addTransition(none, '(start)', 'web', 2);
    addTransition(none, 'web', '(null)', 2);
    const { base, effects } = removalEffects(none);
    expect(base).toBe(0);
    expect(effects.get('web')).toBe(0);
  });
});
