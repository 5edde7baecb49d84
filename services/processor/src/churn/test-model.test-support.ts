// A small churn model for tests that need the processor to score (§22): customers with negative sentiment and its
// signals score high, the others low. Fitted on generated states with a little label noise (as real outcomes have).
import { churnFeatures, type ChurnState } from './features.ts';
import { churnModelFromForest, defaultForestParams, fitForest, saveChurnModel, type ChurnModel } from './model.ts';

export function testChurnModel(trainedAt = new Date(Date.UTC(2026, 0, 1))): ChurnModel {
  const rows: number[][] = [];
  const labels: number[] = [];
  let seed = 11;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let k = 0; k < 200; k++) {
    const unhappy = k % 2 === 1;
    const n = 1 + Math.floor(random() * 3);
    const sentiments = Array.from({ length: n }, () => (unhappy ? -0.5 - random() * 0.4 : 0.2 + random() * 0.7));
    const negatives = unhappy ? n + Math.floor(random() * 3) : 0;
    const state: ChurnState = {
      events: n + Math.floor(random() * 4),
      signals: negatives,
      signalsByType: unhappy ? { negative_sentiment: negatives } : {},
      firstOccurredAt: 0,
      lastOccurredAt: random() * 6 * 3_600_000_000,
      score: unhappy ? 2 * negatives : 0,
      sentiments,
    };
    rows.push(churnFeatures(state));
    // ml-cart never splits a root that separates perfectly: a little noise.
    labels.push(unhappy !== (k % 20 === 0) ? 1 : 0);
  }
  const params = { ...defaultForestParams, trees: 10, minLeafSamples: 5 };
  const forest = fitForest(rows, labels, params);
  return churnModelFromForest(forest, {
    trained_at: trainedAt.toISOString(),
    outcome: { reasons: ['cancellation'], touchpoints: [], horizon_days: 30 },
    params,
    training: { customers: 200, samples: 200, positives: 100, source: 'test' },
    evaluation: { samples: 0, positives: 0, baseRate: 0.5, auc: 1, precisionTopDecile: 1, liftTopDecile: 2, brier: 0, brierBaseline: 0.25, calibration: [], customers: 0 },
  });
}

export async function writeTestChurnModel(file: string, trainedAt?: Date): Promise<ChurnModel> {
  const model = testChurnModel(trainedAt);
  await saveChurnModel(model, file);
  return model;
}
