// `touchstream up`: the whole local stack (Kafka, Redis, embedded chDB as local processes), every service in
// this process, demo traffic, and a status line with the consumers' lag.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ConfigError, environment, fail, loadConfig, onShutdown, startApp, type RunningApp } from '@touchstream/app';
import { startDemoTraffic } from '../demo/demo.ts';
import { DEMO_ADMIN_KEY, DEMO_ANALYST_WRITE_KEY, DEMO_PRIVACY_SECRET, DEMO_READ_KEY, DEMO_WRITE_KEY } from '../demo/keys.ts';
import { lagStatusLine } from './status.ts';
import { DEFAULT_CHURN_MODEL_FILE } from '../train/cli.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The banner's churn line: the model scoring live, or how it gets one (the processor picks the file up when it appears). */
function churnModelLine(file: string | undefined, trainingLog: string | undefined): string {
  if (!file) return 'off (CHURN_MODEL_FILE unset)';
  const shown = path.relative(process.cwd(), file) || file;
  if (trainingLog) {
    return `training a demo model in the background (./touchstream train --generate → ${shown}, about a minute; log ${path.relative(process.cwd(), trainingLog)}); scoring starts when it appears`;
  }
  return existsSync(file)
    ? `scored live with ${shown} (docs/architecture.md §22)`
    : `no model yet: run ./touchstream train --generate (writes ${shown}; scoring starts when it appears)`;
}

