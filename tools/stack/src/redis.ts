// A private redis-server on a free port, with append-only persistence in the stack directory.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import { assertNoLeftover, ManagedProcess, type Log, type ServiceHandle } from './process.ts';
import { serviceDirs, startService, waitUntilReady } from './service.ts';

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
  /**
   * When Redis fsyncs its append-only file. `always` (default): a write is on disk before Redis answers it, so
   * even `kill -9` of redis-server loses no processor state whose Kafka offsets were committed — the
   * effectively-once guarantee through a Redis crash needs it. `everysec` is faster but loses up to the last
   * second on a crash of Redis itself (a SIGTERM restart flushes either way).
   */
  appendfsync?: 'always' | 'everysec';
  /** More redis-server arguments (a cluster node's `--cluster-enabled yes …`, see redis-cluster.ts). */
  extraArgs?: string[];
  /** Process name in logs, default `redis`. */
  name?: string;
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
  return waitUntilReady({
    timeoutMs,
    intervalMs: 100,
    proc: opts.proc,
    logFile: opts.logFile,
    attempt: () => {
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
      return {
        check: async () => {
          await client.connect();
          const answer = await client.ping();
          return answer === 'PONG' ? undefined : `PING answered ${answer}`;
        },
        close: () => client.disconnect(),
      };
    },
    exitedMessage: 'redis: redis-server exited',
    timeoutMessage: `redis: ${url} did not answer PING`,
  });
}

/** Starts redis-server (append-only, fsync per write by default, no RDB snapshots) and waits for PONG. */
export async function startRedis(opts: RedisOptions): Promise<RedisService> {
  const log = opts.log;
  const name = opts.name ?? 'redis';
  const { stateDir: dataDir, logFile } = serviceDirs(opts.dir, name);
  const portFile = path.join(dataDir, 'port');
  const pidFile = path.join(dataDir, 'redis.pid');
  // redis-server rewrites its command line to `redis-server 127.0.0.1:<port>`. Checked before the port
  // is chosen: a leftover server would hold the previous one.
  assertNoLeftover(name, pidFile, 'redis-server');

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
    name,
    command: 'redis-server',
    args: [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dataDir,
      '--daemonize', 'no',
      '--appendonly', 'yes',
      '--appendfsync', opts.appendfsync ?? 'always',
      '--save', '',
      '--logfile', logFile,
      ...(opts.extraArgs ?? []),
    ],
    logFile,
    pidFile,
    ownerMarker: 'redis-server',
    log,
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;

  const waitReady = () => waitForRedis(url, { timeoutMs: readyTimeoutMs, proc, logFile });
  return startService(proc, url, waitReady, { url, port });
}
