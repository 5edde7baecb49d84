// The embedded stack for `touchstream bench pipeline`, as a user starts it: the real executable,
// `./touchstream up --no-demo --port <p> --dir <d>`, as a child process. Waits for its /readyz, reads the engines'
// endpoints from its banner, finds its Kafka JVM and redis-server among its descendants (/proc), and stops it with
// SIGINT (the way Ctrl-C does), waiting for it to drain.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { hasPdeathsig } from '@touchstream/stack';
import { descendants } from './procfs.ts';

export interface StackChildOptions {
  repoRoot: string;
  dir: string;
  port: number;
  logFile: string;
  readyTimeoutMs?: number;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

export class StackChild {
  readonly url: string;
  kafkaBrokers: string[] = [];
  redisUrl = '';
  /** The node process of `touchstream up` (bash `exec`s node, setpriv `exec`s bash: one pid). */
  pid = 0;
  kafkaPid: number | undefined;
  redisPid: number | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private exitCode: number | null | undefined;
  private log: fs.WriteStream;
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  /** Lines the app printed after it was ready and before it was asked to stop (LOG_LEVEL=error: errors). */
  readonly errorLines: string[] = [];
  errorLineCount = 0;
  private ready = false;

  constructor(private readonly opts: StackChildOptions) {
    this.url = `http://127.0.0.1:${opts.port}`;
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    this.log = fs.createWriteStream(opts.logFile, { flags: 'a' });
  }

  async start(onLine?: (line: string) => void): Promise<void> {
    const script = path.join(this.opts.repoRoot, 'touchstream');
    const args = ['up', '--no-demo', '--no-train', '--port', String(this.opts.port), '--dir', this.opts.dir];
    // The kernel SIGTERMs the stack (which then drains and stops its engines) if this process dies unannounced.
    const [cmd, argv] = hasPdeathsig() ? ['setpriv', ['--pdeathsig', 'SIGTERM', '--', script, ...args]] : [script, args];
    this.log.write(`==== ${new Date().toISOString()} ${script} ${args.join(' ')}\n`);
    const child = spawn(cmd, argv, {
      cwd: this.opts.repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: the terminal's Ctrl-C reaches the benchmark only, which then stops the stack itself.
      detached: true,
    });
    this.child = child;
    this.pid = child.pid ?? 0;
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.exitCode = code;
      resolve(code);
    }));
    let banner = '';
    const scan = () => {
      let partial = '';
      return (chunk: Buffer) => {
        this.log.write(chunk);
        partial += chunk.toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          if (!this.ready) banner += `${line}\n`;
          const m = /engines\s+Kafka (\S+) · Redis (\S+)/.exec(line);
          if (m) {
            this.kafkaBrokers = m[1]!.split(',');
            this.redisUrl = m[2]!;
          }
          // LOG_LEVEL=error: whatever the app prints between ready and stop is an error (pino logs on stdout).
          // The status line `lag  processor … · sink …` is no error.
          if (this.ready && !this.stopRequested && line.trim() && !/^\s*lag\s/.test(line.replace(/\r/g, ''))) {
            this.errorLineCount++;
            if (this.errorLines.length < 20) this.errorLines.push(line.slice(0, 400));
          }
          onLine?.(line);
        }
      };
    };
    child.stdout!.on('data', scan());
    child.stderr!.on('data', scan());

    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 300_000);
    while (true) {
      if (this.exitCode !== undefined) {
        throw new Error(`./touchstream up exited (code ${this.exitCode}) before it was ready:\n${banner.trim().split('\n').slice(-20).join('\n')}\n(log: ${this.opts.logFile})`);
      }
      if (Date.now() > deadline) throw new Error(`./touchstream up was not ready within ${(this.opts.readyTimeoutMs ?? 300_000) / 1000} s (log: ${this.opts.logFile})`);
      if (this.kafkaBrokers.length && (await this.readyz())) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    this.ready = true;
    this.findEngines();
  }

  private readyz(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get(`${this.url}/readyz`, { timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  /** The Kafka JVM and redis-server: descendants of the up process. */
  findEngines(): void {
    for (const p of descendants(this.pid)) {
      if (p.comm === 'java' && cmdline(p.pid).includes('kafka.Kafka')) this.kafkaPid = p.pid;
      if (p.comm.startsWith('redis-server')) this.redisPid = p.pid;
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  /** SIGINT (as Ctrl-C), then waits for the drain; SIGKILL after `timeoutMs`. */
  stop(timeoutMs = 90_000): Promise<void> {
    this.stopRequested = true;
    this.stopping ??= (async () => {
      if (this.running) {
        this.child!.kill('SIGINT');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.exited!.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          this.log.write(`==== still running ${timeoutMs} ms after SIGINT: SIGKILL\n`);
          this.kill();
          await this.exited;
        }
      }
      await new Promise<void>((r) => this.log.end(() => r()));
    })();
    return this.stopping;
  }

  /** Last resort (a second Ctrl-C, process exit): SIGKILL the app and its engines. */
  kill(): void {
    for (const pid of [this.pid, this.kafkaPid, this.redisPid]) {
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
