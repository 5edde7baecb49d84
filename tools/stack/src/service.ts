// What Kafka and Redis share around their ManagedProcess: the readiness wait (poll until the service answers,
// give up when the process we started exits) and the ServiceHandle that starts, stops and restarts it.
import fs from 'node:fs';
import path from 'node:path';
import { EXITED, ManagedProcess, orExit, sleep, tail, type ServiceHandle, type StopOptions } from './process.ts';

/** A service's place in the stack directory `dir`: `<dir>/<name>/` for its state (created) and `<dir>/<name>.log`. */
export function serviceDirs(dir: string, name: string): { stateDir: string; logFile: string } {
  const root = path.resolve(dir);
  const stateDir = path.join(root, name);
  fs.mkdirSync(stateDir, { recursive: true });
  return { stateDir, logFile: path.join(root, `${name}.log`) };
}

/** One readiness attempt: its own connection, closed by `close` whatever `check` did. */
export interface ReadinessAttempt {
  /** Resolves undefined once the service is ready, else why it is not yet; rejects on a failed attempt. */
  check(): Promise<string | undefined>;
  close(): Promise<void> | void;
}

export interface WaitUntilReadyOptions {
  timeoutMs: number;
  /** Pause between attempts. */
  intervalMs: number;
  /** The process we started: its early exit fails the wait at once, even in the middle of an attempt. */
  proc?: ManagedProcess;
  logFile?: string;
  attempt(): ReadinessAttempt;
  /** Said when `proc` exits before it is ready, e.g. `kafka: the broker exited`. */
  exitedMessage: string;
  /** Said on timeout, before ` within N s (last error: …)`, e.g. `redis: <url> did not answer PING`. */
  timeoutMessage: string;
}

/** Repeats attempts until one reports ready; throws (with the log's tail) on timeout or when `proc` exits. */
export async function waitUntilReady(opts: WaitUntilReadyOptions): Promise<void> {
  const { timeoutMs, proc, logFile } = opts;
  const deadline = Date.now() + timeoutMs;
  const where = logFile ? `; see ${logFile}` : '';
  const exited = proc?.waitExit();
  let lastError = 'no answer';
  while (Date.now() < deadline && proc?.running !== false) {
    const attempt = opts.attempt();
    try {
      const notReady = await orExit(attempt.check(), exited);
      if (notReady === undefined) return;
      if (notReady !== EXITED) lastError = notReady;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await attempt.close();
    }
    await orExit(sleep(opts.intervalMs), exited);
  }
  if (proc && !proc.running) {
    throw new Error(`${opts.exitedMessage} during startup${where}\n${logFile ? tail(logFile) : ''}`);
  }
  throw new Error(
    `${opts.timeoutMessage} within ${timeoutMs / 1000} s (last error: ${lastError})${where}` +
      (logFile ? `\n${tail(logFile)}` : ''),
  );
}

/**
 * Starts `proc`, waits until `waitReady` says it answers (failing when it exits first) and returns its
 * ServiceHandle with `fields` (ports, URLs) on it. A start whose wait fails stops the process again before
 * it throws. `address` (`127.0.0.1:9092`, `redis://127.0.0.1:6379`) is for the ready message.
 */
export async function startService<T extends object>(
  proc: ManagedProcess,
  address: string,
  waitReady: () => Promise<void>,
  fields: T,
): Promise<ServiceHandle & T> {
  const { name, logFile, log } = proc.spec;
  const start = async () => {
    if (proc.running) return;
    const started = Date.now();
    proc.start();
    try {
      await waitReady();
    } catch (err) {
      await proc.stop();
      throw err;
    }
    proc.markReady();
    log?.(`${name}: ready on ${address} in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${proc.pid})`);
  };
  const stop = (o?: StopOptions) => proc.stop(o);

  await start();
  return {
    name,
    logFile,
    ...fields,
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
