// Significance tests for the impact of an action: the two-proportion z-test for rates and Welch's t-test for means,
// each with the difference (after − before), its two-sided p-value and a 95% confidence interval. The distribution
// functions come from jstat; the formulas are the textbook ones, written out so they can be checked.
import { createRequire } from 'node:module';
import type { jStat as JStat } from 'jstat';

// jstat is CommonJS whose export Node's ESM loader cannot name statically.
const { jStat } = createRequire(import.meta.url)('jstat') as { jStat: typeof JStat };

export const significanceLevel = 0.05;

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
  const zCritical = jStat.normal.inv(1 - significanceLevel / 2, 0, 1);
  const ci95: [number, number] = [difference - zCritical * unpooledSe, difference + zCritical * unpooledSe];
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

/** n, mean and sample variance of a list of numbers (for tests and small inputs). */
export function summarize(values: readonly number[]): SampleSummary {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { n, mean, variance };
}
