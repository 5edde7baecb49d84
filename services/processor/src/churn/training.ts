// From stored history to a fitted, evaluated churn model (docs/architecture.md §22). No I/O: the caller reads the
// history (ClickHouse) and writes the model file.
//
// Scoring points: the moments the processor scores live — right after a customer's touchpoint. A point's label
// is whether the customer churned (the rules' outcome) within the horizon after it; a point whose horizon runs past
// the end of the history without churn is left out (its outcome is not known yet), as is everything from the
// churn on. Customers are split, not points: a held-out customer contributes no point to training.
import { createHash } from 'node:crypto';
import { churnFeatureNames, churnFeatures } from './features.ts';
import { evaluateChurnScores, rocAuc, type ChurnEvaluation } from './evaluate.ts';
import { replayChurnStates, type HistorySignal, type HistoryTouchpoint, type ReplayOptions } from './history.ts';
import { churnModelFromForest, defaultForestParams, fitForest, type ChurnModel, type ChurnRules, type ForestParams } from './model.ts';
import { seededRng } from '@touchstream/runtime';

export interface CustomerHistory {
  customer_id: string;
  /** Ordered by event time. */
  touchpoints: Array<HistoryTouchpoint & { touchpoint: string; reason: string | null }>;
  signals: HistorySignal[];
}

export interface TrainingOptions extends ReplayOptions {
  outcome: ChurnRules['outcome'];
  horizonMs: number;
  /** The end of the history (µs): points whose horizon ends later are unlabelled unless they churned. */
  historyEndMicros: number;
  /** Share of customers held out for evaluation. */
  holdout?: number;
  /** Scoring points drawn per customer at most. */
  pointsPerCustomer?: number;
  /** Training points at most (the forest's fit grows with the square of this): a seeded random subset. */
  maxTrainingSamples?: number;
  forest?: Partial<ForestParams>;
  /** Describes where the history came from, for the model file. */
  source: string;
  now?: () => Date;
  onPhase?: (phase: 'features' | 'fit' | 'evaluate', done: number, total: number) => void;
}

export interface LabelledPoint {
  customer_id: string;
  features: number[];
  label: 0 | 1;
}


/** Whether a customer is held out: a hash of the id and the seed, so the split is stable and independent of order. */
export function isHeldOut(customerId: string, seed: number, holdout: number): boolean {
  const h = createHash('sha256').update(`${seed}\0${customerId}`).digest();
  return h.readUInt32BE(0) / 2 ** 32 < holdout;
}

export function isChurnEvent(tp: { touchpoint: string; reason: string | null }, outcome: ChurnRules['outcome']): boolean {
  return (tp.reason !== null && outcome.reasons.includes(tp.reason)) || outcome.touchpoints.includes(tp.touchpoint);
}

/** The labelled scoring points of one customer (at most `max`, drawn with `random`). */
export function labelledPoints(history: CustomerHistory, opts: TrainingOptions, max: number, random: () => number): LabelledPoint[] {
  const horizonUs = opts.horizonMs * 1000;
  const churnIndex = history.touchpoints.findIndex((tp) => isChurnEvent(tp, opts.outcome));
  const before = churnIndex === -1 ? history.touchpoints : history.touchpoints.slice(0, churnIndex);
  const churnAt = churnIndex === -1 ? null : history.touchpoints[churnIndex]!.occurred_at;
  const states = replayChurnStates(before, history.signals, opts);
  const candidates: LabelledPoint[] = [];
  states.forEach((state, k) => {
    const t = before[k]!.occurred_at;
    const churned = churnAt !== null && churnAt - t <= horizonUs;
    if (!churned && t + horizonUs > opts.historyEndMicros) return;
    candidates.push({ customer_id: history.customer_id, features: churnFeatures(state), label: churned ? 1 : 0 });
  });
  // A seeded partial shuffle: `max` points spread over the customer's life.
  for (let i = 0; i < Math.min(max, candidates.length); i++) {
    const j = i + Math.floor(random() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  return candidates.slice(0, max);
}

export interface TrainingResult {
  model: ChurnModel;
  evaluation: ChurnEvaluation & { customers: number };
  training: { customers: number; samples: number; positives: number };
  /** The held-out AUC of the weak-signal score alone (§4.5): what the rules already tell, for comparison. */
  weakSignalScoreAuc: number;
}

export function trainChurnModel(histories: readonly CustomerHistory[], opts: TrainingOptions): TrainingResult {
  const params: ForestParams = { ...defaultForestParams, ...opts.forest };
  const holdout = opts.holdout ?? 0.3;
  const random = seededRng(params.seed);
  const train: LabelledPoint[] = [];
  const test: LabelledPoint[] = [];
  const trainCustomers = new Set<string>();
  const testCustomers = new Set<string>();
  histories.forEach((h, i) => {
    const points = labelledPoints(h, opts, opts.pointsPerCustomer ?? 3, random);
    const held = isHeldOut(h.customer_id, params.seed, holdout);
    if (points.length) (held ? testCustomers : trainCustomers).add(h.customer_id);
    (held ? test : train).push(...points);
    if (i % 200 === 0 || i === histories.length - 1) opts.onPhase?.('features', i + 1, histories.length);
  });
  let fitOn = train;
  const cap = opts.maxTrainingSamples ?? 2500;
  if (train.length > cap) {
    const copy = [...train];
    for (let i = 0; i < cap; i++) {
      const j = i + Math.floor(random() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    fitOn = copy.slice(0, cap);
  }
  if (!fitOn.some((p) => p.label === 1) || !fitOn.some((p) => p.label === 0)) {
    throw new Error(`the training points have ${fitOn.some((p) => p.label === 1) ? 'no non-churner' : 'no churner'}: check the churn outcome in the rules (churn.outcome) and that the history is longer than the horizon`);
  }
  opts.onPhase?.('fit', 0, 1);
  const forest = fitForest(fitOn.map((p) => p.features), fitOn.map((p) => p.label), params);
  opts.onPhase?.('fit', 1, 1);
  const model0 = { predict: (rows: number[][]) => forest.predict(rows).map((p) => Math.min(1, Math.max(0, p))) };
  const scores = model0.predict(test.map((p) => p.features));
  const evaluation = { ...evaluateChurnScores(scores, test.map((p) => p.label)), customers: testCustomers.size };
  opts.onPhase?.('evaluate', 1, 1);
  const training = { customers: trainCustomers.size, samples: fitOn.length, positives: fitOn.filter((p) => p.label === 1).length };
  const model = churnModelFromForest(forest, {
    trained_at: (opts.now?.() ?? new Date()).toISOString(),
    outcome: { reasons: opts.outcome.reasons, touchpoints: opts.outcome.touchpoints, horizon_days: opts.horizonMs / 86_400_000 },
    params,
    training: { ...training, source: opts.source },
    evaluation,
  });
  const scoreAt = churnFeatureNames.indexOf('score');
  const weakSignalScoreAuc = rocAuc(test.map((p) => p.features[scoreAt]!), test.map((p) => p.label));
  return { model, evaluation, training, weakSignalScoreAuc };
}
