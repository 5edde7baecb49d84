// Held-out figures of a churn model (docs/architecture.md §22): ROC AUC, precision in the top decile of scores,
// calibration per score decile, Brier score. Pure and small; each is checked by hand-worked numbers in
// evaluate.test.ts.

export interface CalibrationRow {
  /** 1 = the lowest tenth of scores, 10 = the highest. */
  decile: number;
  samples: number;
  meanPredicted: number;
  observedRate: number;
}

export interface ChurnEvaluation {
  samples: number;
  positives: number;
  baseRate: number;
  auc: number;
  /** Churners among the highest-scored 10 % of samples. */
  precisionTopDecile: number;
  /** precisionTopDecile ÷ baseRate. */
  liftTopDecile: number;
  brier: number;
  /** Brier score of always predicting the base rate: the bar a useful model must beat. */
  brierBaseline: number;
  calibration: CalibrationRow[];
}

/** Indexes by score, highest first; ties by index so the order is deterministic. */
function byScoreDescending(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * ROC AUC as the Mann–Whitney statistic: the chance that a random churner is scored above a random non-churner,
 * ties counting half. NaN without both classes.
 */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1; // ranks from 1; ties share the mean rank
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Share of churners among the top ⌈n/10⌉ scores. */
export function precisionAtTopDecile(scores: readonly number[], labels: readonly number[]): number {
  if (scores.length === 0) return NaN;
  const top = byScoreDescending(scores).slice(0, Math.ceil(scores.length / 10));
  return top.filter((i) => labels[i] === 1).length / top.length;
}

/** Mean squared difference between predicted probability and outcome. */
export function brierScore(scores: readonly number[], labels: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += (scores[i]! - labels[i]!) ** 2;
  return sum / scores.length;
}

/** Samples sorted by score, cut into ten groups of (nearly) equal size; mean prediction vs observed rate in each. */
export function calibrationByDecile(scores: readonly number[], labels: readonly number[]): CalibrationRow[] {
  const order = byScoreDescending(scores).reverse();
  const rows: CalibrationRow[] = [];
  for (let d = 0; d < 10; d++) {
    const slice = order.slice(Math.floor((d * order.length) / 10), Math.floor(((d + 1) * order.length) / 10));
    if (slice.length === 0) continue;
    rows.push({
      decile: d + 1,
      samples: slice.length,
      meanPredicted: slice.reduce((a, i) => a + scores[i]!, 0) / slice.length,
      observedRate: slice.filter((i) => labels[i] === 1).length / slice.length,
    });
  }
  return rows;
}

export function evaluateChurnScores(scores: readonly number[], labels: readonly number[]): ChurnEvaluation {
  const positives = labels.filter((l) => l === 1).length;
  const baseRate = labels.length ? positives / labels.length : NaN;
  const precisionTopDecile = precisionAtTopDecile(scores, labels);
  return {
    samples: labels.length,
    positives,
    baseRate,
    auc: rocAuc(scores, labels),
    precisionTopDecile,
    liftTopDecile: precisionTopDecile / baseRate,
    brier: brierScore(scores, labels),
    brierBaseline: brierScore(labels.map(() => baseRate), labels),
    calibration: calibrationByDecile(scores, labels),
  };
}
