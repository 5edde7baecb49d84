// Graceful shutdown of the real executable: `touchstream run --target all` as a child process takes a steady
// stream of events, gets SIGTERM mid-stream, stops taking work (readiness and new requests), drains the requests
// and batches in flight, commits, and exits 0 within SHUTDOWN_TIMEOUT_MS. A second process with the same
// configuration then finds every acknowledged (202) event exactly once in Redis state and in ClickHouse.
// chDB is one process per data directory: the second child opens the directory only after the first exited.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { createKafka, topicNames } from '@touchstream/kafka';
import { freePort } from '@touchstream/stack';
import { eventually as pollUntil, childEnv } from '@touchstream/testkit';

const repoRoot = path.resolve(import.meta.dirname, '..');
const run = randomUUID().slice(0, 8);
const WRITE_KEY = `shutdown-write-${run}`;
const READ_KEY = `shutdown-read-${run}`;
/** A channel only this run uses, so KPI counts are not mixed with other test files' events. */
const CHANNEL = `shutdown_chat_${run}`;
const SHUTDOWN_TIMEOUT_MS = 20_000;
const POSTERS = 4;
const EVENTS_PER_POST = 5;
/** No other test file uses this Redis database. */
const REDIS_DB = 11;

interface Child {
  proc: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

interface PostRecord {
  startedAt: number;
  endedAt: number;
  status: number | 'network-error';
  events: Array<{ customer_id: string; event_id: string }>;
}

const children: Child[] = [];
let redis: Redis | undefined;
let scanner: { disconnect(): Promise<void> } | undefined;
/** The posters run while this is true; afterAll ends them if the test fails half-way. */
let posting = false;
let chdbDir: string | undefined;


function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'apps/touchstream/src/main.ts', 'run', '--target', 'all'], {
    cwd: repoRoot,
    // Only what the process needs: no CLICKHOUSE_URL / TOUCHSTREAM_* leaking in from the test runner.
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const child = { proc, url: `http://127.0.0.1:${env.HTTP_PORT}`, output, exited };
  children.push(child);
  return child;
}

const tail = (c: Child) => c.output.join('').slice(-4000);

/** Polls until the probe holds; fails at once, with the child's output, if the child exits meanwhile. */
function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, child?: Child): Promise<T> {
  return pollUntil(what, probe, {
    timeoutMs,
    abortIf: () => (child && child.proc.exitCode !== null ? `child exited (${child.proc.exitCode})` : undefined),
    context: child ? () => tail(child) : undefined,
  });
}

async function readyz(child: Child): Promise<number | 'network-error'> {
  try {
    const r = await fetch(`${child.url}/readyz`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 'network-error';
  }
}

const waitReady = (child: Child) =>
  eventually('/readyz 200', async () => (await readyz(child)) === 200, 60_000, child);

afterAll(async () => {
  posting = false;
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
  }
  await scanner?.disconnect().catch(() => undefined);
  redis?.disconnect();
  if (chdbDir) rmSync(chdbDir, { recursive: true, force: true });
});

