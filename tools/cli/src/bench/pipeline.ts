// `touchstream bench pipeline` (issue 13): end-to-end throughput and latency on the embedded stack the README starts.
// Brings up `./touchstream up --no-demo` as a child process, drives ingest over HTTP at a fixed rate or as fast as it
// answers, and measures from outside, as a user would see it:
//  - events/s per stage: ingest (acknowledged), processor and sink (from the consumer groups' committed offsets);
//  - consumer lag over time per group and topic, with a verdict (flat or growing);
//  - ingest request latency (send → 202), alert latency (202 → the alert on the live SSE stream, for "probe"
//    customers whose one event crosses the critical level at once), freshness (202 → counted by the query API);
//  - CPU and RSS of the app's node process (chDB included), the Kafka JVM, redis-server and the driver itself;
//  - the drain after the load, then the engines' own ceilings on the same machine and stack (Kafka
//    ProducerPerformance, redis-benchmark, a raw chDB insert in a process of its own) and touchstream's ratio to each.
// Prints a report and writes every figure (and the per-second series) to a JSON file.
import { environment } from '@touchstream/app';
import { DEMO_READ_KEY, DEMO_WRITE_KEY } from '../demo/keys.ts';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { freePort } from '@touchstream/stack';
import { AlertStreamClient, getJson, IngestClient, TrafficGenerator, type BenchEvent, type PostResult } from './pipeline-load.ts';
import {
  checkTargets, freshness, lagTrend, parseProducerPerformance, parseRedisBenchmark, sparkline, summarize,
  type AckCheckpoint, type CountObservation, type LagTrend, type ProducerPerformanceResult, type Summary, type TargetCheck,
} from './pipeline-stats.ts';
import { allProcessTicks, ProcSampler, topOthers, machineInfo } from './procfs.ts';
import { StackChild } from './stack-child.ts';
import { progressBar } from '../progress.ts';
import type { ChdbCeiling } from './chdb-ceiling.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));


const TOPICS = { touchpoints: 'touchpoints.v1', signals: 'signals.v1', alerts: 'alerts.v1' } as const;

interface PipelineOptions {
  rate: string;
  duration: string;
  batch?: string;
  concurrency?: string;
  customers: string;
  probes: string;
  seed: string;
  dir?: string;
  keepDir?: boolean;
  port?: string;
  out?: string;
  drainTimeout: string;
  ceilings: boolean;
  ceilingRecords: string;
  targets?: boolean;
}

/** One (consumer group, topic) whose lag is followed. */
interface Lane {
  name: string;
  group: string;
  topic: string;
}

interface OffsetSnapshot {
  /** Sum of the topics' end offsets. */
  ends: Record<string, number>;
  /** Per lane: committed (an uncommitted partition counts at its start) and lag. */
  committed: Record<string, number>;
  lag: Record<string, number>;
}

interface Sample {
  /** Seconds since the load started (negative before). */
  t: number;
  phase: 'load' | 'drain' | 'ceilings';
  sent: number;
  acked: number;
  offsets: OffsetSnapshot | null;
  cpuPct: Record<string, number | null>;
  rssBytes: Record<string, number | null>;
  machineBusyPct: number | null;
}

interface Probe {
  customerId: string;
  sentAt: number;
  ackAt?: number;
  alertAt?: number;
  failed?: boolean;
}

const fmtInt = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en'));
const fmtMs = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const fmtMiB = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${Math.round(v / 2 ** 20)} MiB`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function pipelineBenchCommand(): Command {
  return new Command('pipeline')
    .description('End to end on the embedded stack (`up --no-demo` as a child process): events/s per stage, consumer lag, ingest/alert/freshness latency, CPU and RSS per process, drain time, and the engines\' ceilings')
    .addOption(new Option('--rate <events/s|max>', 'offered load in events/s (token bucket), or "max": --concurrency request loops as fast as ingest answers').default('5000'))
    .option('--duration <seconds>', 'length of the load phase', '60')
    .option('--batch <events>', 'events per request, ≤ 1000 (default 100 at a fixed rate, 500 with --rate max)')
    .option('--concurrency <n>', 'requests in flight at most (default 64 at a fixed rate; 8 loops with --rate max)')
    .option('--customers <n>', 'customers the traffic is spread over (each lives through bank, telecom and retail journeys)', '50000')
    .option('--probes <per second>', 'fresh "probe" customers per second whose one event raises a critical alert at once (alert latency)', '2')
    .option('--seed <n>', 'seed of the traffic generator', '1')
    .option('--dir <dir>', 'data directory of the stack (default: a fresh .bench/pipeline-<timestamp>, removed afterwards)')
    .option('--keep-dir', 'keep the stack\'s data directory after the run')
    .option('--port <port>', 'HTTP port of the stack (default: a free one)')
    .option('--out <file.json>', 'result file (default .bench/pipeline-<timestamp>.json; the stack\'s output goes next to it as .log)')
    .option('--drain-timeout <seconds>', 'after the load, how long to wait for every lag to reach 0 and the query API to count everything', '300')
    .option('--no-ceilings', 'skip the engines\' ceilings (Kafka ProducerPerformance, redis-benchmark, raw chDB insert)')
    .option('--ceiling-records <n>', 'records of the Kafka and Redis ceilings (the raw chDB insert writes the same number of rows)', '500000')
    .option('--targets', 'check issue 13\'s targets (≥ 20k events/s end to end with flat lags; at ≤ 5k events/s alert p99 ≤ 500 ms, ingest p99 ≤ 100 ms, freshness p99 ≤ 5 s); exit 1 when one is missed')
    .addHelpText('after', `
The stack is the one \`./touchstream up --no-demo\` starts (Kafka, Redis, chDB, every service in one process), on
this machine, with the default rules (rules/default.yaml). Everything is measured from outside: the consumer groups'
committed offsets (kafkajs admin, once a second), GET /v1/kpis for the count (every 500 ms), the SSE alert stream,
/proc for CPU and RSS. CPU is in % of one core (200% = two cores busy).

Examples:
  ./touchstream bench pipeline --rate 2000 --duration 30
  ./touchstream bench pipeline --rate max --duration 120 --targets
  ./touchstream bench pipeline --rate 5000 --duration 60 --no-ceilings --out .bench/after.json`)
    .action(async (opts: PipelineOptions) => {
      const code = await runPipelineBench(opts);
      process.exit(code);
    });
}

