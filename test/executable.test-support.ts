// The real executable as one process (`run --target all`, with the OpenTelemetry preload as in the image) on the
// run's shared engines: Kafka, one Redis database of its own, and chDB in a temp directory (or the run's ClickHouse
// server when CLICKHOUSE_URL is set). Used by the suites that watch what the process exposes (metrics, telemetry).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@touchstream/stack';
import { childEnv, eventually, sharedEngines, type EventuallyOptions } from '@touchstream/testkit';

const repoRoot = path.resolve(import.meta.dirname, '..');

export interface RunningExecutable {
  /** http://127.0.0.1:<port> */
  url: string;
  child: ChildProcess;
  /** Its stdout and stderr, as they came. */
  output: string[];
  /** For waits on it: 120 s (a fresh process's consumer groups take a while on a loaded machine), given up when it exits, its output printed. */
  waitOptions: EventuallyOptions & { timeoutMs: number; context: () => string };
  /** Kills it (if still running) and removes its chDB directory. */
  stop(): Promise<void>;
}

/**
 * Starts the executable with the shared engines' endpoints plus `env` (keys, group prefix, what the suite turns on)
 * and waits for /readyz 200. `name` names its chDB directory; `redisDb` is a Redis database no other file uses.
 */
export async function startExecutable(o: { name: string; redisDb: number; env: Record<string, string> }): Promise<RunningExecutable> {
  const engines = sharedEngines();
  const chdbDir = engines.clickhouseUrl ? undefined : mkdtempSync(path.join(os.tmpdir(), `${o.name}-chdb-`));
  const httpPort = await freePort();
  const redisUrl = Object.assign(new URL(engines.redisUrl), { pathname: `/${o.redisDb}` }).toString();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './apps/touchstream/src/telemetry.ts', 'apps/touchstream/src/main.ts', 'run', '--target', 'all'], {
    cwd: repoRoot,
    env: childEnv({
      KAFKA_BROKERS: engines.kafkaBrokers.join(','),
      REDIS_URL: redisUrl,
      ...(engines.clickhouseUrl ? { CLICKHOUSE_URL: engines.clickhouseUrl } : { CLICKHOUSE_PATH: chdbDir! }),
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'warn',
      ...o.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${httpPort}`;
  const waitOptions = {
    timeoutMs: 120_000,
    abortIf: () => (child.exitCode !== null ? `child exited (${child.exitCode})` : undefined),
    context: () => output.join('').slice(-3000),
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    if (chdbDir) rmSync(chdbDir, { recursive: true, force: true });
  };
  try {
    await eventually('/readyz 200', async () => (await fetch(`${url}/readyz`)).status === 200, waitOptions);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, output, waitOptions, stop };
}