export function upCommand(): Command {
  return new Command('up')
    .description('Start everything on this machine: Kafka, Redis and ClickHouse (embedded chDB), all services, and demo traffic')
    .option('--dir <dir>', 'where the local engines keep data and logs', '.stack/dev')
    .option('--port <port>', 'HTTP port of ingest + query API + /docs', '8080')
    .option('--rate <journeys>', 'demo journeys started per second', '2')
    .option('--no-demo', 'do not generate demo traffic')
    .option('--processors <n>', 'processor instances, each its own process in one consumer group (docs/architecture.md §18)', '1')
    .option('--sinks <n>', 'sink instances, each its own process (more than 1 needs a ClickHouse server: CLICKHOUSE_URL)', '1')
    .option('--redis-cluster', 'start a local 3-master Redis Cluster instead of one redis-server')
    .option('--no-train', 'without a churn model file, do not train a demo model in the background (./touchstream train --generate)')
    .action(async (opts: { dir: string; port: string; rate: string; demo: boolean; train: boolean; processors: string; sinks: string; redisCluster?: boolean }) => {
      const { startStack, checkPrerequisites } = await import('@touchstream/stack');
      const env = environment();
      const missing = checkPrerequisites();
      if (missing.length) fail(`missing prerequisites:\n  - ${missing.join('\n  - ')}`);
      const dir = path.resolve(repoRoot, opts.dir);
      const processors = Number(opts.processors);
      const sinks = Number(opts.sinks);
      if (!Number.isInteger(processors) || processors < 1 || !Number.isInteger(sinks) || sinks < 1) fail('--processors and --sinks take a whole number ≥ 1');
      // Embedded chDB is one process's: a second sink would open the same data directory.
      if (sinks > 1 && !env.CLICKHOUSE_URL) fail('--sinks above 1 needs a ClickHouse server: set CLICKHOUSE_URL (embedded chDB belongs to one process)');
      console.log(`▶ starting Kafka, Redis and ClickHouse (data and logs in ${path.relative(process.cwd(), dir) || dir})…`);
      const stack = await startStack({
        dir,
        kafkaBrokers: env.KAFKA_BROKERS || undefined,
        redisUrl: env.REDIS_URL || undefined,
        clickhouseUrl: env.CLICKHOUSE_URL || undefined,
        ...(opts.redisCluster && !env.REDIS_URL ? { redisCluster: { masters: 3 } } : {}),
      }).catch((err: Error) => fail(err.message));
      const redisUrl = stack.redisClusterUrl ?? stack.redisUrl;
      let app: RunningApp | undefined;
      let demo: ReturnType<typeof startDemoTraffic> | undefined;
      // The extra processor and sink instances: `touchstream run --target …` children with this process's settings.
      // Never an extra `anomaly`: the KPI detector is one instance over every partition (docs/architecture.md §21).
      const instances: ChildProcess[] = [];
      // Children started as their own process group (the demo-model trainer: its redis-server stops with it).
      const groups = new Set<ChildProcess>();
      const stopInstances = () => Promise.all(instances.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        if (groups.has(c) && c.pid) process.kill(-c.pid, 'SIGTERM');
        else c.kill('SIGTERM');
      })));
      onShutdown(60_000, async () => demo?.stop(), async () => void (await stopInstances()), async () => app?.stop(), () => stack.stop());
      try {
        const config = loadConfig({
          // The banner is the interface of `up`; engine noise stays in the logs unless asked for.
          LOG_LEVEL: 'error',
          WRITE_KEYS: `${DEMO_WRITE_KEY}=demo`,
          RULES_FILE: path.join(repoRoot, 'rules/default.yaml'),
          TOUCHPOINTS_FILE: path.join(repoRoot, 'touchpoints/demo.yaml'),
          // Written by `./touchstream train --generate`; scored live from the moment it exists (§22).
          CHURN_MODEL_FILE: path.join(repoRoot, DEFAULT_CHURN_MODEL_FILE),
          PERSONAS_FILE: path.join(repoRoot, 'personas/demo.yaml'),
          READ_KEYS: `${DEMO_READ_KEY}=analyst`,
          ANALYST_WRITE_KEYS: `${DEMO_ANALYST_WRITE_KEY}=analyst`,
          ADMIN_KEY: DEMO_ADMIN_KEY,
          PRIVACY_SECRET: DEMO_PRIVACY_SECRET,
          ...env,
          HTTP_PORT: opts.port,
          KAFKA_BROKERS: stack.kafkaBrokers.join(','),
          REDIS_URL: redisUrl,
          ...('url' in stack.clickhouse ? { CLICKHOUSE_URL: stack.clickhouse.url } : { CLICKHOUSE_PATH: stack.clickhouse.path }),
          TOUCHSTREAM_TARGET: 'all',
        });
        console.log('▶ starting ingest, processor, sink, query, notifier and anomaly…');
        app = await startApp(config);
        const running = app;
        const childSettings = {
          ...env, LOG_LEVEL: 'warn', KAFKA_BROKERS: config.KAFKA_BROKERS!.join(','), REDIS_URL: redisUrl, HTTP_PORT: '0',
          ...('url' in stack.clickhouse ? { CLICKHOUSE_URL: stack.clickhouse.url } : { CLICKHOUSE_PATH: stack.clickhouse.path }),
          ...(config.RULES_FILE ? { RULES_FILE: config.RULES_FILE } : {}),
          ...(config.CHURN_MODEL_FILE ? { CHURN_MODEL_FILE: config.CHURN_MODEL_FILE } : {}),
        };
        // No churn model yet (a fresh clone): train the demo one from a generated history, in its own process and its own
        // temporary engines, so the demo shows live churn-risk scores without a second command. The processor's model
        // watcher picks the file up when train renames it into place (docs/architecture.md §22).
        let trainingLog: string | undefined;
        if (opts.train && config.CHURN_MODEL_FILE && !existsSync(config.CHURN_MODEL_FILE)) {
          mkdirSync(dir, { recursive: true });
          trainingLog = path.join(dir, 'train.log');
          const log = createWriteStream(trainingLog);
          const trainer = spawn(process.execPath, ['--import', 'tsx', 'tools/cli/src/main.ts', 'train', '--generate', '--out', config.CHURN_MODEL_FILE], {
            cwd: repoRoot, env: { ...env, ...(config.RULES_FILE ? { RULES_FILE: config.RULES_FILE } : {}) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
          });
          groups.add(trainer);
          trainer.stdout!.pipe(log);
          trainer.stderr!.pipe(log);
          trainer.once('exit', (code) => {
            if (code !== 0 && code !== null) console.error(`\nchurn model: ./touchstream train --generate failed (exit ${code}); see ${trainingLog}`);
          });
          instances.push(trainer);
        }
        for (const [target, count] of [['processor', processors - 1], ['sink', sinks - 1]] as const) {
          for (let i = 0; i < count; i++) {
            instances.push(spawn(process.execPath, ['--import', 'tsx', 'apps/touchstream/src/main.ts', 'run', '--target', target], {
              cwd: repoRoot, env: childSettings, stdio: ['ignore', 'inherit', 'inherit'],
            }));
          }
        }
        process.on('SIGHUP', () => void running.reloadRules());
        const writeKey = Object.keys(config.WRITE_KEYS)[0]!;
        const readKey = Object.keys(config.READ_KEYS)[0]!;
        const analystKey = Object.keys(config.ANALYST_WRITE_KEYS)[0];
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

    workspace     ${url}/dashboard/?key=${analystKey ?? readKey}   (analysts' pages; the link signs this browser in)
    ingest        POST ${url}/v1/events          (write key: ${writeKey})
    query API     GET  ${url}/v1/kpis            (read key:  ${readKey})
    API docs      ${url}/docs
    readiness     ${url}/readyz
    instances     ${processors} processor(s), ${sinks} sink(s) (one consumer group each), 1 KPI anomaly detector (it needs every partition)
    engines       Kafka ${stack.kafkaBrokers.join(',')} · Redis ${redisUrl} · ClickHouse ${'url' in stack.clickhouse ? stack.clickhouse.url : `chDB ${stack.clickhouse.path}`}
    demo traffic  ${opts.demo ? `${opts.rate} journeys/s (bank verification, telecom support, retail checkout)` : 'off'}
    churn risk    ${churnModelLine(config.CHURN_MODEL_FILE, trainingLog)}

  Post an event:
    curl -s -X POST ${url}/v1/events -H 'Authorization: Bearer ${writeKey}' -H 'Content-Type: application/json' \\
      -d '{"customer_id":"c-42","occurred_at":"${now}","channel":"phone","touchpoint":"billing_inquiry_call","initiator":"customer","reason":"billing_dispute","survey":{"kind":"NPS","score":3}}'

  See that customer's journey:
    curl -s ${url}/v1/customers/c-42/journey -H 'Authorization: Bearer ${readKey}'

  KPIs of the last hour by channel, and by churn-risk band:
    curl -s '${url}/v1/kpis?interval=minute&by=channel' -H 'Authorization: Bearer ${readKey}'
    curl -s '${url}/v1/kpis?interval=minute&by=churn_risk' -H 'Authorization: Bearer ${readKey}'

  …and by persona (personas/demo.yaml; the demo sends a profile for every customer):
    curl -s '${url}/v1/kpis?interval=minute&by=persona' -H 'Authorization: Bearer ${readKey}'

  Live alerts with their explanations (Server-Sent Events; resumable with Last-Event-ID):
    curl -N '${url}/v1/alerts/stream?min_level=watch' -H 'Authorization: Bearer ${readKey}'

  Record an action to measure (annotations need an analyst-write key${analystKey ? `: ${analystKey}` : ', ANALYST_WRITE_KEYS'}):
    curl -s -X POST ${url}/v1/annotations -H 'Authorization: Bearer ${analystKey ?? '<analyst-write key>'}' -H 'Content-Type: application/json' \\
      -d '{"title":"New IVR menu","at":"${now}"}'

  Erase that customer everywhere, or export what is stored about them (admin key${config.ADMIN_KEY ? '' : ': set ADMIN_KEY'}):
    curl -s -X DELETE ${url}/v1/customers/c-42 -H 'Authorization: Bearer ${config.ADMIN_KEY ?? '<admin key>'}'
    curl -s ${url}/v1/customers/c-42/export -H 'Authorization: Bearer ${config.ADMIN_KEY ?? '<admin key>'}'

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
}
