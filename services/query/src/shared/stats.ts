// The statistics of the query API, free of I/O so the arithmetic is unit-tested by hand: significance tests for the
// impact of an action (the two-proportion z-test for rates and Welch's t-test for means, each with the difference
// after − before, its two-sided p-value and a 95% confidence interval), and the ratios of a 2×2 table for drivers
// (odds ratio and relative risk with their 95% intervals). The distribution functions come from jstat; the formulas
// are the textbook ones, written out so they can be checked.
import { createRequire } from 'node:module';
import type { jStat as JStat } from 'jstat';

// jstat is CommonJS whose export Node's ESM loader cannot name statically.
const { jStat } = createRequire(import.meta.url)('jstat') as { jStat: typeof JStat };

const significanceLevel = 0.05;

/** z for a two-sided 95% interval (Φ⁻¹(0.975)). */
const z95 = jStat.normal.inv(1 - significanceLevel / 2, 0, 1);

export interface TestResult {
  test: 'two_proportion_z' | 'welch_t';
  /** after − before */
  difference: number;
  /** z or t */
  statistic: number | null;
  /** Welch–Satterthwaite degrees of freedom (t-test only). */
  df?: number;
  p_value: number | null;
  ci95: [number, number] | null;
  significant: boolean;
}

/** Two-sided p-value of a standard normal statistic. */
export function normalTwoSidedP(z: number): number {
  return 2 * (1 - jStat.normal.cdf(Math.abs(z), 0, 1));
}

/**
 * Two-proportion z-test of x1/n1 (before) against x2/n2 (after). The test statistic uses the pooled proportion
 * (the null hypothesis says they are equal); the confidence interval of the difference uses the unpooled standard
 * error (Wald). Null statistic and p-value when either sample is empty or the pooled proportion is 0 or 1 (no
 * variation: the difference is 0 and nothing can be tested).
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): TestResult | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p2 - p1;
  const pooled = (x1 + x2) / (n1 + n2);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const unpooledSe = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const ci95: [number, number] = [difference - z95 * unpooledSe, difference + z95 * unpooledSe];
  if (pooledSe === 0) return { test: 'two_proportion_z', difference, statistic: null, p_value: null, ci95, significant: false };
  const z = difference / pooledSe;
  const p = normalTwoSidedP(z);
  return { test: 'two_proportion_z', difference, statistic: z, p_value: p, ci95, significant: p < significanceLevel };
}

export interface SampleSummary {
  n: number;
  mean: number;
  /** Sample variance (n − 1 in the denominator). */
  variance: number;
}

/**
 * Welch's unequal-variances t-test of `after` against `before`, from summary statistics. Needs at least two values
 * on each side; a zero standard error (both samples constant) gives no statistic.
 */
export function welchTTest(before: SampleSummary, after: SampleSummary): TestResult | null {
  if (before.n < 2 || after.n < 2) return null;
  const difference = after.mean - before.mean;
  const v1 = before.variance / before.n;
  const v2 = after.variance / after.n;
  const se = Math.sqrt(v1 + v2);
  if (se === 0) return { test: 'welch_t', difference, statistic: null, p_value: null, ci95: null, significant: false };
  const t = difference / se;
  const df = (v1 + v2) ** 2 / (v1 ** 2 / (before.n - 1) + v2 ** 2 / (after.n - 1));
  const p = 2 * (1 - jStat.studentt.cdf(Math.abs(t), df));
  const tCritical = jStat.studentt.inv(1 - significanceLevel / 2, df);
  return {
    test: 'welch_t',
    difference,
    statistic: t,
    df,
    p_value: p,
    ci95: [difference - tCritical * se, difference + tCritical * se],
    significant: p < significanceLevel,
  };
}

/** A 2×2 table: a = factor & outcome, b = no factor & outcome, c = factor & no outcome, d = no factor & no outcome. */
export interface TwoByTwo {
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface RatioWithCi {
  value: number;
  ci_low: number;
  ci_high: number;
}

/**
 * Haldane–Anscombe: when any cell is 0 the log ratios and their standard errors are infinite, so 0.5 is added to every
 * cell (the usual correction). Returns the table to compute with and whether it was corrected.
 */
export function correctedTable(t: TwoByTwo): { table: TwoByTwo; corrected: boolean } {
  if (t.a > 0 && t.b > 0 && t.c > 0 && t.d > 0) return { table: t, corrected: false };
  return { table: { a: t.a + 0.5, b: t.b + 0.5, c: t.c + 0.5, d: t.d + 0.5 }, corrected: true };
}

/** Odds ratio ad/bc with Woolf's CI: exp(ln OR ± z·√(1/a + 1/b + 1/c + 1/d)). Expects a table without zero cells. */
export function oddsRatio(t: TwoByTwo): RatioWithCi {
  const value = (t.a * t.d) / (t.b * t.c);
  const se = Math.sqrt(1 / t.a + 1 / t.b + 1 / t.c + 1 / t.d);
  return { value, ci_low: Math.exp(Math.log(value) - z95 * se), ci_high: Math.exp(Math.log(value) + z95 * se) };
}

/**
 * Lift = relative risk of the outcome with the factor vs without: [a/(a+c)] / [b/(b+d)], with the log-RR CI
 * exp(ln RR ± z·√(1/a − 1/(a+c) + 1/b − 1/(b+d))). Expects a table without zero cells.
 */
export function relativeRisk(t: TwoByTwo): RatioWithCi {
  const value = t.a / (t.a + t.c) / (t.b / (t.b + t.d));
  const se = Math.sqrt(1 / t.a - 1 / (t.a + t.c) + 1 / t.b - 1 / (t.b + t.d));
  return { value, ci_low: Math.exp(Math.log(value) - z95 * se), ci_high: Math.exp(Math.log(value) + z95 * se) };
}

/**
 * Wilson score interval (95%) of a proportion x/n: centre (p + z²/2n) / (1 + z²/n), half-width
 * z·√(p(1−p)/n + z²/4n²) / (1 + z²/n). Unlike the Wald interval it stays inside [0, 1] and is not empty at p = 0 or 1,
 * which matters for the small samples of a single touchpoint. Null when n = 0.
 */
export function wilsonInterval(x: number, n: number): [number, number] | null {
  if (n <= 0) return null;
  const p = x / n;
  const z2 = z95 * z95;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Student's t interval (95%) of a mean: mean ± t(0.975, n − 1)·s/√n. Null below two values. */
export function tInterval(s: SampleSummary): [number, number] | null {
  if (s.n < 2) return null;
  const half = jStat.studentt.inv(1 - significanceLevel / 2, s.n - 1) * Math.sqrt(Math.max(0, s.variance) / s.n);
  return [s.mean - half, s.mean + half];
}
