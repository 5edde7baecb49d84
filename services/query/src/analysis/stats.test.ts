// The statistics by hand: a 2×2 table's odds ratio and Woolf CI, its relative risk and log-RR CI, the Haldane
// correction, and a tiny Markov graph's conversion probability and removal effects.
import { describe, expect, it } from 'vitest';
import { addTransition, conversionProbability, correctedTable, oddsRatio, relativeRisk, removalEffects, type Transitions } from './stats.ts';

describe('2×2 table', () => {
  // a = 3 (factor & outcome), b = 1 (outcome, no factor), c = 2 (factor, no outcome), d = 4 (neither)
  const table = { a: 3, b: 1, c: 2, d: 4 };

  it('odds ratio ad/bc with the Woolf CI', () => {
    // OR = (3·4)/(1·2) = 6
    // SE(ln OR) = √(1/3 + 1/1 + 1/2 + 1/4) = √2.083333 = 1.443376
    // ln 6 = 1.791759; ± 1.959964 · 1.443376 = ± 2.828964 → exp(−1.037205) = 0.354444, exp(4.620724) = 101.5675
    const or = oddsRatio(table);
    expect(or.value).toBeCloseTo(6, 10);
    expect(or.ci_low).toBeCloseTo(0.354444, 5);
    expect(or.ci_high).toBeCloseTo(101.5675, 3);
  });

  it('lift = relative risk with the log-RR CI', () => {
    // risk with factor 3/5 = 0.6, without 1/5 = 0.2 → RR = 3
    // SE(ln RR) = √(1/3 − 1/5 + 1/1 − 1/5) = √0.933333 = 0.966092
    // ln 3 = 1.098612; ± 1.959964 · 0.966092 = ± 1.893505 → exp(−0.794893) = 0.451630, exp(2.992118) = 19.9278
    const rr = relativeRisk(table);
    expect(rr.value).toBeCloseTo(3, 10);
    expect(rr.ci_low).toBeCloseTo(0.45163, 5);
    expect(rr.ci_high).toBeCloseTo(19.9278, 3);
  });

  it('adds 0.5 to every cell only when a cell is zero', () => {
    expect(correctedTable(table)).toEqual({ table, corrected: false });
    // a = 1, b = 3, c = 0, d = 6 → 1.5, 3.5, 0.5, 6.5; OR = (1.5·6.5)/(3.5·0.5) = 9.75/1.75 = 5.571429
    const { table: t, corrected } = correctedTable({ a: 1, b: 3, c: 0, d: 6 });
    expect(corrected).toBe(true);
    expect(t).toEqual({ a: 1.5, b: 3.5, c: 0.5, d: 6.5 });
    expect(oddsRatio(t).value).toBeCloseTo(5.571429, 5);
  });
});

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