function positive(name: string, text: string | undefined, def: number): number {
  const v = text === undefined ? def : Number(text);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`✖ --${name} must be a positive number (got ${text})`);
    process.exit(2);
  }
  return v;
}


async function readOffsets(admin: Admin, lanes: Lane[]): Promise<OffsetSnapshot> {
  const topics = [...new Set(lanes.map((l) => l.topic))];
  const groups = [...new Set(lanes.map((l) => l.group))];
  const [topicOffsets, groupOffsets] = await Promise.all([
    Promise.all(topics.map(async (t) => [t, await admin.fetchTopicOffsets(t)] as const)),
    Promise.all(groups.map(async (g) => [g, await admin.fetchOffsets({ groupId: g, topics: lanes.filter((l) => l.group === g).map((l) => l.topic) })] as const)),
  ]);
  const byTopic = new Map(topicOffsets);
  const byGroup = new Map(groupOffsets);
  const ends: Record<string, number> = {};
  for (const [t, parts] of byTopic) ends[t] = parts.reduce((s, p) => s + Number(p.high), 0);
  const committed: Record<string, number> = {};
  const lag: Record<string, number> = {};
  for (const lane of lanes) {
    const parts = byTopic.get(lane.topic) ?? [];
    const commits = byGroup.get(lane.group)?.find((x) => x.topic === lane.topic)?.partitions ?? [];
    let c = 0;
    let l = 0;
    for (const p of parts) {
      const high = Number(p.high);
      const low = Number(p.low);
      const raw = Number(commits.find((x) => x.partition === p.partition)?.offset ?? -1);
      const at = raw < 0 ? low : raw; // never committed: everything since the start of the partition is lag
      c += at;
      l += Math.max(0, high - at);
    }
    committed[lane.name] = c;
    lag[lane.name] = l;
  }
  return { ends, committed, lag };
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out, err: err + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

interface Ceilings {
  kafka?: ProducerPerformanceResult & { error?: string };
  redis?: { opsPerS: Record<string, number>; error?: string };
  chdb?: ChdbCeiling & { error?: string };
  errors: string[];
}

async function measureCeilings(admin: Admin, stack: StackChild, records: number, scratchDir: string, say: (m: string) => void): Promise<Ceilings> {
  const ceilings: Ceilings = { errors: [] };
  // Kafka: its own producer benchmark, acks from all in-sync replicas, 300-byte records, into a topic of its own.
  const topic = `bench-ceiling-${Date.now().toString(36)}`;
  say(`Kafka ProducerPerformance: ${records.toLocaleString('en')} records of 300 B, acks=all…`);
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 12, replicationFactor: 1 }], waitForLeaders: true });
    const r = await run('java', [
      '-Xmx1g', '-cp', path.join(repoRoot, 'tools/kafka/lib/*'), 'org.apache.kafka.tools.ProducerPerformance',
      '--topic', topic, '--num-records', String(records), '--record-size', '300', '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${stack.kafkaBrokers.join(',')}`, 'acks=all',
    ], { timeoutMs: 600_000 });
    const parsed = parseProducerPerformance(r.out);
    if (parsed) ceilings.kafka = parsed;
    else ceilings.errors.push(`Kafka ProducerPerformance printed no result (exit ${r.code}): ${(r.err || r.out).trim().split('\n').slice(-5).join(' | ')}`);
  } catch (err) {
    ceilings.errors.push(`Kafka ceiling: ${(err as Error).message}`);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }

  // Redis: the stack's own redis-server (append-only, fsync per write, as the processor uses it), pipelined.
  const redisPort = /:(\d+)/.exec(stack.redisUrl.replace(/^rediss?:\/\//, ''))?.[1];
  say(`redis-benchmark: ${records.toLocaleString('en')} SET and GET, pipeline 16…`);
  if (redisPort) {
    const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', redisPort, '-P', '16', '-n', String(records), '-t', 'set,get', '-q'], { timeoutMs: 600_000 });
    const ops = parseRedisBenchmark(r.out);
    if (Object.keys(ops).length) ceilings.redis = { opsPerS: ops };
    else ceilings.errors.push(`redis-benchmark printed no result (exit ${r.code}): ${(r.err || r.out).trim().slice(0, 300)}`);
  } else {
    ceilings.errors.push(`redis ceiling: no port in ${stack.redisUrl}`);
  }

  // chDB: a process of its own (one data directory per process), a scratch directory with the same schema.
  const storeRowsCount = Math.max(10_000, Math.round(records / 5));
  say(`chDB: ${records.toLocaleString('en')} raw touchpoint rows (batches of 50,000), then ${storeRowsCount.toLocaleString('en')} through storeRows (raw + every rollup, batches of 5,000)…`);
  const chdbDir = path.join(scratchDir, `chdb-ceiling-${Date.now().toString(36)}`);
  try {
    const r = await run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'tools/cli/src/bench/chdb-ceiling.ts'), chdbDir, String(records), '50000', String(storeRowsCount), '5000'], {
      cwd: repoRoot,
      timeoutMs: 900_000,
    });
    const line = r.out.trim().split('\n').at(-1);
    try {
      ceilings.chdb = JSON.parse(line ?? '') as ChdbCeiling;
    } catch {
      ceilings.errors.push(`chDB ceiling failed (exit ${r.code}): ${r.err.trim().split('\n').slice(-5).join(' | ')}`);
    }
  } finally {
    fs.rmSync(chdbDir, { recursive: true, force: true });
  }
  return ceilings;
}

const bar = (format: string) => progressBar(format, { barsize: 24 });

