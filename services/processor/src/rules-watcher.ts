// Keeps the rules in force in step with the rules file (packages/runtime/src/watched-file.ts: reloaded when the
// file changes and on demand, on SIGHUP; an invalid new file is rejected, logged, and the old rules stay). State
// lives in Redis, so swapping rules loses nothing: the next batch simply uses the new ones.
import { watchFile, type FileReload, type WatchedFile } from '@touchstream/runtime';
import type { LogSink } from '@touchstream/kafka';
import type { ScoringConfig } from './config.ts';
import { loadRulesFile, RulesError } from './rules.ts';

export type ReloadResult = FileReload;

export type RulesWatcher = WatchedFile<ScoringConfig>;

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
export function createRulesWatcher(options: RulesWatcherOptions): Promise<RulesWatcher> {
  return watchFile({
    file: options.file,
    load: (file) => loadRulesFile(file, options.base),
    version: (config) => config.rulesVersion,
    describeError: (err) => (err instanceof RulesError ? err.message : `reading rules failed: ${(err as Error).message}`),
    onChange: options.onChange,
    log: options.log,
    messages: { reloaded: 'rules reloaded', rejected: 'rules reload rejected; keeping the rules in force' },
    pollIntervalMs: options.pollIntervalMs,
  });
}
