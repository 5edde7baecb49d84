// `touchstream train`: fit the churn-risk model on the stored history (or, with --generate, on a generated one),
// print its held-out figures and write the versioned model file the processor scores with (docs/architecture.md §22).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { environment } from '@touchstream/app';
import { createClickHouse, migrate } from '@touchstream/clickhouse';
import { defaultScoringConfig, loadRulesFile, RulesError } from '@touchstream/processor';
import { startRedis } from '@touchstream/stack';
import { progressBar } from '../progress.ts';
import { formatTrainingReport, runTraining } from './train.ts';

/** Where `train` writes and `up` reads the model when CHURN_MODEL_FILE is not set (relative to the repository). */
export const DEFAULT_CHURN_MODEL_FILE = '.data/churn-model.json';

interface TrainFlags {
  generate: boolean;
  customers: string;
  days: string;
  seed: string;
  out: string;
  rules?: string;
  prefix?: string;
  maxSamples: string;
  trees: string;
  clickhouseUrl?: string;
  clickhousePath?: string;
  keep: boolean;
  json?: string;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a whole number > 0, got ${JSON.stringify(value)}`);
  return n;
}

export function trainCommand(): Command {
  const env = environment();
  return new Command('train')
    .description('Fit the churn-risk model on the stored history, evaluate it on held-out customers and write the model file the processor scores with')
    .option('--generate', 'first generate a history (churn depending on the journey in ways the rules do not encode), run it through the real processor and store it; in a temporary ClickHouse unless --clickhouse-path/--clickhouse-url is given', false)
    .option('--customers <n>', 'customers to generate', '2000')
    .option('--days <n>', 'days of history to generate', '150')
    .option('--seed <n>', 'seed of the generator and of the forest', '7')
    .option('--out <file>', 'model file to write (default CHURN_MODEL_FILE); the processor reloads it when it changes', env.CHURN_MODEL_FILE ?? DEFAULT_CHURN_MODEL_FILE)
    .option('--rules <file>', 'rules file with the churn outcome, horizon and bands (default RULES_FILE, else the built-in rules)', env.RULES_FILE)
    .option('--prefix <text>', 'only customers whose id starts with this (default: all stored; with --generate: the generated ones)')
    .option('--max-samples <n>', 'training scoring points at most (a seeded subset; fitting time grows with its square)', '2500')
    .option('--trees <n>', 'trees in the forest', '40')
    .option('--clickhouse-url <url>', 'a ClickHouse server (default CLICKHOUSE_URL)', env.CLICKHOUSE_URL)
    .option('--clickhouse-path <dir>', 'embedded chDB directory (default CLICKHOUSE_PATH, else .data/chdb); the app must not be running on it', env.CLICKHOUSE_PATH)
    .option('--keep', 'with --generate: keep the temporary ClickHouse and Redis directory and print it', false)
    .option('--json <file>', 'also write the figures as JSON')
    .addHelpText(
      'after',
      `
Scoring points are the moments the processor scores live: right after a customer's touchpoint. A point is a churner
when the rules' churn outcome (churn.outcome, e.g. reason cancellation) follows within churn.horizon (30 d); points
whose horizon runs past the end of the history without churn are left out. Customers, not points, are split: 30 %
are held out. Printed: AUC, precision in the top decile of scores, Brier score, calibration per score decile.

Examples:
  ./touchstream train --generate                  # fresh clone: generate, process, store, train, print
  ./touchstream train --generate --customers 500  # quicker
  ./touchstream train --clickhouse-url http://ch:8123 --out /etc/touchstream/churn-model.json`,
    )
    .action(async (flags: TrainFlags) => {
      let tmp: string | undefined;
      let redisService: Awaited<ReturnType<typeof startRedis>> | undefined;
      let redis: Redis | undefined;
      try {
        const customers = positiveInt('--customers', flags.customers);
        const days = positiveInt('--days', flags.days);
        const seed = positiveInt('--seed', flags.seed);
        const maxSamples = positiveInt('--max-samples', flags.maxSamples);
        const trees = positiveInt('--trees', flags.trees);
        const config = flags.rules ? await loadRulesFile(flags.rules) : defaultScoringConfig;
        if (flags.generate) tmp = mkdtempSync(path.join(os.tmpdir(), 'touchstream-train-'));
        const clickhousePath = flags.clickhousePath ?? (tmp ? path.join(tmp, 'chdb') : '.data/chdb');
        const clickhouse = flags.clickhouseUrl ? createClickHouse({ url: flags.clickhouseUrl }) : createClickHouse({ path: clickhousePath });
        await migrate(clickhouse);
        let generate;
        if (flags.generate) {
          redisService = await startRedis({ dir: tmp!, appendfsync: 'everysec' });
          redis = new Redis(redisService.url);
          // The held-out split hashes the customer ids: in a temporary ClickHouse the ids depend on the seed only, so
          // a run is reproducible; into a named one, a fresh prefix keeps this history apart from earlier ones.
          const ownStore = !flags.clickhouseUrl && !flags.clickhousePath;
          generate = { customers, days, seed, redis, prefix: flags.prefix ?? (ownStore ? `churn-train-s${seed}` : `churn-train-${randomUUID().slice(0, 8)}`) };
        }
        mkdirSync(path.dirname(path.resolve(flags.out)), { recursive: true });
        const bar = progressBar('train [{bar}] {percentage}% · {phase}', { everyMs: 5_000 });
        bar.start(1, 0, { phase: 'starting' });
        const result = await runTraining({
          clickhouse,
          config,
          out: flags.out,
          generate,
          customerPrefix: flags.prefix,
          maxTrainingSamples: maxSamples,
          forest: { trees, seed },
          onPhase: (phase, done, total) => {
            bar.setTotal(total);
            bar.update(done, { phase });
          },
        });
        bar.stop();
        await clickhouse.close();
        console.log(formatTrainingReport(result, flags.out));
        if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ version: result.model.file.version, evaluation: result.evaluation, training: result.training, weak_signal_score_auc: result.weakSignalScoreAuc, generated: result.generated ?? null }, null, 2)}\n`);
        if (tmp && flags.keep) console.log(`kept the generated history's ClickHouse and Redis under ${tmp}`);
      } catch (err) {
        console.error(`train: ${err instanceof RulesError ? err.message : (err as Error).message}`);
        process.exitCode = 1;
      } finally {
        redis?.disconnect();
        await redisService?.stop();
        if (tmp && !flags.keep) rmSync(tmp, { recursive: true, force: true });
      }
    });
}
