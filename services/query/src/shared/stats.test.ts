// The significance tests against published values, and a 2×2 table's odds ratio and Woolf CI, its relative risk
// and log-RR CI, and the Haldane correction by hand.
import { describe, expect, it } from 'vitest';
import { correctedTable, normalTwoSidedP, oddsRatio, relativeRisk, tInterval, twoProportionZTest, welchTTest, wilsonInterval, type SampleSummary } from './stats.ts';

/** n, mean and sample variance of a list of numbers. */
function summarize(values: readonly number[]): SampleSummary {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { n, mean, variance };
}

describe("Welch's t-test", () => {
  // Wikipedia, "Welch's t-test", examples 1 and 2 (also reproduced by scipy.stats.ttest_ind(equal_var=False)).
  it('example 1: t = 2.46, df = 24.99, p = 0.021', () => {
    const a1 = summarize([27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]);
    const a2 = summarize([27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]);
    // means 20.82 and 22.98667: difference 2.16667
    const r = welchTTest(a1, a2)!;
    expect(r.test).toBe('welch_t');
    expect(r.difference).toBeCloseTo(2.166667, 5);
    expect(r.statistic).toBeCloseTo(2.455356, 5);
    expect(r.df).toBeCloseTo(24.988529, 4);
    expect(r.p_value).toBeCloseTo(0.021378, 5);
    // 2.16667 ± t(0.975, 24.99) · se = 2.16667 ± 2.0596 · 0.88242
    expect(r.ci95![0]).toBeCloseTo(0.349237, 4);
    expect(r.ci95![1]).toBeCloseTo(3.984096, 4);
    expect(r.significant).toBe(true);
  });

  it('example 2 (unequal sizes and variances): t = 1.57, df = 9.90, p = 0.149, not significant', () => {
    const b1 = summarize([17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8]);
    const b2 = summarize([21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8]);
    const r = welchTTest(b1, b2)!;
    expect(r.statistic).toBeCloseTo(1.565434, 5);
    expect(r.df).toBeCloseTo(9.904741, 4);
    expect(r.p_value).toBeCloseTo(0.148842, 5);
    expect(r.ci95![0]).toBeCloseTo(-0.648421, 4);
    expect(r.ci95![1]).toBeCloseTo(3.698421, 4);
    expect(r.significant).toBe(false);
  });

  it('needs two values per side and some variation', () => {
    expect(welchTTest({ n: 1, mean: 3, variance: 0 }, { n: 5, mean: 4, variance: 1 })).toBeNull();
    expect(welchTTest(summarize([2, 2, 2]), summarize([3, 3]))).toMatchObject({ difference: 1, statistic: null, p_value: null, significant: false });
  });
});

describe('two-proportion z-test', () => {
  it('the Physicians\u2019 Health Study (aspirin and heart attacks; Agresti): z = −5.00', () => {
    // placebo 189 / 11034 = 0.017129, aspirin 104 / 11037 = 0.009423; pooled 293 / 22071 = 0.013275
    // se0 = sqrt(0.013275 · 0.986725 · (1/11034 + 1/11037)) = 0.0015408; z = −0.0077060 / 0.0015408 = −5.0014
    const r = twoProportionZTest(189, 11034, 104, 11037)!;
    expect(r.test).toBe('two_proportion_z');
    expect(r.difference).toBeCloseTo(-0.007706, 6);
    expect(r.statistic).toBeCloseTo(-5.001388, 5);
    expect(r.p_value!).toBeCloseTo(5.6919e-7, 10);
    // Wald interval: −0.0077060 ± 1.96 · 0.0015400
    expect(r.ci95![0]).toBeCloseTo(-0.010724, 6);
    expect(r.ci95![1]).toBeCloseTo(-0.004688, 6);
    expect(r.significant).toBe(true);
  });

  it('50 / 100 against 65 / 100: z = 2.146, p = 0.0319', () => {
    // pooled 115 / 200 = 0.575; se0 = sqrt(0.575 · 0.425 · 0.02) = 0.069911; z = 0.15 / 0.069911 = 2.14560
    const r = twoProportionZTest(50, 100, 65, 100)!;
    expect(r.statistic).toBeCloseTo(2.145596, 5);
    expect(r.p_value).toBeCloseTo(0.031905, 5);
    // 0.15 ± 1.96 · sqrt(0.5 · 0.5 / 100 + 0.65 · 0.35 / 100) = 0.15 ± 1.96 · 0.069101
    expect(r.ci95![0]).toBeCloseTo(0.014564, 5);
    expect(r.ci95![1]).toBeCloseTo(0.285436, 5);
    expect(r.significant).toBe(true);
  });

  it('z = 1.96 is the two-sided 5% point', () => {
    expect(normalTwoSidedP(1.959964)).toBeCloseTo(0.05, 6);
    expect(normalTwoSidedP(0)).toBe(1);
  });

  it('no test without data or without variation', () => {
    expect(twoProportionZTest(0, 0, 3, 10)).toBeNull();
    expect(twoProportionZTest(10, 10, 5, 5)).toMatchObject({ difference: 0, statistic: null, p_value: null, significant: false });
  });
});

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

describe('confidence intervals of one sample', () => {
  it('Wilson: 0 of 10 is [0, 0.2775] (the textbook figure), 5 of 10 symmetric about 0.5, none for n = 0', () => {
    const [low, high] = wilsonInterval(0, 10)!;
    expect(low).toBe(0);
    expect(high).toBeCloseTo(0.277533, 5);
    // 5/10: centre 0.5; half = 1.959964·√(0.025 + 3.841459/400) / 1.384146 = 0.268059
    const [l5, h5] = wilsonInterval(5, 10)!;
    expect(l5).toBeCloseTo(0.236593, 5);
    expect(h5).toBeCloseTo(0.763407, 5);
    expect(wilsonInterval(0, 0)).toBeNull();
  });

  it('t: [1, 2, 3] has mean 2, s² = 1, t(0.975, 2) = 4.302653 → 2 ± 2.484138; none below two values', () => {
    const [low, high] = tInterval({ n: 3, mean: 2, variance: 1 })!;
    expect(low).toBeCloseTo(-0.484138, 5);
    expect(high).toBeCloseTo(4.484138, 5);
    expect(tInterval({ n: 1, mean: 2, variance: 0 })).toBeNull();
  });
});