export async function runPipelineBench(opts: PipelineOptions): Promise<number> {
  const max = opts.rate === 'max';
  const rate = max ? null : positive('rate', opts.rate, 5000);
  const duration = positive('duration', opts.duration, 60);
  const batch = Math.round(positive('batch', opts.batch, max ? 500 : 100));
  if (batch > 1000) {
    console.error('✖ --batch must be ≤ 1000 (ingest\'s INGEST_MAX_EVENTS default)');
    return 2;
  }
  const concurrency = Math.round(positive('concurrency', opts.concurrency, max ? 8 : 64));
  const customers = Math.round(positive('customers', opts.customers, 50_000));
  const probesPerS = Number(opts.probes);
  const drainTimeoutS = positive('drain-timeout', opts.drainTimeout, 300);
  const ceilingRecords = Math.round(positive('ceiling-records', opts.ceilingRecords, 500_000));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const benchDir = path.join(repoRoot, '.bench');
  const dir = opts.dir ? path.resolve(process.cwd(), opts.dir) : path.join(benchDir, `pipeline-${stamp}`);
  const createdDir = !opts.dir || !fs.existsSync(dir);
  const outFile = opts.out ? path.resolve(process.cwd(), opts.out) : path.join(benchDir, `pipeline-${stamp}.json`);
  const logFile = outFile.replace(/\.json$/, '') + '.log';
  const groupPrefix = environment().KAFKA_GROUP_PREFIX || 'touchstream';
  const lanes: Lane[] = [
    { name: 'processor ← touchpoints', group: `${groupPrefix}-processor`, topic: TOPICS.touchpoints },
    { name: 'sink ← touchpoints', group: `${groupPrefix}-sink`, topic: TOPICS.touchpoints },
    { name: 'sink ← signals', group: `${groupPrefix}-sink`, topic: TOPICS.signals },
    { name: 'sink ← alerts', group: `${groupPrefix}-sink`, topic: TOPICS.alerts },
  ];
  const machine = machineInfo();
  const problems: string[] = [];
  const say = (m: string) => process.stderr.write(`${m}\n`);

  let aborted = false;
  let interrupts = 0;
  let stack: StackChild | undefined;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      aborted = true;
      say('\nCtrl-C: stopping the load and the stack (again to kill at once)…');
    } else {
      stack?.kill();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  process.on('exit', () => {
    if (stack?.running) stack.kill();
  });

  const port = opts.port ? Number(opts.port) : await freePort();
  say(`▶ starting the stack: ./touchstream up --no-demo --port ${port} --dir ${path.relative(process.cwd(), dir) || dir} (output in ${path.relative(process.cwd(), logFile)})`);
  stack = new StackChild({ repoRoot, dir, port, logFile });
  const startedAt = performance.now();
  let admin: Admin | undefined;
  let alerts: AlertStreamClient | undefined;
  let sampling = false;
  let samplerLoop: Promise<void> | undefined;
  let pollLoop: Promise<void> | undefined;
  let result: Record<string, unknown> | undefined;
  let exitCode = 0;
  try {
    await stack.start();
    const stackStartS = (performance.now() - startedAt) / 1000;
    if (!stack.kafkaPid || !stack.redisPid) problems.push(`could not find the stack's ${!stack.kafkaPid ? 'Kafka JVM' : ''}${!stack.kafkaPid && !stack.redisPid ? ' and ' : ''}${!stack.redisPid ? 'redis-server' : ''} among the descendants of pid ${stack.pid}`);
    say(`✔ ready in ${stackStartS.toFixed(1)} s: ${stack.url} · Kafka ${stack.kafkaBrokers.join(',')} (pid ${stack.kafkaPid ?? '?'}) · ${stack.redisUrl} (pid ${stack.redisPid ?? '?'}) · app pid ${stack.pid}`);

    const kafka = new Kafka({ clientId: 'touchstream-bench', brokers: stack.kafkaBrokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();

    const pids = new Map<string, number>([['touchstream (node + chDB)', stack.pid]]);
    if (stack.kafkaPid) pids.set('kafka (java)', stack.kafkaPid);
    if (stack.redisPid) pids.set('redis-server', stack.redisPid);
    pids.set('bench driver (node)', process.pid);
    const procs = new ProcSampler(pids);
    procs.sample();

    // Live alert stream: probes are critical; the stream carries only those, so it stays cheap to read.
    const probes = new Map<string, Probe>();
    let criticalAlerts = 0;
    alerts = new AlertStreamClient(`${stack.url}/v1/alerts/stream?min_level=critical`, DEMO_READ_KEY, (alert, at) => {
      criticalAlerts++;
      const probe = probes.get(alert.customer_id);
      if (probe && probe.alertAt === undefined) probe.alertAt = at;
    }, (m) => problems.length < 200 && problems.push(m));
    alerts.start();
    const streamOk = await Promise.race([alerts.connected.then(() => true), sleep(15_000).then(() => false)]);
    if (!streamOk) problems.push('the alert stream did not answer within 15 s');

    // The query API's count of touchpoints over a range around the run (the day rollup, totals only matter).
    const dayMs = 86_400_000;
    const rangeFrom = new Date(Math.floor(Date.now() / dayMs) * dayMs - dayMs).toISOString();
    const rangeTo = new Date(Math.floor(Date.now() / dayMs) * dayMs + 3 * dayMs).toISOString();
    const kpisUrl = `${stack.url}/v1/kpis?interval=day&from=${encodeURIComponent(rangeFrom)}&to=${encodeURIComponent(rangeTo)}`;
    const countNow = async () => {
      const r = await getJson<{ totals?: Array<{ events?: number }> }>(kpisUrl, DEMO_READ_KEY);
      if (r.status !== 200) throw new Error(`GET /v1/kpis answered ${r.status}`);
      return { count: Number(r.body?.totals?.[0]?.events ?? 0), ms: r.ms };
    };
    const baselineCount = (await countNow()).count;
    const baselineOffsets = await readOffsets(admin, lanes);

    // ---- load ----
    const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
    const gen = new TrafficGenerator(customers, runId, Number(opts.seed));
    const client = new IngestClient(stack.url, DEMO_WRITE_KEY, concurrency);
    const samples: Sample[] = [];
    const observations: CountObservation[] = [];
    const pollMs: number[] = [];
    const ackCheckpoints: AckCheckpoint[] = [];
    const requestMs: number[] = [];
    const statuses: Record<string, number> = {};
    const failures: string[] = [];
    let sent = 0;
    let acked = 0;
    let rejected = 0;
    let inflight = 0;
    let shortfall = 0;
    let phase: Sample['phase'] = 'load';
    const ticksAtStart = allProcessTicks();
    const loadStart = performance.now();
    const secondsSince = (at: number) => (at - loadStart) / 1000;
    let nextProbeAt = loadStart + (probesPerS > 0 ? 500 : Infinity);
    const probeEveryMs = probesPerS > 0 ? 1000 / probesPerS : Infinity;

    sampling = true;
    samplerLoop = (async () => {
      while (sampling) {
        const at = performance.now();
        const offsets = await readOffsets(admin!, lanes).catch((err: Error) => {
          if (problems.length < 200) problems.push(`offsets at ${secondsSince(at).toFixed(0)} s: ${err.message}`);
          return null;
        });
        const p = procs.sample();
        samples.push({
          t: secondsSince(at), phase, sent, acked, offsets,
          cpuPct: Object.fromEntries(Object.entries(p.procs).map(([k, v]) => [k, v.cpuPct])),
          rssBytes: Object.fromEntries(Object.entries(p.procs).map(([k, v]) => [k, v.rssBytes])),
          machineBusyPct: p.machineBusyPct,
        });
        await sleep(Math.max(0, 1000 - (performance.now() - at)));
      }
    })();
    let polling = true;
    pollLoop = (async () => {
      while (polling) {
        const at = performance.now();
        try {
          const c = await countNow();
          observations.push({ t: performance.now(), count: c.count - baselineCount });
          pollMs.push(c.ms);
        } catch (err) {
          if (problems.length < 200) problems.push(`query API count at ${secondsSince(at).toFixed(0)} s: ${(err as Error).message}`);
        }
        await sleep(Math.max(0, 500 - (performance.now() - at)));
      }
    })();

    const sendBatch = (n: number): Promise<void> => {
      const now = performance.now();
      const occurredAt = new Date().toISOString();
      const events: BenchEvent[] = [];
      const batchProbes: Probe[] = [];
      if (now >= nextProbeAt) {
        nextProbeAt += probeEveryMs;
        const e = gen.probe(occurredAt);
        const probe: Probe = { customerId: e.customer_id, sentAt: now };
        probes.set(e.customer_id, probe);
        batchProbes.push(probe);
        events.push(e);
      }
      while (events.length < n) events.push(gen.next(occurredAt));
      sent += n;
      inflight++;
      return client.post(events).then((r: PostResult) => {
        inflight--;
        requestMs.push(r.ms);
        const key = r.error ? 'network error' : String(r.status);
        statuses[key] = (statuses[key] ?? 0) + 1;
        rejected += r.rejected;
        if (r.status === 202) {
          acked += r.accepted;
          ackCheckpoints.push({ t: r.at, acked });
          for (const p of batchProbes) p.ackAt = r.at;
        } else {
          for (const p of batchProbes) p.failed = true;
          if (failures.length < 10) failures.push(`${secondsSince(r.at).toFixed(1)} s: ${r.error ?? `${r.status} ${r.body ?? ''}`}`);
        }
      });
    };

    const loadBar = bar(`load  [{bar}] {value}/{total} s · sent {sent} · acked {acked} ({ackRate}/s) · in flight {inflight} · lag processor {lagP} · sink {lagS}/{lagSig}`);
    const lastLag = () => samples.findLast((s) => s.offsets)?.offsets?.lag;
    const barPayload = () => {
      const lag = lastLag();
      const elapsed = Math.max(0.001, secondsSince(performance.now()));
      return {
        sent: fmtInt(sent), acked: fmtInt(acked), ackRate: fmtInt(acked / elapsed), inflight,
        lagP: fmtInt(lag?.[lanes[0]!.name]), lagS: fmtInt(lag?.[lanes[1]!.name]), lagSig: fmtInt(lag?.[lanes[2]!.name]),
      };
    };
    loadBar.start(Math.round(duration), 0, barPayload());
    const barTimer = setInterval(() => loadBar.update(Math.min(Math.round(duration), Math.floor(secondsSince(performance.now()))), barPayload()), 500);
    const loadDeadline = loadStart + duration * 1000;
    if (max) {
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (!aborted && performance.now() < loadDeadline) {
          const before = statuses['network error'] ?? 0;
          await sendBatch(batch);
          if ((statuses['network error'] ?? 0) > before) await sleep(100);
        }
      }));
    } else {
      await new Promise<void>((resolve) => {
        let tokens = batch; // the first request goes at once
        let last = performance.now();
        const cap = Math.max(batch, rate!); // at most one second of backlog, the rest is shortfall
        const tick = setInterval(() => {
          const now = performance.now();
          if (aborted || now >= loadDeadline) {
            clearInterval(tick);
            resolve();
            return;
          }
          tokens += (rate! * (now - last)) / 1000;
          last = now;
          if (tokens > cap) {
            shortfall += tokens - cap;
            tokens = cap;
          }
          while (tokens >= batch && inflight < concurrency) {
            tokens -= batch;
            void sendBatch(batch);
          }
        }, 5);
      });
      const settle = performance.now() + 30_000;
      while (inflight > 0 && performance.now() < settle) await sleep(10);
    }
    const loadEnd = performance.now();
    const othersDuringLoad = topOthers(ticksAtStart, (loadEnd - loadStart) / 1000, [stack.pid, process.pid]);
    const endOffsets = await readOffsets(admin, lanes).catch(() => null);
    clearInterval(barTimer);
    loadBar.update(Math.round(duration), barPayload());
    loadBar.stop();
    client.close();
    const loadSeconds = (loadEnd - loadStart) / 1000;

    // ---- drain ----
    phase = 'drain';
    const drainStart = performance.now();
    const caughtUp: Record<string, number | undefined> = {};
    let countedAllAt: number | undefined;
    let drained = false;
    const drainBar = bar(`drain [{bar}] {value} s · lag processor {lagP} · sink {lagS}/{lagSig} · counted {counted}/{acked}`);
    drainBar.start(Math.round(drainTimeoutS), 0, { ...barPayload(), counted: fmtInt(observations.at(-1)?.count ?? 0) });
    let seenSamples = samples.length;
    // A drain that makes no progress at all (no consumer commits, the count stands still) for a minute is stalled.
    const stallMs = Math.min(60_000, drainTimeoutS * 1000);
    let progressKey = '';
    let progressAt = performance.now();
    let stalled = false;
    while (!aborted && performance.now() - drainStart < drainTimeoutS * 1000) {
      const key = `${JSON.stringify(samples.findLast((s) => s.offsets)?.offsets?.committed)}/${observations.at(-1)?.count}`;
      if (key !== progressKey) {
        progressKey = key;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > stallMs) {
        stalled = true;
        break;
      }
      for (; seenSamples < samples.length; seenSamples++) {
        const s = samples[seenSamples]!;
        if (!s.offsets || s.t * 1000 < loadEnd - loadStart) continue;
        const at = loadStart + s.t * 1000;
        if (caughtUp.processor === undefined && s.offsets.lag[lanes[0]!.name] === 0) caughtUp.processor = at;
        if (caughtUp.sinkTouchpoints === undefined && s.offsets.lag[lanes[1]!.name] === 0) caughtUp.sinkTouchpoints = at;
        // Signals and alerts keep coming until the processor is done.
        if (caughtUp.processor !== undefined && caughtUp.sinkSignals === undefined && s.offsets.lag[lanes[2]!.name] === 0) caughtUp.sinkSignals = at;
        if (caughtUp.processor !== undefined && caughtUp.sinkAlerts === undefined && s.offsets.lag[lanes[3]!.name] === 0) caughtUp.sinkAlerts = at;
      }
      if (countedAllAt === undefined) {
        const hit = observations.find((o) => o.count >= acked);
        if (hit) countedAllAt = hit.t;
      }
      const lagsDone = ['processor', 'sinkTouchpoints', 'sinkSignals', 'sinkAlerts'].every((k) => caughtUp[k] !== undefined);
      const probesPending = [...probes.values()].filter((p) => p.ackAt !== undefined && p.alertAt === undefined).length;
      drainBar.update(Math.floor((performance.now() - drainStart) / 1000), { ...barPayload(), counted: fmtInt(observations.at(-1)?.count ?? 0) });
      if (lagsDone && countedAllAt !== undefined) {
        drained = true;
        // Late probe alerts: a few more seconds at most.
        if (probesPending === 0 || performance.now() - Math.max(countedAllAt, caughtUp.processor ?? 0) > 10_000) break;
      }
      await sleep(250);
    }
    drainBar.stop();
    const drainSeconds = drained ? (Math.max(countedAllAt!, ...Object.values(caughtUp).map((v) => v ?? 0)) - loadEnd) / 1000 : null;
    const lagsAtEnd = samples.findLast((s) => s.offsets)?.offsets?.lag ?? {};
    const behind = `lags ${Object.entries(lagsAtEnd).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}; counted ${fmtInt(observations.at(-1)?.count ?? 0)} of ${fmtInt(acked)}`;
    if (stalled) problems.push(`the drain stalled: no consumer committed and the query API's count stood still for ${stallMs / 1000} s (${behind})`);
    else if (!drained && !aborted) problems.push(`not drained within --drain-timeout ${drainTimeoutS} s (${behind})`);
    polling = false;
    await pollLoop;

    // ---- ceilings ----
    let ceilings: Ceilings | undefined;
    phase = 'ceilings';
    if (opts.ceilings && !aborted) {
      sampling = false;
      await samplerLoop;
      say('▶ ceilings of the engines (after the load, on the same stack)…');
      ceilings = await measureCeilings(admin, stack, ceilingRecords, dir, say);
      problems.push(...ceilings.errors);
    } else {
      sampling = false;
      await samplerLoop;
    }

    // ---- figures ----
    const loadSamples = samples.filter((s) => s.phase === 'load' && s.offsets);
    const at = (t: number) => loadSamples.reduce<Sample | undefined>((best, s) => (!best || Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best), undefined);
    const rateOf = (lane: string, from: OffsetSnapshot | null | undefined, to: OffsetSnapshot | null | undefined, seconds: number) =>
      from && to && seconds > 0 ? (to.committed[lane]! - from.committed[lane]!) / seconds : null;
    const mid = at(loadSeconds / 2);
    const secondHalf = mid ? loadSeconds - mid.t : 0;
    const produced = (topic: string) => (endOffsets ? endOffsets.ends[topic]! - baselineOffsets.ends[topic]! : null);
    const signalsProduced = produced(TOPICS.signals);
    const stageRates = {
      ingestAckedPerS: acked / loadSeconds,
      ingestAckedSecondHalfPerS: mid && secondHalf > 0 ? (acked - mid.acked) / secondHalf : null,
      sentPerS: sent / loadSeconds,
      touchpointsProducedPerS: produced(TOPICS.touchpoints) === null ? null : produced(TOPICS.touchpoints)! / loadSeconds,
      signalsProducedPerS: signalsProduced === null ? null : signalsProduced / loadSeconds,
      alertsProduced: produced(TOPICS.alerts),
      signalsProduced,
      ...Object.fromEntries(lanes.map((l) => [l.name, {
        duringLoadPerS: rateOf(l.name, baselineOffsets, endOffsets, loadSeconds),
        secondHalfPerS: rateOf(l.name, mid?.offsets, endOffsets, secondHalf),
      }])),
    } as Record<string, unknown>;
    const stageRate = (lane: number, which: 'duringLoadPerS' | 'secondHalfPerS') => (stageRates[lanes[lane]!.name] as Record<string, number | null>)[which] ?? null;
    const throughDrain = (lane: number, key: string) => {
      const t = caughtUp[key];
      const last = samples.findLast((s) => s.offsets && t !== undefined && loadStart + s.t * 1000 <= t + 1);
      return t !== undefined && last?.offsets ? (last.offsets.committed[lanes[lane]!.name]! - baselineOffsets.committed[lanes[lane]!.name]!) / ((t - loadStart) / 1000) : null;
    };
    // End to end: every stage done with every acknowledged event (processed, stored, counted by the query API).
    const endToEnd = drained && drainSeconds !== null ? acked / (loadSeconds + drainSeconds) : null;
    const countedPerS = countedAllAt !== undefined ? acked / ((countedAllAt - loadStart) / 1000) : null;

    const lagSeries = Object.fromEntries(lanes.map((l) => [l.name, samples.filter((s) => s.offsets && s.phase !== 'ceilings').map((s) => ({ t: Math.round(s.t * 10) / 10, lag: s.offsets!.lag[l.name]! }))]));
    const inputRate = (lane: Lane) => (lane.topic === TOPICS.touchpoints ? acked / loadSeconds : lane.topic === TOPICS.signals ? (signalsProduced ?? 0) / loadSeconds : 0);
    const trends: Record<string, LagTrend> = Object.fromEntries(lanes.map((l) => [l.name, lagTrend(lagSeries[l.name]!.filter((s) => s.t >= 0 && s.t <= loadSeconds), inputRate(l))]));

    const probeList = [...probes.values()];
    const alertLatencies = probeList.filter((p) => p.ackAt !== undefined && p.alertAt !== undefined).map((p) => p.alertAt! - p.ackAt!);
    const probesAcked = probeList.filter((p) => p.ackAt !== undefined).length;
    const probesMissing = probesAcked - alertLatencies.length;
    if (probesMissing > 0 && !aborted) problems.push(`${probesMissing} of ${probesAcked} probe customers' critical alerts never reached the live stream`);
    const fresh = freshness(ackCheckpoints, observations);
    if (fresh.unreached > 0 && !aborted) problems.push(`${fresh.unreached} acknowledged checkpoints were never counted by the query API`);
    if (rejected > 0) problems.push(`${rejected} events rejected by ingest (400 reasons)`);
    const failedRequests = Object.entries(statuses).filter(([k]) => k !== '202').reduce((s, [, v]) => s + v, 0);
    if (failedRequests > 0) problems.push(`${failedRequests} requests not acknowledged: ${Object.entries(statuses).map(([k, v]) => `${k} × ${v}`).join(', ')}${failures.length ? `; first: ${failures.slice(0, 3).join(' | ')}` : ''}`);
    if (!max && shortfall > rate! * 0.01 * loadSeconds) problems.push(`the driver fell behind the offered rate by ${fmtInt(shortfall)} events (ingest too slow for --concurrency ${concurrency}, or the driver starved of CPU)`);
    if (stack.errorLineCount > 0) problems.push(`the stack printed ${stack.errorLineCount} error lines (first: ${stack.errorLines.slice(0, 3).join(' | ')}); see ${path.relative(process.cwd(), logFile)}`);

    const procNames = [...pids.keys()];
    const cpu = Object.fromEntries(procNames.map((name) => {
      const phaseStats = (ph: Sample['phase']) => {
        const xs = samples.filter((s) => s.phase === ph).map((s) => s.cpuPct[name]).filter((v): v is number => v !== null && v !== undefined);
        return xs.length ? { meanPct: xs.reduce((a, b) => a + b, 0) / xs.length, maxPct: Math.max(...xs) } : null;
      };
      const rss = samples.map((s) => s.rssBytes[name]).filter((v): v is number => typeof v === 'number');
      return [name, { load: phaseStats('load'), drain: phaseStats('drain'), maxRssBytes: rss.length ? Math.max(...rss) : null, lastRssBytes: rss.at(-1) ?? null }];
    }));
    const loadMachine = samples.filter((s) => s.phase === 'load' && s.machineBusyPct !== null);
    const machineBusy = loadMachine.length ? loadMachine.reduce((a, s) => a + s.machineBusyPct!, 0) / loadMachine.length : null;
    const oursBusy = procNames.reduce((a, n) => a + ((cpu[n]!.load?.meanPct as number | undefined) ?? 0), 0);
    const othersPct = machineBusy === null ? null : Math.max(0, machineBusy - oursBusy);
    if (othersPct !== null && othersPct > 25) {
      problems.push(`other processes used ${othersPct.toFixed(0)}% of a core on average during the load: the run was disturbed, its figures are pessimistic (most among those still running: ${othersDuringLoad.map((o) => `${o.cpuPct.toFixed(0)}% ${o.command.slice(0, 80)}`).join('; ')})`);
    }

    const ingest = summarize(requestMs);
    const alertSummary = summarize(alertLatencies);
    const freshSummary = summarize(fresh.latencies);
    const kafkaCeiling = ceilings?.kafka?.recordsPerS ?? null;
    const redisCeiling = ceilings?.redis?.opsPerS.SET ?? null;
    const chdbCeiling = ceilings?.chdb?.rawRowsPerS ?? null;
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
    const processorRate = stageRate(0, 'secondHalfPerS') ?? stageRate(0, 'duringLoadPerS');
    const sinkRate = stageRate(1, 'secondHalfPerS') ?? stageRate(1, 'duringLoadPerS');
    const ratios = {
      ingestToKafka: ratio(acked / loadSeconds, kafkaCeiling),
      endToEndToKafka: ratio(endToEnd, kafkaCeiling),
      processorToRedisSet: ratio(processorRate, redisCeiling),
      sinkTouchpointsToChdbRaw: ratio(sinkRate, chdbCeiling),
      sinkTouchpointsToChdbStoreRows: ratio(sinkRate, ceilings?.chdb?.storeRowsPerS ?? null),
    };
    const targetChecks: TargetCheck[] = checkTargets({
      rate,
      endToEndEventsPerS: endToEnd,
      lagVerdicts: lanes.slice(0, 3).map((l) => trends[l.name]!.verdict),
      alertP99Ms: alertSummary.p99,
      ingestP99Ms: ingest.p99,
      freshnessP99Ms: freshSummary.p99,
    });

    result = {
      command: `./touchstream bench pipeline ${process.argv.slice(process.argv.indexOf('pipeline') + 1).join(' ')}`.trim(),
      at: new Date().toISOString(),
      aborted,
      machine,
      options: { rate: rate ?? 'max', duration, batch, concurrency, customers, probesPerS, seed: Number(opts.seed), dir, drainTimeoutS, ceilings: opts.ceilings, ceilingRecords },
      stack: { url: stack.url, kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl, pids: Object.fromEntries(pids), startSeconds: stackStartS, log: logFile },
      load: { seconds: loadSeconds, sent, acked, rejected, requests: requestMs.length, statuses, shortfall: max ? null : shortfall, failures },
      stages: stageRates,
      endToEnd: { eventsPerS: endToEnd, allDoneSeconds: drainSeconds === null ? null : loadSeconds + drainSeconds, countedPerS, countedAllSeconds: countedAllAt === undefined ? null : secondsSince(countedAllAt) },
      throughDrain: {
        processorPerS: throughDrain(0, 'processor'),
        sinkTouchpointsPerS: throughDrain(1, 'sinkTouchpoints'),
        sinkSignalsPerS: throughDrain(2, 'sinkSignals'),
      },
      lag: { trends, series: lagSeries },
      latency: { ingestMs: ingest, alertMs: { ...alertSummary, probes: probeList.length, probesAcked, missing: probesMissing }, freshnessMs: { ...freshSummary, unreached: fresh.unreached }, queryCountPollMs: summarize(pollMs) },
      alertsOnStream: { critical: criticalAlerts, reconnects: alerts.reconnects, endings: alerts.endings },
      drain: { drained, seconds: drainSeconds, caughtUpSeconds: Object.fromEntries(Object.entries(caughtUp).map(([k, v]) => [k, v === undefined ? null : secondsSince(v)])) },
      cpu: {
        perProcess: cpu, machineBusyPctDuringLoad: machineBusy, othersPctDuringLoad: othersPct, topOthersDuringLoad: othersDuringLoad,
        othersPctSeries: samples.filter((s) => s.phase !== 'ceilings').map((s) => (s.machineBusyPct === null ? null : Math.max(0, s.machineBusyPct - Object.values(s.cpuPct).reduce<number>((a, b) => a + (b ?? 0), 0)))),
      },
      ceilings: ceilings ?? null,
      ratios,
      targets: targetChecks,
      problems,
      samples: samples.map((s) => ({ ...s, t: Math.round(s.t * 100) / 100 })),
    };
    printReport(result as unknown as Report, lanes);
    if (opts.targets && targetChecks.some((c) => !c.ok)) exitCode = 1;
  } catch (err) {
    say(`\n✖ ${(err as Error).message}`);
    exitCode = 1;
  } finally {
    sampling = false;
    alerts?.stop();
    await samplerLoop?.catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    say('▶ stopping the stack (SIGINT, drain)…');
    await stack.stop();
    if (createdDir && !opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  if (result) {
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
    say(`\nresult: ${path.relative(process.cwd(), outFile)} · stack output: ${path.relative(process.cwd(), logFile)}`);
  }
  return aborted ? 130 : exitCode;
}

interface Report {
  command: string;
  aborted: boolean;
  machine: ReturnType<typeof machineInfo>;
  options: { rate: number | 'max'; duration: number; batch: number; concurrency: number; customers: number; probesPerS: number };
  load: { seconds: number; sent: number; acked: number; requests: number; statuses: Record<string, number>; shortfall: number | null };
  stages: Record<string, unknown> & { ingestAckedPerS: number; ingestAckedSecondHalfPerS: number | null; signalsProducedPerS: number | null; alertsProduced: number | null; signalsProduced: number | null };
  endToEnd: { eventsPerS: number | null; allDoneSeconds: number | null; countedPerS: number | null; countedAllSeconds: number | null };
  throughDrain: { processorPerS: number | null; sinkTouchpointsPerS: number | null; sinkSignalsPerS: number | null };
  lag: { trends: Record<string, LagTrend>; series: Record<string, Array<{ t: number; lag: number }>> };
  latency: { ingestMs: Summary; alertMs: Summary & { probes: number; probesAcked: number; missing: number }; freshnessMs: Summary & { unreached: number }; queryCountPollMs: Summary };
  alertsOnStream: { critical: number };
  drain: { drained: boolean; seconds: number | null; caughtUpSeconds: Record<string, number | null> };
  cpu: {
    perProcess: Record<string, { load: { meanPct: number; maxPct: number } | null; drain: { meanPct: number; maxPct: number } | null; maxRssBytes: number | null }>;
    machineBusyPctDuringLoad: number | null;
    othersPctDuringLoad: number | null;
    othersPctSeries: Array<number | null>;
  };
  ceilings: Ceilings | null;
  ratios: Record<string, number | null>;
  targets: TargetCheck[];
  problems: string[];
}

function printReport(r: Report, lanes: Lane[]) {
  const m = r.machine;
  const out: string[] = [];
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  out.push('');
  out.push(`touchstream bench pipeline · ${r.options.rate === 'max' ? `rate max (${r.options.concurrency} request loops)` : `${fmtInt(r.options.rate)} events/s offered`} · ${r.options.duration} s · ${r.options.batch} events/request · ${fmtInt(r.options.customers)} customers · ${r.options.probesPerS} probes/s`);
  if (r.aborted) out.push('INTERRUPTED (Ctrl-C): partial figures, no drain wait, no ceilings');
  out.push(`machine: ${m.cores} × ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.kernel}; load average at start ${m.loadavgAtStart.join(' ')}`);
  out.push('');
  out.push(`load: ${fmtInt(r.load.sent)} events sent in ${r.load.seconds.toFixed(1)} s, ${fmtInt(r.load.acked)} acknowledged (${Object.entries(r.load.statuses).map(([k, v]) => `${k} × ${fmtInt(v)}`).join(', ')})${r.load.shortfall ? `; ${fmtInt(r.load.shortfall)} events behind the offered rate` : ''}`);
  out.push('');
  out.push('events/s per stage                during load   last half   through drain');
  const row = (name: string, a: number | null | undefined, b: number | null | undefined, c: number | null | undefined) =>
    out.push(`  ${name.padEnd(30)} ${fmtInt(a).padStart(11)} ${fmtInt(b).padStart(11)} ${fmtInt(c).padStart(15)}`);
  row('ingest (acknowledged)', r.stages.ingestAckedPerS, r.stages.ingestAckedSecondHalfPerS, null);
  const lane = (i: number) => r.stages[lanes[i]!.name] as { duringLoadPerS: number | null; secondHalfPerS: number | null };
  row('processor', lane(0).duringLoadPerS, lane(0).secondHalfPerS, r.throughDrain.processorPerS);
  row('sink touchpoints', lane(1).duringLoadPerS, lane(1).secondHalfPerS, r.throughDrain.sinkTouchpointsPerS);
  row('sink signals', lane(2).duringLoadPerS, lane(2).secondHalfPerS, r.throughDrain.sinkSignalsPerS);
  out.push(`  signals produced: ${fmtInt(r.stages.signalsProduced)} (${fmtInt(r.stages.signalsProducedPerS)}/s) · alerts produced: ${fmtInt(r.stages.alertsProduced)}`);
  const e2e = r.endToEnd;
  out.push(`  end to end (load start → every stage done, everything counted): ${e2e.eventsPerS === null ? 'never (not drained)' : `${fmtInt(e2e.eventsPerS)} events/s (all done at ${e2e.allDoneSeconds!.toFixed(1)} s)`}`);
  out.push(`  touchpoints counted by the query API: ${e2e.countedPerS === null ? 'not all' : `${fmtInt(e2e.countedPerS)} events/s (all counted at ${e2e.countedAllSeconds!.toFixed(1)} s)`}`);
  out.push('');
  out.push(`${'consumer lag (records)'.padEnd(28)} ${'max'.padStart(10)} ${'at load end'.padStart(12)} ${'slope, last half of load'.padStart(26)}  verdict`);
  for (const l of lanes) {
    const t = r.lag.trends[l.name]!;
    const series = r.lag.series[l.name]!;
    const loadEndLag = series.filter((s) => s.t <= r.load.seconds).at(-1)?.lag ?? 0;
    const slopeText = `${t.slopePerS >= 0 ? '+' : ''}${fmtInt(t.slopePerS)}/s${t.slopeShare === null ? '' : ` (${pct(t.slopeShare)} of input)`}`;
    out.push(`  ${l.name.padEnd(26)} ${fmtInt(t.maxLag).padStart(10)} ${fmtInt(loadEndLag).padStart(12)} ${slopeText.padStart(26)}  ${t.verdict}`);
    if (t.maxLag > 0) out.push(`  ${''.padEnd(26)} │${sparkline(series.map((s) => s.lag), 60)}│ ${series.length} s, load then drain`);
  }
  out.push('');
  out.push('latency                          p50          p99          max      samples');
  const lat = (name: string, s: Summary, extra = '') => out.push(`  ${name.padEnd(28)} ${fmtMs(s.p50).padStart(8)} ${fmtMs(s.p99).padStart(12)} ${fmtMs(s.max).padStart(12)} ${fmtInt(s.count).padStart(12)}${extra}`);
  lat('ingest (send → 202)', r.latency.ingestMs);
  lat('alert (202 → SSE)', r.latency.alertMs, r.latency.alertMs.missing ? `  (${r.latency.alertMs.missing} of ${r.latency.alertMs.probesAcked} probes without alert)` : '');
  lat('freshness (202 → query API)', r.latency.freshnessMs, r.latency.freshnessMs.unreached ? `  (${r.latency.freshnessMs.unreached} never counted)` : '');
  lat('query API count request', r.latency.queryCountPollMs);
  out.push(`  critical alerts on the live stream: ${fmtInt(r.alertsOnStream.critical)}`);
  out.push('');
  out.push(`drain: ${r.drain.drained ? `${r.drain.seconds!.toFixed(1)} s after the last 202` : 'NOT drained'} (caught up at: ${Object.entries(r.drain.caughtUpSeconds).map(([k, v]) => `${k} ${v === null ? 'never' : `${v.toFixed(1)} s`}`).join(', ')})`);
  out.push('');
  out.push('CPU (% of one core) and memory     load mean   load max   drain mean    max RSS');
  for (const [name, c] of Object.entries(r.cpu.perProcess)) {
    out.push(`  ${name.padEnd(30)} ${(c.load ? `${c.load.meanPct.toFixed(0)}%` : 'n/a').padStart(9)} ${(c.load ? `${c.load.maxPct.toFixed(0)}%` : 'n/a').padStart(10)} ${(c.drain ? `${c.drain.meanPct.toFixed(0)}%` : 'n/a').padStart(12)} ${fmtMiB(c.maxRssBytes).padStart(10)}`);
  }
  out.push(`  machine busy during load: ${r.cpu.machineBusyPctDuringLoad === null ? 'n/a' : `${r.cpu.machineBusyPctDuringLoad.toFixed(0)}% of ${m.cores * 100}%`} · other processes: ${r.cpu.othersPctDuringLoad === null ? 'n/a' : `${r.cpu.othersPctDuringLoad.toFixed(0)}%`}`);
  out.push(`  other processes over time  │${sparkline(r.cpu.othersPctSeries.map((v) => v ?? 0), 60, 100 * m.cores)}│ (scale: all cores)`);
  if (r.ceilings) {
    const c = r.ceilings;
    out.push('');
    out.push('ceilings of the engines (same machine, same stack, after the load)');
    out.push(`  Kafka ProducerPerformance, 300 B, acks=all   ${c.kafka ? `${fmtInt(c.kafka.recordsPerS)} records/s (p50 ${c.kafka.p50Ms ?? 'n/a'} ms, p99 ${c.kafka.p99Ms ?? 'n/a'} ms)` : 'failed'}`);
    out.push(`      touchstream: ingest ${pct(r.ratios.ingestToKafka)} of it, end to end ${pct(r.ratios.endToEndToKafka)}`);
    out.push(`  redis-benchmark -P 16 (appendfsync always)   ${c.redis ? Object.entries(c.redis.opsPerS).map(([k, v]) => `${k} ${fmtInt(v)}/s`).join(', ') : 'failed'}`);
    out.push(`      touchstream: processor events/s = ${pct(r.ratios.processorToRedisSet)} of SET/s`);
    out.push(`  chDB insert into touchpoints, raw only       ${c.chdb ? `${fmtInt(c.chdb.rawRowsPerS)} rows/s (batches of ${fmtInt(c.chdb.rawBatch)})` : 'failed'}`);
    out.push(`  chDB storeRows: raw + every rollup           ${c.chdb ? `${fmtInt(c.chdb.storeRowsPerS)} rows/s (batches of ${fmtInt(c.chdb.storeBatch)})` : 'failed'}`);
    out.push(`      touchstream: sink touchpoints = ${pct(r.ratios.sinkTouchpointsToChdbRaw)} of the raw insert, ${pct(r.ratios.sinkTouchpointsToChdbStoreRows)} of storeRows`);
  }
  out.push('');
  out.push('issue 13 targets');
  for (const t of r.targets) out.push(`  ${t.ok ? '✔' : '✖'} ${t.name.padEnd(24)} ${t.target.padEnd(22)} measured ${t.measured}`);
  if (r.problems.length) {
    out.push('');
    out.push('problems seen');
    const counts = new Map<string, number>();
    for (const p of r.problems) {
      const key = p.replace(/ at \d+ s:/, ':');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [p, n] of counts) out.push(`  - ${p}${n > 1 ? ` (× ${n})` : ''}`);
  }
  console.log(out.join('\n'));
}
