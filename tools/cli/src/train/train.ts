// `touchstream train`: the churn model fitted on the stored history, evaluated on held-out customers and written as
// a versioned model file (docs/architecture.md §22). With --generate, the history is generated first (generator.ts),
// run through the real processor on a private Redis and stored as the sink stores it.
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { Cluster, Redis } from 'ioredis';
import { saveChurnModel, trainChurnModel, type ForestParams, type ScoringConfig, type TrainingResult } from '@touchstream/processor';
import { generateChurnHistory, type GeneratedHistory } from './generator.ts';
import { processGeneratedHistory, readHistories } from './history.ts';

export interface TrainRunOptions {
  clickhouse: ClickHouseClient;
  /** The rules in force: the churn outcome, horizon, half-life and sentiment memory come from them. */
  config: ScoringConfig;
  out: string;
  /** Generate a history first: needs a Redis for the processor's state. */
  generate?: { customers: number; days: number; seed: number; redis: Redis | Cluster; prefix: string; endMs?: number };
  /** Only customers whose id starts with this (default: all; with --generate, the generated ones). */
  customerPrefix?: string;
  maxTrainingSamples?: number;
  forest?: Partial<ForestParams>;
  onPhase?: (phase: string, done: number, total: number) => void;
}

export interface TrainRunResult extends TrainingResult {
  generated?: Omit<GeneratedHistory, 'events'> & { events: number; signals: number };
  customers: number;
}

export async function runTraining(opts: TrainRunOptions): Promise<TrainRunResult> {
  let generated: TrainRunResult['generated'];
  let prefix = opts.customerPrefix;
  if (opts.generate) {
    const g = opts.generate;
    opts.onPhase?.('generating', 0, 1);
    const history = generateChurnHistory({ customers: g.customers, days: g.days, seed: g.seed, prefix: g.prefix, endMs: g.endMs });
    opts.onPhase?.('generating', 1, 1);
    const { signals } = await processGeneratedHistory({
      events: history.events,
      redis: g.redis,
      clickhouse: opts.clickhouse,
      config: opts.config,
      runId: g.prefix,
      onProgress: (done, total) => opts.onPhase?.('processing and storing', done, total),
    });
    generated = { ...history, events: history.events.length, signals };
    prefix ??= g.prefix;
  }
  opts.onPhase?.('reading history', 0, 1);
  const { histories, endMicros } = await readHistories(opts.clickhouse, { customerPrefix: prefix });
  opts.onPhase?.('reading history', 1, 1);
  if (histories.length === 0) {
    throw new Error(`no stored touchpoints${prefix ? ` of customers starting with ${prefix}` : ''}: ingest some history first, or run with --generate`);
  }
  const result = trainChurnModel(histories, {
    halfLifeMs: opts.config.halfLifeMs,
    sentimentCount: opts.config.signals.sentiment_decline.count,
    outcome: opts.config.churn.outcome,
    horizonMs: opts.config.churn.horizonMs,
    historyEndMicros: endMicros,
    maxTrainingSamples: opts.maxTrainingSamples,
    forest: opts.forest,
    source: generated ? `generated: ${generated.customers} customers, ${generated.events} touchpoints, seed ${opts.generate!.seed}` : `ClickHouse history: ${histories.length} customers`,
    onPhase: (phase, done, total) => opts.onPhase?.(phase === 'features' ? 'replaying journeys' : phase === 'fit' ? 'fitting the forest' : 'evaluating', done, total),
  });
  await saveChurnModel(result.model, opts.out);
  return { ...result, generated, customers: histories.length };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The printed figures (also what the README quotes). */
export function formatTrainingReport(r: TrainRunResult, out: string): string {
  const e = r.evaluation;
  const lines: string[] = [];
  if (r.generated) {
    lines.push(`history: generated ${r.generated.customers} customers over ${Math.round((r.generated.endMs - r.generated.startMs) / 86_400_000)} days, ${r.generated.events} touchpoints, ${r.generated.signals} signals, ${r.generated.churned} churned`);
  }
  lines.push(
    `model ${r.model.file.version} (${r.model.file.library.name} ${r.model.file.library.version}, ${r.model.file.params.trees} trees, depth ≤ ${r.model.file.params.maxDepth}) → ${out}`,
    `training: ${r.training.customers} customers, ${r.training.samples} scoring points, ${r.training.positives} churned within ${r.model.file.outcome.horizon_days} d`,
    `held out: ${e.customers} customers, ${e.samples} scoring points, ${e.positives} churned (base rate ${pct(e.baseRate)})`,
    '',
    `  AUC                        ${e.auc.toFixed(3)}   (weak-signal score alone: ${r.weakSignalScoreAuc.toFixed(3)})`,
    `  precision, top decile      ${pct(e.precisionTopDecile)}   (lift ${e.liftTopDecile.toFixed(1)}×)`,
    `  Brier score                ${e.brier.toFixed(4)}   (base rate alone: ${e.brierBaseline.toFixed(4)})`,
    '',
    '  calibration by score decile',
    '  decile  points  mean predicted  observed',
    ...e.calibration.map((c) => `  ${String(c.decile).padStart(6)}  ${String(c.samples).padStart(6)}  ${pct(c.meanPredicted).padStart(14)}  ${pct(c.observedRate).padStart(8)}`),
  );
  return lines.join('\n');
}