describe('graceful shutdown (SIGTERM)', () => {
  it('stops taking work, drains, commits, exits 0 in the bound; a restart finds every 202 event exactly once', async () => {
    const clickhouseUrl = inject('clickhouseUrl');
    // A Redis database of its own: other test files' processors (other consumer groups on touchpoints.v1, from
    // the beginning) write state for every customer into database 0, and would hide what this process did.
    const redisUrl = Object.assign(new URL(inject('redisUrl')), { pathname: `/${REDIS_DB}` }).toString();
    if (!clickhouseUrl) chdbDir = mkdtempSync(path.join(os.tmpdir(), 'shutdown-chdb-'));
    const env: Record<string, string> = {
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      REDIS_URL: redisUrl,
      ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: chdbDir! }),
      HTTP_PORT: String(await freePort()),
      WRITE_KEYS: `${WRITE_KEY}=shutdown`,
      READ_KEYS: `${READ_KEY}=analyst`,
      KAFKA_GROUP_PREFIX: `shutdown-${run}`,
      TOUCHPOINT_PARTITIONS: '3',
      TOPIC_PARTITIONS: '2',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      LOG_LEVEL: 'warn',
    };

    // ── First process: a steady stream of posts, SIGTERM in the middle of it.
    const first = startChild(env);
    await waitReady(first);

    const posts: PostRecord[] = [];
    let seq = 0;
    posting = true;
    const poster = async () => {
      while (posting) {
        const events = Array.from({ length: EVENTS_PER_POST }, () => ({
          event_id: randomUUID(),
          customer_id: `shutdown-${run}-${seq++}`,
          occurred_at: new Date().toISOString(),
          channel: CHANNEL,
          touchpoint: 'chat_message',
          initiator: 'customer',
        }));
        const startedAt = Date.now();
        let status: PostRecord['status'];
        try {
          const r = await fetch(`${first.url}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify(events),
            signal: AbortSignal.timeout(15_000),
          });
          await r.arrayBuffer();
          status = r.status;
        } catch {
          status = 'network-error';
        }
        posts.push({ startedAt, endedAt: Date.now(), status, events: events.map((e) => ({ customer_id: e.customer_id, event_id: e.event_id })) });
        await new Promise((r) => setTimeout(r, status === 202 ? 5 : 25));
      }
    };
    const posters = Array.from({ length: POSTERS }, () => poster());

    // Let the stream run until a good number of events are acknowledged, then SIGTERM mid-stream.
    await eventually('acknowledged posts before SIGTERM', async () => posts.filter((p) => p.status === 202).length >= 40, 30_000, first);
    const sigtermAt = Date.now();
    first.proc.kill('SIGTERM');

    // Readiness goes away: /readyz stops answering 200 (503 while draining, then no connection at all).
    let notReadyAt: number | undefined;
    while (notReadyAt === undefined && Date.now() - sigtermAt < 5000) {
      const s = await readyz(first);
      if (s !== 200) notReadyAt = Date.now();
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(notReadyAt, '/readyz still answered 200 five seconds after SIGTERM').toBeDefined();

    const exit = await Promise.race([
      first.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit ${SHUTDOWN_TIMEOUT_MS + 5000} ms after SIGTERM:\n${tail(first)}`)), SHUTDOWN_TIMEOUT_MS + 5000)),
    ]);
    // Keep posting a moment after the exit: nothing is listening any more.
    await new Promise((r) => setTimeout(r, 300));
    posting = false;
    await Promise.all(posters);

    expect({ code: exit.code, signal: exit.signal }, tail(first)).toEqual({ code: 0, signal: null });
    // main.ts reports a failed stop step on stderr (and still exits 0): none may have failed.
    expect(first.output.join(''), tail(first)).not.toMatch(/while stopping|still not stopped/);
    const shutdownMs = exit.at - sigtermAt;
    expect(shutdownMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // After the exit, new connections fail.
    expect(await readyz(first)).toBe('network-error');
    const afterExit = posts.filter((p) => p.startedAt > exit.at);
    expect(afterExit.length).toBeGreaterThan(0);
    expect(afterExit.every((p) => p.status === 'network-error')).toBe(true);
    // Stopped taking work: no post started after the drain was observed got a 202.
    const acceptedAfterDrain = posts.filter((p) => p.status === 202 && p.startedAt > notReadyAt!);
    expect(acceptedAfterDrain).toEqual([]);

    const accepted = posts.filter((p) => p.status === 202).flatMap((p) => p.events);
    const ambiguous = posts.filter((p) => p.status === 'network-error' && p.startedAt <= exit.at).flatMap((p) => p.events);
    const unexpected = posts.filter((p) => p.status !== 202 && p.status !== 503 && p.status !== 'network-error');
    expect(unexpected.map((p) => p.status)).toEqual([]);
    const inFlightAtSigterm = posts.filter((p) => p.startedAt < sigtermAt && p.endedAt > sigtermAt);
    console.log(
      `shutdown: ${posts.length} posts, ${accepted.length} events acknowledged, ${inFlightAtSigterm.length} posts in flight at SIGTERM ` +
        `(${inFlightAtSigterm.filter((p) => p.status === 202).length} answered 202), not ready after ${notReadyAt! - sigtermAt} ms, exit 0 after ${shutdownMs} ms`,
    );

    // What the first process processed, it committed: every acknowledged event already in Redis state lies below
    // the processor group's committed offset of its partition (snapshot before the second process runs).
    redis = new Redis(redisUrl);
    const redisEvents = async () => {
      const pipeline = redis!.pipeline();
      for (const e of accepted) pipeline.hget(`ts:{${e.customer_id}}:state`, 'events');
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, v]) => {
        if (err) throw err;
        return v as string | null;
      });
    };
    const stateAtExit = await redisEvents();
    const processedAtExit = new Set(accepted.filter((_, i) => (stateAtExit[i] ?? null) !== null).map((e) => e.customer_id));
    const kafka = createKafka({ brokers: inject('kafkaBrokers') });
    const admin = kafka.admin();
    await admin.connect();
    const committed = new Map<number, bigint>();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: `${env.KAFKA_GROUP_PREFIX}-processor`, topics: [topicNames.touchpoints] });
      for (const p of offsets!.partitions) committed.set(p.partition, BigInt(p.offset));
    } finally {
      await admin.disconnect();
    }
    // Where each acknowledged event is in touchpoints.v1 (key = customer id), read while the second process starts.
    const positions = new Map<string, { partition: number; offset: bigint }>();
    const scan = kafka.consumer({ groupId: `shutdown-scan-${run}` });
    scanner = scan;
    await scan.connect();
    await scan.subscribe({ topics: [topicNames.touchpoints], fromBeginning: true });
    await scan.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString() ?? '';
        if (key.startsWith(`shutdown-${run}-`)) positions.set(key, { partition, offset: BigInt(message.offset) });
      },
    });

    // ── Second process, same configuration: everything acknowledged is there, once.
    const second = startChild(env);
    await waitReady(second);

    await eventually('the acknowledged events in touchpoints.v1', async () => accepted.every((e) => positions.has(e.customer_id)), 30_000);
    await scan.disconnect();
    scanner = undefined;
    const processedNotCommitted = [...processedAtExit]
      .map((c) => ({ c, at: positions.get(c)! }))
      .filter(({ at }) => !(at.offset < (committed.get(at.partition) ?? -1n)))
      .map(({ c, at }) => `${c}@${at.partition}:${at.offset} (committed ${committed.get(at.partition)})`);
    expect(processedNotCommitted).toEqual([]);
    console.log(`shutdown: ${processedAtExit.size} of ${accepted.length} acknowledged events were processed and committed by the first process`);

    await eventually('every acknowledged event in Redis state', async () => (await redisEvents()).every((v) => v !== null), 45_000, second);

    const get = (p: string) => fetch(`${second.url}${p}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    const journeys = new Map<string, Array<{ event_id: string }>>();
    await eventually('every acknowledged event in the ClickHouse journey', async () => {
      const missing = accepted.filter((e) => !journeys.has(e.customer_id));
      for (let i = 0; i < missing.length; i += 16) {
        await Promise.all(missing.slice(i, i + 16).map(async (e) => {
          const r = await get(`/v1/customers/${encodeURIComponent(e.customer_id)}/journey`);
          if (r.status !== 200) return void (await r.arrayBuffer());
          const j = (await r.json()) as { timeline: Array<{ event_id: string }> };
          if (j.timeline.length > 0) journeys.set(e.customer_id, j.timeline);
        }));
      }
      return journeys.size === accepted.length;
    }, 45_000, second);

    // The 1-minute aggregates count each event once: at least every acknowledged event, at most those plus the
    // ones whose post ended without an answer (Kafka may have taken them).
    const fromIso = new Date(sigtermAt - 3_600_000).toISOString();
    const toIso = new Date(Date.now() + 120_000).toISOString();
    const channelCount = async () => {
      const r = await get(`/v1/kpis?from=${encodeURIComponent(fromIso)}&to=${encodeURIComponent(toIso)}&interval=hour&by=channel`);
      if (r.status !== 200) throw new Error(`kpis answered ${r.status}: ${await r.text()}`);
      const k = (await r.json()) as { buckets: Array<{ key?: string; events: number }> };
      return k.buckets.filter((b) => b.key === CHANNEL).reduce((n, b) => n + b.events, 0);
    };
    const kpiEvents = await eventually('KPI aggregates caught up', async () => {
      const n = await channelCount();
      return n >= accepted.length ? n : undefined;
    }, 30_000, second);

    // Exactly once, checked after the sink has caught up (a redelivery would have happened by now).
    const counts = await redisEvents();
    const notOnce = accepted.map((e, i) => `${e.customer_id}=${counts[i]}`).filter((_, i) => counts[i] !== '1');
    expect(notOnce).toEqual([]);
    const badJourneys = accepted
      .filter((e) => {
        const t = journeys.get(e.customer_id)!;
        return t.length !== 1 || t[0]!.event_id !== e.event_id;
      })
      .map((e) => e.customer_id);
    expect(badJourneys).toEqual([]);
    expect(kpiEvents).toBeGreaterThanOrEqual(accepted.length);
    // With this file's own chDB only this process's sink writes there; a shared ClickHouse server also gets the
    // events from other test files' sinks (other consumer groups), so the upper bound holds for chDB only.
    if (!clickhouseUrl) {
      expect(kpiEvents).toBeLessThanOrEqual(accepted.length + ambiguous.length);
      expect(await channelCount()).toBe(kpiEvents);
    }

    // ── The second process stops cleanly too.
    const secondSigterm = Date.now();
    second.proc.kill('SIGTERM');
    const secondExit = await Promise.race([
      second.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`second child: no exit after SIGTERM:\n${tail(second)}`)), SHUTDOWN_TIMEOUT_MS + 5000)),
    ]);
    expect({ code: secondExit.code, signal: secondExit.signal }, tail(second)).toEqual({ code: 0, signal: null });
    expect(second.output.join(''), tail(second)).not.toMatch(/while stopping|still not stopped/);
    expect(secondExit.at - secondSigterm).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  }, 180_000);
});
