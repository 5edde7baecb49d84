// `touchstream quality`: detection quality, measured. Posts labelled journeys through ingest, reads what the
// processor raised on signals.v1 / alerts.v1, and prints precision, recall and delays per signal type.
// Without --url it starts its own stack (Kafka, Redis, chDB, all services) in a temporary directory, with a
// rules file that makes the timed journey expire after --timer-seconds instead of 48 h.
import { environment } from '@touchstream/app';
import { DEMO_WRITE_KEY } from '../demo/keys.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createKafka } from '@touchstream/kafka';
import { TIMED_JOURNEY } from './generator.ts';
import { formatReportTable, defaultTargets } from './report.ts';
import { runQuality, type QualityRunResult } from './run.ts';
import { sentimentQualityCommand } from './sentiment.ts';
import { anomalyQualityCommand } from './anomalies.ts';

interface QualityFlags {
  events: string;
  seed: string;
  url?: string;
  key: string;
  brokers?: string;
  timerSeconds: string;
  batch: string;
  concurrency: string;
  rate: string;
  maxWaitSeconds: string;
  keep: boolean;
  json?: string;
}

/** The rules the quality run needs from the stack under test: the timed journey expires quickly. */
export function qualityRulesDocument(timerExpectedMs: number): string {
  return `${JSON.stringify({
    version: 'quality-run',
    overrides: { journeys: { [TIMED_JOURNEY]: { journey_not_completed: { expected_duration: `${timerExpectedMs}ms` } } } },
  }, null, 2)}\n`;
}

/** The environment variable through which `touchstream run` reads its rules file. */
export const RULES_FILE_ENV = 'RULES_FILE';

