// Keeps the rules in force in step with the rules file: reloaded when the file changes (polled stat, which
// also follows editors that replace the file and Kubernetes ConfigMap symlink swaps) and on demand (the
// composition root calls reload() on SIGHUP). An invalid new file is rejected, logged, and the old rules
// stay. State lives in Redis, so swapping rules loses nothing: the next batch simply uses the new ones.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
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
  let current = await loadRulesFile(options.file, options.base);
  let queue: Promise<unknown> = Promise.resolve();
  let watching = false;

  async function load(reason: string): Promise<ReloadResult> {
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

  const onStat = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void watcher.reload('file changed');
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
      if (watching) return;
      watching = true;
      watchFile(options.file, { interval: options.pollIntervalMs ?? 1000, persistent: false }, onStat);
    },
    stop() {
      if (!watching) return;
      watching = false;
      unwatchFile(options.file, onStat);
    },
  };
  return watcher;
}
