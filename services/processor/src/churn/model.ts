// The churn model (docs/architecture.md §22): a random forest of regression trees on the 0/1 outcome
// (ml-random-forest), whose mean over trees is the churn probability, stored as one versioned JSON file with what
// it was trained on and how it did on held-out customers.
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { RandomForestRegression } from 'ml-random-forest';
import { churnFeatureNames } from './features.ts';
import type { ChurnEvaluation } from './evaluate.ts';

export const CHURN_MODEL_FORMAT = 'touchstream.churn-model.v1';

/** Risk bands, lowest first. `low` is everything below the `medium` threshold. */
export const churnBands = ['low', 'medium', 'high'] as const;
export type ChurnBand = (typeof churnBands)[number];

/** The rules file's `churn:` section, resolved (rules.ts). */
export interface ChurnRules {
  /** Live scoring on: needs a model file as well (CHURN_MODEL_FILE). */
  enabled: boolean;
  /** What counts as churn: a touchpoint with one of these reasons, or one of these touchpoint names. */
  outcome: { reasons: string[]; touchpoints: string[] };
  /** Churn counts for a scoring point when it happens within this long after it. */
  horizonMs: number;
  /** Probability thresholds of the bands above `low`. */
  bands: { medium: number; high: number };
  /** Entering this band (from a lower one) raises a churn_risk alert; `none`: never. */
  alertBand: ChurnBand | 'none';
}

export const defaultChurnRules: ChurnRules = {
  enabled: true,
  outcome: { reasons: ['cancellation'], touchpoints: [] },
  horizonMs: 30 * 86_400_000,
  bands: { medium: 0.25, high: 0.5 },
  alertBand: 'high',
};

export function churnBandOf(probability: number, bands: ChurnRules['bands']): ChurnBand {
  if (probability >= bands.high) return 'high';
  if (probability >= bands.medium) return 'medium';
  return 'low';
}

export const bandRank = (band: string | null): number => (band === null ? -1 : churnBands.indexOf(band as ChurnBand));

export interface ForestParams {
  trees: number;
  maxDepth: number;
  /** A node with fewer training samples is a leaf: the leaf's churn rate is an average, not one customer. */
  minLeafSamples: number;
  /** Share of the features each tree looks at. */
  maxFeatures: number;
  seed: number;
}

export const defaultForestParams: ForestParams = { trees: 40, maxDepth: 6, minLeafSamples: 15, maxFeatures: 0.6, seed: 17 };

/** The model file. */
export interface ChurnModelFile {
  format: typeof CHURN_MODEL_FORMAT;
  /** `<trained_at compact>-<8 hex of the forest's hash>`: names this model in scores and alerts. */
  version: string;
  trained_at: string;
  features: string[];
  outcome: { reasons: string[]; touchpoints: string[]; horizon_days: number };
  library: { name: string; version: string };
  params: ForestParams;
  training: { customers: number; samples: number; positives: number; source: string };
  evaluation: ChurnEvaluation & { customers: number };
  forest: unknown;
}

const requireHere = createRequire(import.meta.url);
export function forestLibrary(): { name: string; version: string } {
  const pkg = requireHere('ml-random-forest/package.json') as { name: string; version: string };
  return { name: pkg.name, version: pkg.version };
}

/** Fits the forest on feature rows and 0/1 labels. */
export function fitForest(rows: number[][], labels: number[], params: ForestParams = defaultForestParams): RandomForestRegression {
  if (rows.length === 0) throw new Error('no training samples: the history has no scoring points with a known outcome');
  const forest = new RandomForestRegression({
    nEstimators: params.trees,
    maxFeatures: params.maxFeatures,
    seed: params.seed,
    useSampleBagging: true,
    noOOB: true,
    replacement: false,
    // ml-cart's regression trees split only while a split's squared error is above gainThreshold (default 0), so a
    // split that separates churners perfectly (error 0) would be refused and the node left a mixed leaf: below 0.
    // (The root still refuses an error-0 split — it compares with a parent error of 0 — which real data never has.)
    treeOptions: { maxDepth: params.maxDepth, minNumSamples: params.minLeafSamples, gainThreshold: -1 },
  });
  forest.train(rows, labels);
  return forest;
}

/** A loaded model: predicts churn probabilities for feature rows. */
export interface ChurnModel {
  readonly file: ChurnModelFile;
  predict(rows: number[][]): number[];
}

function modelOf(file: ChurnModelFile, forest: RandomForestRegression): ChurnModel {
  return {
    file,
    predict(rows) {
      if (rows.length === 0) return [];
      return forest.predict(rows).map((p) => Math.min(1, Math.max(0, p)));
    },
  };
}

export function churnModelFromForest(forest: RandomForestRegression, meta: Omit<ChurnModelFile, 'format' | 'version' | 'forest' | 'features' | 'library'>): ChurnModel {
  const json = forest.toJSON();
  const hash = createHash('sha256').update(JSON.stringify(json)).digest('hex').slice(0, 8);
  const file: ChurnModelFile = {
    format: CHURN_MODEL_FORMAT,
    version: `${meta.trained_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${hash}`,
    ...meta,
    features: [...churnFeatureNames],
    library: forestLibrary(),
    forest: json,
  };
  return modelOf(file, forest);
}

/** A model file that cannot be used, with what to do about it. */
export class ChurnModelError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`churn model ${file}: ${problem}`);
    this.name = 'ChurnModelError';
  }
}

/** Parses and checks a model file's text: its format and that it was trained on today's features. */
export function parseChurnModel(text: string, file: string): ChurnModel {
  let parsed: ChurnModelFile;
  try {
    parsed = JSON.parse(text) as ChurnModelFile;
  } catch (err) {
    throw new ChurnModelError(file, `not JSON (${(err as Error).message}); write it with ./touchstream train`);
  }
  if (parsed?.format !== CHURN_MODEL_FORMAT) throw new ChurnModelError(file, `format is ${JSON.stringify(parsed?.format)}, expected ${CHURN_MODEL_FORMAT}`);
  const expected = churnFeatureNames.join(',');
  if ((parsed.features ?? []).join(',') !== expected) {
    throw new ChurnModelError(file, `trained on features [${(parsed.features ?? []).join(', ')}], this version computes [${churnFeatureNames.join(', ')}]: train it again (./touchstream train)`);
  }
  let forest: RandomForestRegression;
  try {
    forest = RandomForestRegression.load(parsed.forest as Parameters<typeof RandomForestRegression.load>[0]);
  } catch (err) {
    throw new ChurnModelError(file, `the forest does not load (${(err as Error).message})`);
  }
  return modelOf(parsed, forest);
}

export async function loadChurnModel(file: string): Promise<ChurnModel> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ChurnModelError(file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): train one with ./touchstream train, or check CHURN_MODEL_FILE`);
  }
  return parseChurnModel(text, file);
}

/** Writes the model atomically (a temporary file renamed over it), so a watching processor never reads half a file. */
export async function saveChurnModel(model: ChurnModel, file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(model.file)}\n`);
  await rename(tmp, file);
}
