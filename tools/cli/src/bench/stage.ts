// `touchstream bench sink|processor` (issue 13): one stage alone, draining a pre-filled topic. Starts the engines
// in-process (tools/stack: Kafka KRaft, a private redis-server, a chDB directory), creates the project's topics,
// fills touchpoints.v1 with realistic Avro touchpoints keyed by customer (bench/stage-data.ts), then starts only that
// stage through the real composition root (startApp) and times it until its consumer group has committed every
// offset. The sink is checked afterwards: the raw table holds every event once and every rollup counts them all.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { Admin } from 'kafkajs';
import { createKafka, ensureTopics, topicNames, topicSpecs } from '@touchstream/kafka';
import { configShape, loadConfig, startApp, type Config, type RunningApp } from '@touchstream/app';
import { progressBar } from '../progress.ts';
import { stageSpanDays } from './stage-data.ts';
import { prefill, prefillTouchpointsInWorker } from './stage-prefill.ts';
import { allProcessTicks, clockTicksPerSecond, machineCpu, machineInfo, readProcStat, topOthers } from './procfs.ts';

type Stage = 'sink' | 'processor';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** What issue 13 asks of each stage on its own. */
const targets: Record<Stage, { perSecond: number; what: string }> = {
  sink: { perSecond: 60_000, what: 'touchpoint rows/s with every rollup written' },
  processor: { perSecond: 40_000, what: 'events/s' },
};
const GROUP_PREFIX = 'touchstream';
/** The part of a drain not counted in the steady rate: the group's first batches after the app started. */
const WARMUP_MS = 2000;
/** How often the group's committed offsets are read during a drain. */
const POLL_MS = 50;
/** A drain without any new commit for this long fails. */
const STALL_LIMIT_MS = 120_000;
/** Topics other than touchpoints.v1: the app's default (TOPIC_PARTITIONS). */
const OTHER_PARTITIONS = 6;

interface StageFlags {
  events: string;
  customers: string;
  partitions: string;
  seed: string;
  dir?: string;
  out?: string;
  keep: boolean;
  signals: boolean;
  redisFsync: 'always' | 'everysec';
  instances?: string;
  redisCluster?: boolean;
  churnModel?: string;
}

const countingBar = (label: string, unit: string) => progressBar(`${label.padEnd(22)} [{bar}] {percentage}% · {value}/{total} ${unit} · {rate}/s`);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ——— CPU of the engines (other processes), from /proc (procfs.ts) ———

/** utime + stime of a process in seconds, or undefined when it is gone (or not given). */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  const stat = pid ? readProcStat(pid) : null;
  return stat ? stat.cpuTicks / clockTicksPerSecond() : undefined;
}

/** CPU seconds the whole machine spent busy (every core, every process). */
const machineBusySeconds = () => machineCpu().busy / clockTicksPerSecond();

// ——— offsets ———

