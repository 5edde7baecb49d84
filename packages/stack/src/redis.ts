// A private redis-server on a free port, with append-only persistence in the stack directory.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { assertNoLeftover, EXITED, ManagedProcess, orExit, sleep, tail, type Log, type ServiceHandle, type StopOptions } from './process.ts';

export interface RedisService extends ServiceHandle {
  readonly url: string;
  readonly port: number;
}

export interface RedisOptions {
  /** State and logs: `<dir>/redis/` (append-only files) and `<dir>/redis.log`. */
  dir: string;
  /** Default: the previous run's port in this dir when free, else a free one. */
  port?: number;
  readyTimeoutMs?: number;
  log?: Log;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;

/**
 * Waits until Redis at `url` answers PING with PONG (not LOADING while it replays its append-only file).
 * `proc`, when given, is the server we started: its early exit fails the wait at once.
 */
export async function waitForRedis(
  url: string,
  opts: { timeoutMs?: number; proc?: ManagedProcess; logFile?: string } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const where = opts.logFile ? `; see ${opts.logFile}` : '';
  // The server we started exiting ends the wait at once, even in the middle of an attempt.
  const exited = opts.proc?.waitExit();
  let lastError = 'no answer';
  while (Date.now() < deadline && opts.proc?.running !== false) {
    // One attempt per client, no reconnects or offline queue: the loop does the retrying. No ready check
    // and a command timeout: a port that accepts connections but does not speak Redis fails the attempt.
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 1000,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const attempt = async () => {
      await client.connect();
      return client.ping();
    };
    try {
      const answer = await orExit(attempt(), exited);
      if (answer === 'PONG') return;
      if (answer !== EXITED) lastError = `PING answered ${answer}`;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      client.disconnect();
    }
    await orExit(sleep(100), exited);
  }
  if (opts.proc && !opts.proc.running) {
    throw new Error(`redis: redis-server exited during startup${where}\n${opts.logFile ? tail(opts.logFile) : ''}`);
  }
  throw new Error(
    `redis: ${url} did not answer PING within ${timeoutMs / 1000} s (last error: ${lastError})${where}` +
      (opts.logFile ? `\n${tail(opts.logFile)}` : ''),
  );
}

/** Starts redis-server (append-only, fsync every second, no RDB snapshots) and waits for PONG. */
export async function startRedis(opts: RedisOptions): Promise<RedisService> {
  const log = opts.log;
  const dir = path.resolve(opts.dir);
  const dataDir = path.join(dir, 'redis');
  const logFile = path.join(dir, 'redis.log');
  const portFile = path.join(dataDir, 'port');
  const pidFile = path.join(dataDir, 'redis.pid');
  fs.mkdirSync(dataDir, { recursive: true });
  // redis-server rewrites its command line to `redis-server 127.0.0.1:<port>`. Checked before the port
  // is chosen: a leftover server would hold the previous one.
  assertNoLeftover('redis', pidFile, 'redis-server');

  let previous: number | undefined;
  try {
    previous = Number.parseInt(fs.readFileSync(portFile, 'utf8'), 10) || undefined;
  } catch {
    // first run in this directory
  }
  const port = opts.port ?? (await freePort(previous));
  fs.writeFileSync(portFile, `${port}\n`);
  const url = `redis://127.0.0.1:${port}`;

  const proc = new ManagedProcess({
    name: 'redis',
    command: 'redis-server',
    args: [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dataDir,
      '--daemonize', 'no',
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--logfile', logFile,
    ],
    logFile,
    pidFile,
    ownerMarker: 'redis-server',
    log,
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;

  const start = async () => {
    if (proc.running) return;
    const started = Date.now();
    proc.start();
    try {
      await waitForRedis(url, { timeoutMs: readyTimeoutMs, proc, logFile });
    } catch (err) {
      await proc.stop();
      throw err;
    }
    proc.markReady();
    log?.(`redis: ready on ${url} in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${proc.pid})`);
  };
  const stop = (o?: StopOptions) => proc.stop(o);

  await start();
  return {
    name: 'redis',
    logFile,
    url,
    port,
    get pid() {
      return proc.pid;
    },
    get running() {
      return proc.running;
    },
    start,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
