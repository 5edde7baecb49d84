// Keeps the rules in force in step with the rules file: reloaded when the file changes (its stat is polled
// and compared with the stat taken just before the last read, so a change racing a read is never missed;
// this also follows editors that replace the file and Kubernetes ConfigMap symlink swaps) and on demand
// (the composition root calls reload() on SIGHUP). An invalid new file is rejected, logged, and the old rules
// stay. State lives in Redis, so swapping rules loses nothing: the next batch simply uses the new ones.
import { stat } from 'node:fs/promises';
import type { LogSink } from '@touchstream/kafka';
import type { ScoringConfig } from './config.ts';
import { loadRulesFile, RulesError } from './rules.ts';

export type ReloadResult = { ok: true; changed: boolean; version: string | null } | { ok: false; error: string };

export interface RulesWatcher {
  readonly file: string;
  readonly current: ScoringConfig;
  /** Re-reads the file now; concurrent calls run one after the other. */
  reload(reason?: string): Promise<ReloadResult>;
  /** Starts polling the file for changes. */
  start(): void;
  stop(): void;
}

export interface RulesWatcherOptions {
  file: string;
  /** What the file is laid over (defaults, plus settings that are not in the file). */
  base?: ScoringConfig;
  /** Called with the new rules after each successful reload that changed them. */
  onChange(config: ScoringConfig): void;
  log: LogSink;
  pollIntervalMs?: number;
}

/** Loads the file once (throws RulesError when it is invalid: the process must not start with bad rules). */
export async function createRulesWatcher(options: RulesWatcherOptions): Promise<RulesWatcher> {
  const statKey = () =>
    stat(options.file).then(
      (s) => `${s.mtimeMs}:${s.size}:${s.ino}`,
      () => 'unreadable',
    );
  // Taken before each read: a write after it changes the stat, and the next poll reloads.
  let loadedStat = await statKey();
  let current = await loadRulesFile(options.file, options.base);
  let queue: Promise<unknown> = Promise.resolve();
  let poller: NodeJS.Timeout | undefined;

  async function load(reason: string): Promise<ReloadResult> {
    loadedStat = await statKey();
    try {
      const next = await loadRulesFile(options.file, options.base);
      if (next.rulesVersion === current.rulesVersion) return { ok: true, changed: false, version: current.rulesVersion };
      const previous = current.rulesVersion;
      current = next;
      options.onChange(next);
      options.log.info({ file: options.file, reason, previous, version: next.rulesVersion }, 'rules reloaded');
      return { ok: true, changed: true, version: next.rulesVersion };
    } catch (err) {
      const error = err instanceof RulesError ? err.message : `reading rules failed: ${(err as Error).message}`;
      options.log.error({ file: options.file, reason, kept: current.rulesVersion, error }, 'rules reload rejected; keeping the rules in force');
      return { ok: false, error };
    }
  }

  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      // An invalid file is reported once, not on every poll: its stat is recorded like a valid one's.
      if ((await statKey()) !== loadedStat) await watcher.reload('file changed');
    } finally {
      polling = false;
    }
  };

  const watcher: RulesWatcher = {
    file: options.file,
    get current() {
      return current;
    },
    reload(reason = 'requested') {
      const run = queue.then(() => load(reason));
      queue = run.catch(() => undefined);
      return run;
    },
    start() {
      if (poller) return;
      poller = setInterval(() => void poll(), options.pollIntervalMs ?? 1000);
      poller.unref();
    },
    stop() {
      clearInterval(poller);
      poller = undefined;
    },
  };
  return watcher;
}