/** Each partition's [low, high) of the given topics, keyed `topic:partition`. */
async function endOffsets(admin: Admin, topics: string[]) {
  const ends = new Map<string, { low: number; high: number }>();
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${p.partition}`, { low: Number(p.low), high: Number(p.high) });
  }
  return ends;
}

const recordsIn = (ends: Map<string, { low: number; high: number }>) => [...ends.values()].reduce((n, e) => n + e.high - e.low, 0);

async function topicRecords(admin: Admin, topic: string) {
  return recordsIn(await endOffsets(admin, [topic]));
}

/** Records of the given partitions the group has committed (clamped to each partition's range). */
async function committedRecords(admin: Admin, groupId: string, topics: string[], ends: Map<string, { low: number; high: number }>) {
  let done = 0;
  for (const t of await admin.fetchOffsets({ groupId, topics })) {
    for (const p of t.partitions) {
      const end = ends.get(`${t.topic}:${p.partition}`);
      if (!end) continue;
      const committed = Number(p.offset);
      if (committed >= 0) done += Math.min(end.high, Math.max(end.low, committed)) - end.low;
    }
  }
  return done;
}

// ——— one drain: start the stage, wait until its group committed everything, stop it ———

interface Sample {
  /** ms since startApp was called */
  t: number;
  done: number;
}

interface DrainResult {
  topics: string[];
  records: number;
  /** startApp call → resolved (ClickHouse migrations, topic check, producer and consumer connected, group joined). */
  startSeconds: number;
  /** startApp call → every offset committed. */
  drainSeconds: number;
  perSecond: number;
  /** Rate between WARMUP_MS after startApp resolved and the end (undefined when the drain ended before). */
  steadyPerSecond?: number;
  /** Records committed in the first second after startApp resolved. */
  firstSecondRecords: number;
  /** startApp call → the first commit seen. */
  firstCommitSeconds: number;
  /** Longest time without progress in committed offsets, after the first commit. */
  longestStallSeconds: number;
  cpu: {
    processSeconds: number;
    userSeconds: number;
    systemSeconds: number;
    coresUsed: number;
    kafkaSeconds?: number;
    redisSeconds?: number;
    /** Every process on the machine, busy CPU seconds during the drain. */
    machineSeconds?: number;
    /** machineSeconds minus this process, Kafka and Redis: other work on the machine competing with the bench. */
    otherSeconds?: number;
    /** The other processes that used the most CPU during the drain (processes that ended meanwhile are missing). */
    topOthers: Array<{ pid: number; name: string; seconds: number }>;
  };
  memory: { rssBeforeMb: number; rssPeakMb: number; heapPeakMb: number };
  loadAverageAtStart: number;
  stopSeconds: number;
  /** Committed records over time (ms since the startApp call), at most ~200 points. */
  timeline: Array<[ms: number, committed: number]>;
}

/** The committed count known at time t. */
function doneAt(samples: Sample[], t: number): number {
  // Commits are steps (a whole call's batches at once), so no interpolation: what the last poll before t saw.
  let done = 0;
  for (const s of samples) {
    if (s.t > t) break;
    done = s.done;
  }
  return done;
}

async function drainWithApp(opts: {
  admin: Admin;
  config: Config;
  groupId: string;
  topics: string[];
  label: string;
  pids: { kafka?: number; redis?: number };
  onApp: (app: RunningApp | undefined) => void;
  /** More instances of the stage in the same group, each a `touchstream run` process with this environment. */
  extra?: { count: number; env: Record<string, string> };
}): Promise<DrainResult> {
  const { admin, groupId, topics } = opts;
  const ends = await endOffsets(admin, topics);
  const total = recordsIn(ends);
  const bar = countingBar(opts.label, 'records');
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let heapPeak = process.memoryUsage().heapUsed;
  const loadAverageAtStart = os.loadavg()[0]!;
  const kafkaCpu0 = cpuSecondsOf(opts.pids.kafka);
  const redisCpu0 = cpuSecondsOf(opts.pids.redis);
  const procs0 = allProcessTicks();
  const machine0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const samples: Sample[] = [{ t: 0, done: 0 }];
  let startedAt: number | undefined;
  let endedAt: number | undefined;

  // Offsets are polled from the moment startApp is called, every POLL_MS: the end is known to within one poll (a
  // sample's time is when its request left, so the end is never measured early). A poll costs well under a
  // millisecond of this process's CPU.
  let polling = true;
  const poll = (async () => {
    bar.start(total, 0, { rate: '–' });
    let lastProgress = 0;
    while (polling) {
      const t = performance.now() - t0;
      const done = await committedRecords(admin, groupId, topics, ends);
      if (done > samples.at(-1)!.done) lastProgress = t;
      else if (t - lastProgress > STALL_LIMIT_MS) throw new Error(`no offset committed by ${groupId} for ${STALL_LIMIT_MS / 1000} s (${done} of ${total}): stalled`);
      samples.push({ t, done });
      const mem = process.memoryUsage();
      rssPeak = Math.max(rssPeak, mem.rss);
      heapPeak = Math.max(heapPeak, mem.heapUsed);
      bar.update(done, { rate: fmt(done / (t / 1000)) });
      if (done >= total) {
        endedAt = t;
        break;
      }
      await sleep(POLL_MS);
    }
    bar.stop();
  })();

  let app: RunningApp | undefined;
  const children: ChildProcess[] = Array.from({ length: opts.extra?.count ?? 0 }, () =>
    spawn(process.execPath, ['--import', 'tsx', 'apps/touchstream/src/main.ts', 'run'], { cwd: repoRoot, env: { ...process.env, ...opts.extra!.env }, stdio: ['ignore', 'ignore', 'inherit'] }));
  const stopChildren = () => Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); }))));
  try {
    app = await startApp(opts.config);
    startedAt = performance.now() - t0;
    opts.onApp(app);
    await poll;
  } catch (err) {
    polling = false;
    bar.stop();
    await stopChildren();
    throw err;
  }
  // Their CPU is not in this process's figure below (the drain rate is the group's, all instances together).
  await stopChildren();
  const cpu = process.cpuUsage(cpu0);
  const kafkaCpu1 = cpuSecondsOf(opts.pids.kafka);
  const redisCpu1 = cpuSecondsOf(opts.pids.redis);
  const machine1 = machineBusySeconds();
  const drainSeconds = (performance.now() - t0) / 1000;
  const others = topOthers(procs0, drainSeconds, [process.pid, opts.pids.kafka ?? -1, opts.pids.redis ?? -1], 5)
    .map((o) => ({ pid: o.pid, name: o.command, seconds: Math.round((o.cpuPct / 100) * drainSeconds * 10) / 10 }))
    .filter((o) => o.seconds >= 0.1);
  const stopStarted = performance.now();
  await app.stop();
  opts.onApp(undefined);
  const stopSeconds = (performance.now() - stopStarted) / 1000;

  const end = endedAt!;
  const from = startedAt! + WARMUP_MS;
  const steadyPerSecond = end > from + 250 ? (total - doneAt(samples, from)) / ((end - from) / 1000) : undefined;
  let firstCommit: number | undefined;
  let longestStall = 0;
  let lastProgress: Sample | undefined;
  for (const s of samples) {
    if (s.done > 0 && firstCommit === undefined) firstCommit = s.t;
    if (!lastProgress || s.done > lastProgress.done) {
      if (lastProgress && firstCommit !== undefined && lastProgress.done > 0) longestStall = Math.max(longestStall, s.t - lastProgress.t);
      lastProgress = s;
    }
  }
  const processSeconds = (cpu.user + cpu.system) / 1e6;
  const kafkaSeconds = kafkaCpu0 !== undefined && kafkaCpu1 !== undefined ? kafkaCpu1 - kafkaCpu0 : undefined;
  const redisSeconds = redisCpu0 !== undefined && redisCpu1 !== undefined ? redisCpu1 - redisCpu0 : undefined;
  const machineSeconds = machine1 - machine0;
  return {
    topics,
    records: total,
    startSeconds: startedAt! / 1000,
    drainSeconds: end / 1000,
    perSecond: total / (end / 1000),
    steadyPerSecond,
    firstCommitSeconds: (firstCommit ?? end) / 1000,
    firstSecondRecords: Math.round(doneAt(samples, startedAt! + 1000) - doneAt(samples, startedAt!)),
    longestStallSeconds: longestStall / 1000,
    cpu: {
      processSeconds,
      userSeconds: cpu.user / 1e6,
      systemSeconds: cpu.system / 1e6,
      coresUsed: processSeconds / (end / 1000),
      kafkaSeconds,
      redisSeconds,
      machineSeconds,
      otherSeconds: Math.max(0, machineSeconds - processSeconds - (kafkaSeconds ?? 0) - (redisSeconds ?? 0)),
      topOthers: others,
    },
    memory: { rssBeforeMb: rssBefore / 2 ** 20, rssPeakMb: rssPeak / 2 ** 20, heapPeakMb: heapPeak / 2 ** 20 },
    loadAverageAtStart,
    stopSeconds,
    // The steps: every sample whose count differs from the one before or after it.
    timeline: samples
      .filter((s, i) => i === 0 || i === samples.length - 1 || s.done !== samples[i - 1]!.done || s.done !== samples[i + 1]!.done)
      .map((s) => [Math.round(s.t), s.done]),
  };
}

function printDrain(title: string, d: DrainResult, unit: string) {
  const c = d.cpu;
  console.log(`\n${title}: ${fmt(d.records)} ${unit} from ${d.topics.join(', ')}`);
  console.log(`  drained in      ${fmt(d.drainSeconds, 2)} s after startApp → ${fmt(d.perSecond)} ${unit}/s`);
  console.log(`  steady          ${d.steadyPerSecond === undefined ? 'n/a (drained within the warm-up)' : `${fmt(d.steadyPerSecond)} ${unit}/s`} (from ${WARMUP_MS / 1000} s after startApp resolved to the end)`);
  console.log(`  startApp        ${fmt(d.startSeconds, 2)} s (migrations, topics, connections, group join); first commit ${fmt(d.firstCommitSeconds, 2)} s after the call; ${fmt(d.firstSecondRecords)} ${unit} committed in the first second after startApp resolved`);
  console.log(`  longest stall   ${fmt(d.longestStallSeconds, 2)} s without a new commit (after the first)`);
  console.log(`  CPU             this process ${fmt(c.processSeconds, 1)} s (user ${fmt(c.userSeconds, 1)}, system ${fmt(c.systemSeconds, 1)}) = ${fmt(c.coresUsed, 2)} cores; Kafka JVM ${c.kafkaSeconds === undefined ? 'n/a' : `${fmt(c.kafkaSeconds, 1)} s`}; redis-server ${c.redisSeconds === undefined ? 'n/a' : `${fmt(c.redisSeconds, 1)} s`}`);
  if (c.machineSeconds !== undefined) {
    console.log(`                  machine ${fmt(c.machineSeconds, 1)} s busy of ${fmt(os.cpus().length * d.drainSeconds, 1)} s available; other processes ${fmt(c.otherSeconds!, 1)} s${c.otherSeconds! > 0.1 * d.drainSeconds ? ' (!) something else competed for the CPU' : ''}`);
    if (c.topOthers.length) console.log(`                  others: ${c.topOthers.map((o) => `${o.name || `pid ${o.pid}`} ${fmt(o.seconds, 1)} s`).join(' · ')}`);
  }
  console.log(`  memory          RSS ${fmt(d.memory.rssBeforeMb)} MiB before, ${fmt(d.memory.rssPeakMb)} MiB peak (sampled, whole process incl. ${unit === 'rows' ? 'chDB' : 'the bench'}); JS heap peak ${fmt(d.memory.heapPeakMb)} MiB`);
  console.log(`  load average    ${fmt(d.loadAverageAtStart, 2)} (1 min) when it started; app stopped in ${fmt(d.stopSeconds, 2)} s`);
}

// ——— ClickHouse check (sink) ———

interface CountCheck {
  what: string;
  expected: number;
  actual: number;
  ok: boolean;
}

async function checkClickHouse(chdbPath: string, expect: { touchpoints: number; signals: number }): Promise<CountCheck[]> {
  const { createClickHouse } = await import('@touchstream/clickhouse');
  const ch = createClickHouse({ path: chdbPath });
  const one = async (query: string) => {
    const rows = await (await ch.query({ query, format: 'JSONEachRow' })).json<{ n: string | number }>();
    return Number(rows[0]?.n ?? 0);
  };
  try {
    const checks: CountCheck[] = [];
    const check = (what: string, expected: number, actual: number) => checks.push({ what, expected, actual, ok: expected === actual });
    const tp = expect.touchpoints;
    check('touchpoints: distinct event_id', tp, await one('SELECT uniqExact(event_id) AS n FROM touchpoints'));
    check('touchpoints: rows (no duplicates stored)', tp, await one('SELECT count() AS n FROM touchpoints'));
    for (const grain of ['1m', '1h', '1d']) check(`touchpoint_agg_${grain}: countMerge(events)`, tp, await one(`SELECT countMerge(events) AS n FROM touchpoint_agg_${grain}`));
    for (const grain of ['1h', '1d']) check(`kpi_agg_${grain}: countMerge(events), dimension ''`, tp, await one(`SELECT countMerge(events) AS n FROM kpi_agg_${grain} WHERE dimension = ''`));
    check('customer_activity_1d: sum(events)', tp, await one('SELECT sum(events) AS n FROM customer_activity_1d'));
    check(
      'fcr_contacts: rows = raw customer contacts with a reason',
      await one(`SELECT count() AS n FROM touchpoints WHERE initiator = 'customer' AND reason != ''`),
      await one('SELECT count() AS n FROM fcr_contacts'),
    );
    if (expect.signals > 0) {
      const sg = expect.signals;
      check('signals: distinct signal_id', sg, await one('SELECT uniqExact(signal_id) AS n FROM signals'));
      check('signals: rows (no duplicates stored)', sg, await one('SELECT count() AS n FROM signals'));
      for (const grain of ['1m', '1h', '1d']) check(`signal_agg_${grain}: countMerge(signals)`, sg, await one(`SELECT countMerge(signals) AS n FROM signal_agg_${grain}`));
    }
    return checks;
  } finally {
    await ch.close();
  }
}

// ——— the command ———

function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages', 'services'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^ ?[MADR]/.test(l))
      .map((l) => l.slice(3));
    return { commit, uncommitted: dirty };
  } catch {
    return { commit: 'unknown', uncommitted: [] as string[] };
  }
}


function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`✖ --${name} must be a whole number ≥ 1`);
    process.exit(2);
  }
  return n;
}

export function stageBenchCommand(stage: Stage): Command {
  const target = targets[stage];
  const cmd = new Command(stage)
    .description(
      stage === 'sink'
        ? 'The sink alone: pre-fill touchpoints.v1 (and signals.v1), then time the sink draining it into chDB with every rollup, and check the counts'
        : 'The processor alone: pre-fill touchpoints.v1, then time the processor draining it through Redis into signals.v1 / alerts.v1',
    )
    .option('--events <n>', 'touchpoints to pre-fill', '300000')
    .option('--customers <n>', 'customers they belong to (Kafka key), about events/customers touchpoints each', '50000')
    .option('--partitions <n>', 'partitions of touchpoints.v1 (the app\'s default TOUCHPOINT_PARTITIONS is 12)', '12')
    .option('--seed <n>', 'seed of the journeys', '42')
    .option('--dir <dir>', 'stack directory (Kafka, Redis, chDB data and logs); default a fresh .bench/stage-<time>')
    .option('--out <file>', 'write the figures as JSON here (default .bench/<stage>-<time>.json)')
    .option('--keep', 'keep the stack directory afterwards (default: deleted)');
  if (stage === 'processor') {
    cmd.option('--instances <n>', 'processor instances in the group: this process plus n-1 `touchstream run --target processor` processes', '1');
    cmd.option('--redis-cluster', 'a local 3-master Redis Cluster instead of one redis-server (docs/architecture.md §18)');
    cmd.option('--churn-model <file>', 'score churn risk live with this model file (CHURN_MODEL_FILE, e.g. from ./touchstream train --generate; docs/architecture.md §22)');
  }
  if (stage === 'sink') cmd.option('--no-signals', 'skip the second figure: signals.v1 pre-filled with the signals of those touchpoints, drained by the sink');
  cmd.addOption(
    new Option('--redis-fsync <policy>', "Redis' appendfsync (the local stack's default is always: nothing committed is lost on a redis-server crash)")
      .choices(['always', 'everysec'])
      .default('always'),
  );
  cmd.addHelpText(
    'after',
    `
Target (issue 13): ${stage} ≥ ${fmt(target.perSecond)} ${target.what}, on the machine the figures are printed with.
The time runs from the call of startApp (only the ${stage}, through the real composition root) until its consumer
group ${GROUP_PREFIX}-${stage} has committed the end offset of every partition (polled every ${POLL_MS} ms);
"steady" leaves out the first ${WARMUP_MS / 1000} s after startApp resolved. The touchpoints are the
journeys of \`bench query\` (surveys, sentiment, waits, reasons, outcomes) over the last ${stageSpanDays} days, in event-time
order across customers, Avro-encoded and keyed by customer_id.${stage === 'sink'
      ? `
The sink runs alone with embedded chDB (the configuration check that asks for a ClickHouse server when sink and
query are split across processes does not apply: the check opens chDB in this process after the sink stopped).
Afterwards the raw touchpoints must hold --events distinct event_ids, stored once, and every rollup must count
them all (touchpoint_agg_1m/1h/1d, kpi_agg_1h/1d, customer_activity_1d, fcr_contacts): OK or MISMATCH, exit 1.`
      : `
The processor uses rules/default.yaml, like \`touchstream up\`. Journeys started more than 48 h before now have
their journey_not_completed timer due at once: the timer sweeper fires them during the drain, as after a catch-up.`}`,
  );
  return cmd.action(async (flags: StageFlags) => {
    const events = positiveInt('events', flags.events);
    const customers = positiveInt('customers', flags.customers);
    const partitions = positiveInt('partitions', flags.partitions);
    const seed = Number(flags.seed);
    const withSignals = stage === 'sink' && flags.signals !== false;
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    const dir = path.resolve(repoRoot, flags.dir ?? `.bench/stage-${stamp}`);
    const out = path.resolve(process.cwd(), flags.out ?? path.join(repoRoot, `.bench/${stage}-${stamp}.json`));
    const git = gitState();
    const info = machineInfo();

    const { startStack, checkPrerequisites } = await import('@touchstream/stack');
    const missing = checkPrerequisites();
    if (missing.length) {
      console.error(`✖ missing prerequisites:\n  - ${missing.join('\n  - ')}`);
      process.exit(2);
    }
    console.error(`▶ starting Kafka and Redis (appendfsync ${flags.redisFsync}), chDB in ${path.relative(process.cwd(), dir) || dir}…`);
    const instances = positiveInt('instances', flags.instances ?? '1');
    const stack = await startStack({ dir, redisAppendfsync: flags.redisFsync, ...(flags.redisCluster ? { redisCluster: { masters: 3 } } : {}) });
    let app: RunningApp | undefined;
    let admin: Admin | undefined;
    const teardown = async () => {
      await app?.stop().catch((err: Error) => console.error(`stopping the app: ${err.message}`));
      await admin?.disconnect().catch(() => undefined);
      await stack.stop();
      if (!flags.keep) fs.rmSync(dir, { recursive: true, force: true });
    };
    process.once('SIGINT', () => {
      console.error('\nSIGINT: stopping…');
      void teardown().finally(() => process.exit(130));
    });

    let exitCode = 0;
    try {
      const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'touchstream-bench' });
      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, topicSpecs({ touchpointPartitions: partitions, otherPartitions: OTHER_PARTITIONS, replicationFactor: 1, minInsyncReplicas: 1 }));

      // Generated, encoded and produced in a worker thread: its heap is gone before the stage starts here.
      let bar = countingBar(`pre-filling ${topicNames.touchpoints}`, 'records');
      const fillStarted = performance.now();
      const filled = await prefillTouchpointsInWorker(
        { brokers: stack.kafkaBrokers, events, customers, seed, nowMicros: Date.now() * 1000 },
        {
          generated: (g) => {
            console.error(`generated ${fmt(events)} touchpoints of ${fmt(g.customers)} customers (${fmt(g.signals)} signals) in ${fmt(g.seconds, 1)} s`);
            bar.start(events, 0, { rate: '–' });
          },
          progress: (sent) => bar.update(sent, { rate: fmt(sent / ((performance.now() - fillStarted) / 1000)) }),
        },
      ).finally(() => bar.stop());
      const onTopic = await topicRecords(admin, topicNames.touchpoints);
      if (onTopic !== events) throw new Error(`${topicNames.touchpoints} holds ${onTopic} records, not ${events}`);
      const signals = withSignals ? filled.signals : [];
      const signalCount = signals.length;
      const prefillTouchpoints = filled.prefill;
      const generateSeconds = filled.generateSeconds;

      const base = {
        TOUCHSTREAM_TARGET: stage,
        LOG_LEVEL: 'error',
        HTTP_PORT: '0',
        KAFKA_BROKERS: stack.kafkaBrokers.join(','),
        KAFKA_GROUP_PREFIX: GROUP_PREFIX,
        REDIS_URL: stack.redisClusterUrl ?? stack.redisUrl,
        TOUCHPOINT_PARTITIONS: String(partitions),
        TOPIC_PARTITIONS: String(OTHER_PARTITIONS),
        ...('url' in stack.clickhouse ? { CLICKHOUSE_URL: stack.clickhouse.url } : { CLICKHOUSE_PATH: stack.clickhouse.path }),
        ...(stage === 'processor' ? { RULES_FILE: path.join(repoRoot, 'rules/default.yaml') } : {}),
        ...(stage === 'processor' && flags.churnModel ? { CHURN_MODEL_FILE: path.resolve(flags.churnModel) } : {}),
      };
      // The sink alone with embedded chDB fails loadConfig's cross-process rule (sink and query must share the one
      // process that opens chDB); here nothing else opens it while the sink runs, so the schema is applied without it.
      const config = stage === 'sink' ? configShape.parse(base) : loadConfig(base);
      const pids = { kafka: stack.services.kafka?.pid, redis: stack.services.redis?.pid };
      const groupId = `${GROUP_PREFIX}-${stage}`;

      const result: Record<string, unknown> = {
        stage,
        at: new Date().toISOString(),
        git,
        machine: info,
        options: { events, customers, partitions, seed, instances, redisCluster: Boolean(flags.redisCluster), redisAppendfsync: flags.redisFsync, signals: withSignals, dir: flags.keep ? dir : undefined },
        target: { perSecond: target.perSecond, what: target.what },
        generateSeconds,
        prefill: { [topicNames.touchpoints]: prefillTouchpoints },
      };

      const touchpointDrain = await drainWithApp({
        admin, config, groupId, topics: [topicNames.touchpoints], label: `${stage}: ${topicNames.touchpoints}`, pids, onApp: (a) => (app = a),
        extra: { count: instances - 1, env: base },
      });
      result.touchpoints = touchpointDrain;

      let signalDrain: DrainResult | undefined;
      if (stage === 'sink' && withSignals) {
        bar = countingBar(`pre-filling ${topicNames.signals}`, 'records');
        bar.start(signals.length, 0, { rate: '–' });
        const signalsStarted = performance.now();
        (result.prefill as Record<string, unknown>)[topicNames.signals] = await prefill(
          kafka, topicNames.signals, signals.length, (i) => signals[i]!,
          (sent) => bar.update(sent, { rate: fmt(sent / ((performance.now() - signalsStarted) / 1000)) }),
        ).finally(() => bar.stop());
        signalDrain = await drainWithApp({
          admin, config, groupId, topics: [topicNames.signals], label: `${stage}: ${topicNames.signals}`, pids, onApp: (a) => (app = a),
        });
        result.signals = signalDrain;
      }

      let checks: CountCheck[] | undefined;
      let produced: Record<string, number> | undefined;
      if (stage === 'sink') {
        if ('url' in stack.clickhouse) throw new Error('the sink bench checks embedded chDB only');
        checks = await checkClickHouse(stack.clickhouse.path, { touchpoints: events, signals: signalCount });
        result.checks = checks;
      } else {
        produced = {};
        for (const topic of [topicNames.signals, topicNames.alerts, topicNames.deadLetters]) produced[topic] = await topicRecords(admin, topic);
        result.produced = produced;
      }

      // ——— report ———
      const unit = stage === 'sink' ? 'rows' : 'events';
      console.log(`\ntouchstream bench ${stage} — ${fmt(events)} touchpoints, ${fmt(customers)} customers, ${partitions} partitions of ${topicNames.touchpoints}, seed ${seed}`);
      console.log(`machine: ${info.cores} × ${info.cpu}, ${info.ramGiB} GiB RAM, Node ${info.node}; git ${git.commit}${git.uncommitted.length ? ` + uncommitted changes in ${git.uncommitted.join(', ')}` : ''}`);
      console.log(`engines: Kafka ${stack.kafkaBrokers.join(',')} (KRaft, one node), redis-server appendfsync ${flags.redisFsync}, chDB ${'path' in stack.clickhouse ? path.relative(process.cwd(), stack.clickhouse.path) : stack.clickhouse.url}`);
      console.log(`pre-filled ${topicNames.touchpoints} in ${fmt(prefillTouchpoints.seconds, 1)} s (${fmt(prefillTouchpoints.perSecond)} records/s)`);
      printDrain(stage === 'sink' ? 'sink, touchpoints (raw + 7 rollups)' : 'processor', touchpointDrain, unit);
      if (signalDrain) printDrain('sink, signals (raw + 3 rollups)', signalDrain, unit);
      if (checks) {
        console.log('\nClickHouse after the drains:');
        const width = Math.max(...checks.map((c) => c.what.length));
        for (const c of checks) console.log(`  ${c.ok ? 'OK      ' : 'MISMATCH'}  ${c.what.padEnd(width)}  ${fmt(c.actual)}${c.ok ? '' : ` (expected ${fmt(c.expected)})`}`);
        if (checks.some((c) => !c.ok)) exitCode = 1;
      }
      if (produced) {
        console.log(`\nproduced: ${fmt(produced[topicNames.signals]!)} signals on ${topicNames.signals}, ${fmt(produced[topicNames.alerts]!)} alerts on ${topicNames.alerts}, ${fmt(produced[topicNames.deadLetters]!)} dead letters (after the processor stopped; the timer sweeper adds signals too)`);
      }
      const rate = touchpointDrain.steadyPerSecond ?? touchpointDrain.perSecond;
      const met = touchpointDrain.perSecond >= target.perSecond;
      console.log(`\ntarget: ${stage} ≥ ${fmt(target.perSecond)} ${target.what} — ${met ? '✔ met' : '✖ not met'}: ${fmt(touchpointDrain.perSecond)}/s over the whole drain, ${fmt(rate)}/s steady (${fmt((touchpointDrain.perSecond / target.perSecond) * 100)} % of the target)`);
      if (checks) console.log(checks.every((c) => c.ok) ? 'every rollup written: OK' : '✖ MISMATCH between raw rows and rollups (see above)');

      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`\nfigures written to ${path.relative(process.cwd(), out) || out}${flags.keep ? `; stack kept in ${path.relative(process.cwd(), dir) || dir} (logs: kafka.log, redis.log)` : ''}`);
    } catch (err) {
      console.error(`\n✖ ${(err as Error).stack ?? err}`);
      exitCode = 1;
    } finally {
      await teardown();
    }
    process.exit(exitCode);
  });
}
