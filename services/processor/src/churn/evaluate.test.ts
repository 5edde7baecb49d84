import { describe, expect, it } from 'vitest';
import { brierScore, calibrationByDecile, evaluateChurnScores, precisionAtTopDecile, rocAuc } from './evaluate.ts';

describe('churn evaluation', () => {
  it('AUC is the share of (churner, non-churner) pairs ordered right, ties half', () => {
    // Churners 0.9 and 0.4; non-churners 0.6, 0.4, 0.1. Pairs: 0.9 beats all 3; 0.4 beats 0.1, ties 0.4, loses to 0.6
    // → (3 + 1 + 0.5) / 6 = 0.75.
    expect(rocAuc([0.9, 0.4, 0.6, 0.4, 0.1], [1, 1, 0, 0, 0])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.1, 0.2], [1, 0])).toBe(0);
    expect(rocAuc([0.3, 0.3], [1, 0])).toBe(0.5);
    expect(rocAuc([0.3, 0.4], [1, 1])).toBeNaN();
  });

  it('precision at the top decile looks at the highest ⌈n/10⌉ scores', () => {
    const scores = Array.from({ length: 20 }, (_, i) => i / 20); // top 2: 0.95, 0.9
    const labels = scores.map((_, i) => (i === 19 ? 1 : 0));
    expect(precisionAtTopDecile(scores, labels)).toBe(0.5);
  });

  it('Brier score and calibration by decile, by hand', () => {
    expect(brierScore([1, 0, 0.5], [1, 1, 0])).toBeCloseTo((0 + 1 + 0.25) / 3, 12);
    const scores = Array.from({ length: 10 }, (_, i) => (i + 0.5) / 10);
    const labels = [0, 0, 0, 0, 0, 1, 0, 1, 1, 1];
    const rows = calibrationByDecile(scores, labels);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toEqual({ decile: 1, samples: 1, meanPredicted: 0.05, observedRate: 0 });
    expect(rows[9]).toEqual({ decile: 10, samples: 1, meanPredicted: 0.95, observedRate: 1 });
    const e = evaluateChurnScores(scores, labels);
    expect(e).toMatchObject({ samples: 10, positives: 4, baseRate: 0.4, precisionTopDecile: 1 });
    expect(e.liftTopDecile).toBeCloseTo(2.5, 12);
    expect(e.brierBaseline).toBeCloseTo(0.24, 12);
    // 4 × 6 = 24 pairs, all ordered right but (churner 0.55, non-churner 0.65): 23/24.
    expect(e.auc).toBeCloseTo(23 / 24, 12);
  });
});
