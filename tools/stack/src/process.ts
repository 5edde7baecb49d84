// Child processes of the launcher (the Kafka JVM, redis-server): spawned with their output in a log file,
// stopped with SIGTERM then SIGKILL, and never left behind when this process goes away.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type Log = (line: string) => void;

export interface ProcessSpec {
  /** Short name for messages: `kafka`, `redis`. */
  name: string;
  command: string;
  args: string[];
  /** stdout and stderr are appended to this file. */
  logFile: string;
  /** Written while the process runs; used to detect a leftover process of a previous run on the same data. */
  pidFile: string;
  /** Text in a leftover process's command line that identifies it as this kind of service. */
  ownerMarker: string;
  env?: NodeJS.ProcessEnv;
  log?: Log;
}

export interface StopOptions {
  /** SIGTERM (default) lets the service shut down cleanly; SIGKILL simulates a crash. */
  signal?: 'SIGTERM' | 'SIGKILL';
  /** After this, SIGKILL follows SIGTERM. Default 10 s. */
  timeoutMs?: number;
}

// Every running child, so that an exiting parent takes them along.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible in 'exit', so this is SIGKILL: a parent that can no longer supervise
  // a graceful shutdown must not leave a JVM holding ports and data locks. Kafka recovers its log at the
  // next start and Redis' append-only file loses at most the last second, which is fine for a local stack.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

let pdeathsig: boolean | undefined;

/**
 * Whether util-linux `setpriv --pdeathsig` is available. It makes the kernel kill the child when this
 * process dies in ways no 'exit' handler sees (SIGKILL, a crash, a default-handled SIGHUP/SIGTERM).
 * The kernel ties it to the thread that spawned the child: start services from the main thread (or a
 * worker thread that outlives them).
 */
export function hasPdeathsig(): boolean {
  if (pdeathsig === undefined) {
    const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    pdeathsig = process.platform === 'linux' && r.status === 0 && r.stdout.includes('--pdeathsig');
  }
  return pdeathsig;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a readiness wait races against: the process it waits for has exited. */
export const EXITED: unique symbol = Symbol('exited');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `work`, or EXITED as soon as `exited` resolves first. A rejection of `work` after it lost the race is
 * swallowed (it would otherwise be an unhandled rejection).
 */
export function orExit<T>(work: Promise<T>, exited: Promise<void> | undefined): Promise<T | typeof EXITED> {
  if (!exited) return work;
  work.catch(() => undefined);
  return Promise.race([work, exited.then((): typeof EXITED => EXITED)]);
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * A pid file whose process still runs with `ownerMarker` in its command line means a previous launcher
 * died without taking it along (possible only without pdeathsig). Starting a second one on the same data
 * would fail on Kafka's lock or corrupt Redis' append-only file, so say so plainly.
 */
export function assertNoLeftover(name: string, pidFile: string, ownerMarker: string): void {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return;
  }
  if (!cmdline.includes(ownerMarker)) return;
  throw new Error(
    `${name}: a ${name} process of a previous run (pid ${pid}) still uses ${path.dirname(pidFile)}; stop it (kill ${pid}) and retry`,
  );
}

/** A service the launcher started; `restart()` keeps its port(s) and data. */
export interface ServiceHandle {
  readonly name: string;
  /** Where the service's stdout/stderr (and own log) go. */
  readonly logFile: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts it again (same ports, same data) and waits until it is ready; no-op when running. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s (`{ signal: 'SIGKILL' }` simulates a crash); waits for the exit. */
  stop(opts?: StopOptions): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Set once the service answered; an exit before that is reported by the readiness wait instead. */
  private ready = false;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Resolves once the running process has exited (immediately when none runs). */
  waitExit(): Promise<void> {
    return this.exited;
  }

  start(): void {
    if (this.child) return;
    const { name, command, args, logFile, pidFile, log } = this.spec;
    this.assertNoLeftover();
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const out = fs.openSync(logFile, 'a');
    fs.writeSync(out, `\n==== ${new Date().toISOString()} starting ${name}: ${command} ${args.join(' ')}\n`);
    const [cmd, argv] = hasPdeathsig()
      ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args]]
      : [command, args];
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, {
        stdio: ['ignore', out, out],
        env: this.spec.env ?? process.env,
        // Own process group: Ctrl-C in a terminal signals the whole foreground group, and the engines must
        // not shut down underneath the services that are still draining into them. The launcher stops
        // them, in order, after the services (and the exit hook / pdeathsig cover a parent that dies).
        detached: true,
      });
    } finally {
      fs.closeSync(out);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // spawn failed synchronously enough to have no pid (e.g. ENOENT); 'error' follows.
      child.on('error', () => undefined);
      throw new Error(`${name}: could not run ${command} (is it installed? see checkPrerequisites())`);
    }
    this.child = child;
    this.ready = false;
    live.add(child);
    installExitHook();
    fs.writeFileSync(pidFile, `${pid}\n`);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        fs.rmSync(pidFile, { force: true });
        if (!this.stopping && this.ready) {
          log?.(`${name}: exited unexpectedly (${signal ?? `code ${code}`}); see ${logFile}`);
        }
        resolve();
      };
      child.once('exit', done);
      child.once('error', (err) => {
        log?.(`${name}: ${err.message}`);
        done(null, null);
      });
    });
  }

  /** From now on an exit that stop() did not ask for is logged as unexpected. */
  markReady(): void {
    this.ready = true;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves when the process is gone. */
  async stop(opts: StopOptions = {}): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    try {
      child.kill(opts.signal ?? 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), opts.timeoutMs ?? 10_000);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.spec.log?.(`${this.spec.name}: did not stop within ${(opts.timeoutMs ?? 10_000) / 1000} s, killing it`);
        child.kill('SIGKILL');
        await this.exited;
      }
    } finally {
      this.stopping = false;
    }
  }

  /** See assertNoLeftover(). */
  assertNoLeftover(): void {
    assertNoLeftover(this.spec.name, this.spec.pidFile, this.spec.ownerMarker);
  }
}