function bars() {
  const multi = new cliProgress.MultiBar(
    { format: '{label} [{bar}] {percentage}% · {value}/{total}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const made = new Map<string, cliProgress.SingleBar>();
  return {
    update(label: string, done: number, total: number) {
      let bar = made.get(label);
      if (!bar) {
        bar = multi.create(total, 0, { label });
        made.set(label, bar);
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop: () => multi.stop(),
  };
}

function printResult(result: QualityRunResult, flags: QualityFlags, against: string) {
  console.log(`\nDetection quality — ${result.postedEvents} events, ${result.customers} customers, ${result.labels} labelled signals, seed ${flags.seed}, against ${against}`);
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(`machine: ${os.cpus().length} CPUs, load average ${load} at the end of the run`);
  console.log(`posted in ${result.postSeconds.toFixed(1)} s (${Math.round(result.postedEvents / result.postSeconds)} events/s${Number(flags.rate) ? `, paced at ${flags.rate}/s` : ', unpaced'}, ${flags.batch} per request); waited ${result.waitSeconds.toFixed(1)} s for signals${result.rejectedEvents ? `; ${result.rejectedEvents} events REJECTED by ingest` : ''}\n`);
  console.log(formatReportTable(result.report));
  const b = result.report.backfill;
  console.log(`\nBackfill (older than 30 days): ${b.events} touchpoints recorded ${b.signals} signals (allowed: state and history) and raised ${b.alerts} alerts (must be 0).`);
  console.log('Delay: from the 202 of the POST that carried the triggering event (journey_not_completed: from its due time) to the record on signals.v1 / the first alert on alerts.v1 listing the signal.');
  const withExamples = result.report.rows.filter((r) => r.falsePositives.length || r.falseNegatives.length);
  if (withExamples.length) {
    console.log('\nExamples to look at (customer event_id; the customer id names the story):');
    for (const r of withExamples) {
      if (r.falseNegatives.length) console.log(`  ${r.type} missed:     ${r.falseNegatives.join(', ')}`);
      if (r.falsePositives.length) console.log(`  ${r.type} unexpected: ${r.falsePositives.join(', ')}`);
    }
  }
  const timer = result.report.rows.find((r) => r.type === 'journey_not_completed');
  if (flags.url && timer && timer.labelled > 0 && timer.predicted === 0) {
    console.log(`\nNo journey timer fired: does the stack's rules file give journey "${TIMED_JOURNEY}" an expected duration of ${flags.timerSeconds} s? (see --help)`);
  }
  if (result.report.misses.length) {
    console.log(`\n✖ targets missed (precision ≥ ${defaultTargets.minPrecision}, recall ≥ ${defaultTargets.minRecall}, median delay ≤ ${defaultTargets.maxMedianDelayMs} ms):`);
    for (const m of result.report.misses) console.log(`  - ${m}`);
  } else {
    console.log(`\n✔ every signal meets precision ≥ ${defaultTargets.minPrecision}, recall ≥ ${defaultTargets.minRecall} and median delay ≤ ${defaultTargets.maxMedianDelayMs} ms`);
  }
}

export function qualityCommand(): Command {
  return new Command('quality')
    .description('Measure detection quality: post labelled journeys (positives and near misses), then print precision, recall and delays per signal; exits 1 when a target is missed. `quality sentiment`: the text-sentiment scorer on its labelled set; `quality anomalies`: KPI deviation alerts on generated weeks of traffic')
    .addCommand(sentimentQualityCommand())
    .addCommand(anomalyQualityCommand())
    .option('--events <n>', 'touchpoints to post (at least)', '100000')
    .option('--seed <n>', 'random seed of the labelled journeys', '1')
    .option('--url <url>', 'ingest of a running stack (default: start a temporary stack of its own)')
    .option('--key <key>', 'write key of that ingest', environment().TOUCHSTREAM_WRITE_KEY ?? DEMO_WRITE_KEY)
    .option('--brokers <host:port,…>', 'Kafka of that stack, to read signals.v1 and alerts.v1 (with --url)', environment().KAFKA_BROKERS)
    .option('--timer-seconds <s>', `expected duration of journey "${TIMED_JOURNEY}" in the stack's rules (its own stack is configured with it)`, '120')
    .option('--rate <events/s>', 'post at this steady rate (0: as fast as ingest takes them, which measures backlog, not live delay)', '1000')
    .option('--batch <n>', 'events per request (whole customer stories)', '100')
    .option('--concurrency <n>', 'requests in flight', '4')
    .option('--max-wait-seconds <s>', 'longest wait for signals after the last due time', '120')
    .option('--keep', 'keep the temporary stack directory (logs, data) for inspection')
    .option('--json <file>', 'also write the figures (and the run parameters) as JSON to this file')
    .addHelpText('after', `
Against a running stack (--url, --key, --brokers), its rules file must give journey "${TIMED_JOURNEY}" an
expected duration of --timer-seconds, e.g. (JSON or YAML):
  ${qualityRulesDocument(120_000).replace(/\s+/g, ' ').trim()}
Targets: precision ≥ 0.9 and recall ≥ 0.9 for every signal, median delay ≤ 1 s.`)
    .action(async (flags: QualityFlags) => {
      const numbers = { events: Number(flags.events), seed: Number(flags.seed), timer: Number(flags.timerSeconds), batch: Number(flags.batch), concurrency: Number(flags.concurrency), rate: Number(flags.rate), maxWait: Number(flags.maxWaitSeconds) };
      for (const [name, v] of Object.entries(numbers)) {
        if (!Number.isFinite(v) || v < 0) {
          console.error(`✖ --${name} must be a number ≥ 0 (see touchstream quality --help)`);
          process.exit(2);
        }
      }
      const timerExpectedMs = numbers.timer * 1000;
      let url = flags.url;
      let writeKey = flags.key;
      let brokers = flags.brokers?.split(',');
      let teardown = async () => undefined as void;
      let against: string;
      if (url) {
        if (!brokers?.length) {
          console.error('✖ with --url, give --brokers (or KAFKA_BROKERS) of the same stack: the signals are read from its signals.v1');
          process.exit(2);
        }
        against = url;
      } else {
        const started = await startOwnStack(timerExpectedMs, flags.keep);
        url = started.url;
        writeKey = started.writeKey;
        brokers = started.brokers;
        teardown = started.stop;
        against = `its own stack (${started.dir})`;
      }
      const progress = bars();
      // Ctrl-C: stop the bars and the stack of our own (its engines would die with us, but not its temp dir).
      process.once('SIGINT', () => {
        progress.stop();
        console.error('\ninterrupted: stopping…');
        void teardown().finally(() => process.exit(130));
      });
      let result: QualityRunResult;
      try {
        result = await runQuality({
          url,
          writeKey,
          kafka: createKafka({ brokers: brokers!, clientId: 'touchstream-quality' }),
          events: numbers.events,
          seed: numbers.seed,
          timerExpectedMs,
          customerPrefix: `q-${randomUUID().slice(0, 6)}-`,
          batchEvents: numbers.batch,
          concurrency: numbers.concurrency,
          eventsPerSecond: numbers.rate,
          maxWaitMs: numbers.maxWait * 1000,
          onProgress: (phase, done, total) => progress.update(phase === 'posting' ? 'posting events   ' : 'signals matched  ', done, total),
          onWarning: (m) => process.stderr.write(`\n⚠ ${m}\n`),
        });
      } catch (err) {
        progress.stop();
        await teardown();
        console.error(`✖ quality run failed: ${(err as Error).message}`);
        process.exit(1);
      }
      progress.stop();
      await teardown();
      printResult(result, flags, against);
      if (flags.json) {
        const { labelled: _labelled, observed: _observed, ...figures } = result;
        writeFileSync(flags.json, `${JSON.stringify({ seed: numbers.seed, events: numbers.events, rate: numbers.rate, timerSeconds: numbers.timer, against, at: new Date().toISOString(), ...figures }, null, 2)}\n`);
        console.log(`figures written to ${flags.json}`);
      }
      process.exit(result.report.misses.length ? 1 : 0);
    });
}

async function startOwnStack(timerExpectedMs: number, keep: boolean) {
  const { startStack, checkPrerequisites } = await import('@touchstream/stack');
  const { loadConfig } = await import('../../../../apps/touchstream/src/config.ts');
  const { startApp } = await import('../../../../apps/touchstream/src/app.ts');
  const missing = checkPrerequisites();
  if (missing.length) {
    console.error(`✖ missing prerequisites:\n  - ${missing.join('\n  - ')}\n(or run against a running stack with --url, --key and --brokers)`);
    process.exit(2);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-quality-'));
  const rulesFile = path.join(dir, 'quality-rules.json');
  writeFileSync(rulesFile, qualityRulesDocument(timerExpectedMs));
  console.error(`▶ starting Kafka, Redis, chDB and all services in ${dir}…`);
  const stack = await startStack({ dir });
  const writeKey = `quality-${randomUUID()}`;
  try {
    const app = await startApp(loadConfig({
      LOG_LEVEL: 'error',
      HTTP_PORT: '0',
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      REDIS_URL: stack.redisUrl,
      ...('url' in stack.clickhouse ? { CLICKHOUSE_URL: stack.clickhouse.url } : { CLICKHOUSE_PATH: stack.clickhouse.path }),
      WRITE_KEYS: `${writeKey}=quality`,
      READ_KEYS: `quality-read-${randomUUID()}=analyst`,
      [RULES_FILE_ENV]: rulesFile,
    }));
    return {
      url: app.url,
      writeKey,
      brokers: stack.kafkaBrokers,
      dir,
      async stop() {
        await app.stop().catch(() => undefined);
        await stack.stop();
        if (!keep) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stack.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
