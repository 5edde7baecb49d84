// The one executable: `touchstream up` (whole local stack + demo), `touchstream run --target …` (services
// against existing Kafka/Redis/ClickHouse), `touchstream demo` (traffic generator).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { shutdownTelemetry } from '@touchstream/telemetry';
import { ConfigError, loadConfig, TARGETS } from './config.ts';
import { startApp, VERSION, type RunningApp } from './app.ts';
import { startDemoTraffic } from './demo.ts';
import { deadLettersCommand } from './deadletters-cli.ts';
import { qualityCommand } from './quality/cli.ts';
import { benchCommand } from './bench.ts';
import { lagStatusLine } from './status.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO_WRITE_KEY = 'demo-write-key';
export const DEMO_READ_KEY = 'demo-read-key';

function fail(message: string): never {
  console.error(`\n✖ ${message}\n`);
  process.exit(1);
}

/** Stops the given things once, on the first SIGINT/SIGTERM, within a bound. */
function onShutdown(timeoutMs: number, ...steps: Array<() => Promise<void>>) {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    console.error(`\n${signal}: draining and stopping…`);
    const timer = setTimeout(() => {
      console.error(`still not stopped after ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    let failed = false;
    for (const step of steps) {
      await step().catch((err) => {
        failed = true;
        console.error(`while stopping: ${(err as Error).message}`);
      });
    }
    // Spans and metrics of the last seconds reach the collector before the process ends.
    await shutdownTelemetry().catch(() => undefined);
    // A supervisor must see an unclean stop: exit 1 if any step failed.
    process.exit(failed ? 1 : 0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

const program = new Command()
  .name('touchstream')
  .description('Real-time customer-journey analytics: touchpoints in, weak signals, alerts and KPIs out.')
  .version(VERSION);

program
  .command('up')
  .description('Start everything on this machine: Kafka, Redis and ClickHouse (embedded chDB), all services, and demo traffic')
  .option('--dir <dir>', 'where the local engines keep data and logs', '.stack/dev')
  .option('--port <port>', 'HTTP port of ingest + query API + /docs', '8080')
  .option('--rate <journeys>', 'demo journeys started per second', '2')
  .option('--no-demo', 'do not generate demo traffic')
  .action(async (opts: { dir: string; port: string; rate: string; demo: boolean }) => {
    const { startStack, checkPrerequisites } = await import('@touchstream/stack');
    const missing = checkPrerequisites();
    if (missing.length) fail(`missing prerequisites:\n  - ${missing.join('\n  - ')}`);
    const dir = path.resolve(repoRoot, opts.dir);
    console.log(`▶ starting Kafka, Redis and ClickHouse (data and logs in ${path.relative(process.cwd(), dir) || dir})…`);
    const stack = await startStack({
      dir,
      kafkaBrokers: process.env.KAFKA_BROKERS || undefined,
      redisUrl: process.env.REDIS_URL || undefined,
      clickhouseUrl: process.env.CLICKHOUSE_URL || undefined,
    }).catch((err: Error) => fail(err.message));
    let app: RunningApp | undefined;
    let demo: ReturnType<typeof startDemoTraffic> | undefined;
    onShutdown(60_000, async () => demo?.stop(), async () => app?.stop(), () => stack.stop());
    try {
      const config = loadConfig({
        // The banner is the interface of `up`; engine noise stays in the logs unless asked for.
        LOG_LEVEL: 'error',
        WRITE_KEYS: `${DEMO_WRITE_KEY}=demo`,
        RULES_FILE: path.join(repoRoot, 'rules/default.yaml'),
        READ_KEYS: `${DEMO_READ_KEY}=analyst`,
        ...process.env,
        HTTP_PORT: opts.port,
        KAFKA_BROKERS: stack.kafkaBrokers.join(','),
        REDIS_URL: stack.redisUrl,
        ...('url' in stack.clickhouse ? { CLICKHOUSE_URL: stack.clickhouse.url } : { CLICKHOUSE_PATH: stack.clickhouse.path }),
        TOUCHSTREAM_TARGET: 'all',
      });
      console.log('▶ starting ingest, processor, sink, query and notifier…');
      app = await startApp(config);
      const running = app;
      process.on('SIGHUP', () => void running.reloadRules());
      const writeKey = Object.keys(config.WRITE_KEYS)[0]!;
      const readKey = Object.keys(config.READ_KEYS)[0]!;
      const url = app.url;
      if (opts.demo) {
        demo = startDemoTraffic({
          url,
          writeKey,
          journeysPerSecond: Number(opts.rate),
          onError: (m) => console.error(`demo traffic: ${m}`),
        });
      }
      const now = new Date().toISOString();
      console.log(`
✔ touchstream is running

  ingest        POST ${url}/v1/events          (write key: ${writeKey})
  query API     GET  ${url}/v1/kpis            (read key:  ${readKey})
  API docs      ${url}/docs
  readiness     ${url}/readyz
  engines       Kafka ${stack.kafkaBrokers.join(',')} · Redis ${stack.redisUrl} · ClickHouse ${'url' in stack.clickhouse ? stack.clickhouse.url : `chDB ${stack.clickhouse.path}`}
  demo traffic  ${opts.demo ? `${opts.rate} journeys/s (bank verification, telecom support, retail checkout)` : 'off'}

Post an event:
  curl -s -X POST ${url}/v1/events -H 'Authorization: Bearer ${writeKey}' -H 'Content-Type: application/json' \\
    -d '{"customer_id":"c-42","occurred_at":"${now}","channel":"phone","touchpoint":"billing_inquiry_call","initiator":"customer","reason":"billing_dispute","survey":{"kind":"NPS","score":3}}'

See that customer's journey:
  curl -s ${url}/v1/customers/c-42/journey -H 'Authorization: Bearer ${readKey}'

KPIs of the last hour by channel:
  curl -s '${url}/v1/kpis?interval=minute&by=channel' -H 'Authorization: Bearer ${readKey}'

Live alerts with their explanations (Server-Sent Events; resumable with Last-Event-ID):
  curl -N '${url}/v1/alerts/stream?min_level=watch' -H 'Authorization: Bearer ${readKey}'

Ctrl-C stops everything. The line below shows how far behind the processor and the sink are (records).
`);
      // On a terminal the line is rewritten in place; in a log, one line every 30 s.
      const tty = process.stdout.isTTY;
      let printed = 0;
      const status = setInterval(() => {
        const line = lagStatusLine(running.lag?.history() ?? []);
        if (!line) return;
        if (tty) process.stdout.write(`\r\x1b[K${line}`);
        else if (Date.now() - printed >= 30_000) {
          printed = Date.now();
          console.log(line);
        }
      }, 5000);
      status.unref();
    } catch (err) {
      await app?.stop().catch(() => undefined);
      await stack.stop();
      fail(err instanceof ConfigError ? err.message : `could not start: ${(err as Error).message}`);
    }
  });

program
  .command('run')
  .description('Run services against existing Kafka, Redis and ClickHouse, configured by environment variables (see README)')
  .addOption(new Option('--target <targets>', `comma list of ${TARGETS.join(', ')}, or all`).default(process.env.TOUCHSTREAM_TARGET ?? 'all'))
  .action(async (opts: { target: string }) => {
    let config;
    try {
      config = loadConfig({ ...process.env, TOUCHSTREAM_TARGET: opts.target });
    } catch (err) {
      fail(err instanceof ConfigError ? `${err.message}\nSet these environment variables (README: Configuration) and run again.` : String(err));
    }
    const app = await startApp(config).catch((err: Error) => fail(`could not start: ${err.message}`));
    onShutdown(config.SHUTDOWN_TIMEOUT_MS, () => app.stop());
    process.on('SIGHUP', () => void app.reloadRules());
  });

program
  .command('demo')
  .description('Post demo journeys to a running ingest')
  .requiredOption('--url <url>', 'ingest base URL', 'http://127.0.0.1:8080')
  .option('--key <key>', 'write key', DEMO_WRITE_KEY)
  .option('--rate <journeys>', 'journeys started per second', '2')
  .option('--journeys <n>', 'stop after this many journeys')
  .option('--seed <n>', 'random seed, for reproducible traffic')
  .action(async (opts: { url: string; key: string; rate: string; journeys?: string; seed?: string }) => {
    const demo = startDemoTraffic({
      url: opts.url,
      writeKey: opts.key,
      journeysPerSecond: Number(opts.rate),
      maxJourneys: opts.journeys ? Number(opts.journeys) : undefined,
      seed: opts.seed ? Number(opts.seed) : undefined,
      onError: (m) => console.error(m),
      onPosted: (s) => process.stdout.write(`\rjourneys ${s.journeys} · events posted ${s.posted} · accepted ${s.accepted} · rejected ${s.rejected}   `),
    });
    onShutdown(5000, () => demo.stop());
    await demo.done;
    process.stdout.write('\n');
  });

program.addCommand(deadLettersCommand());
program.addCommand(qualityCommand());
program.addCommand(benchCommand());

await program.parseAsync(process.argv);
