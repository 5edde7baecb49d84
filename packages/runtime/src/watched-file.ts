// A file whose parsed content is kept in force while the process runs (the processor's weak-signal rules, the
// query API's touchpoint catalogue): reloaded when the file changes (its stat is polled and compared with the stat
// taken just before the last read, so a change racing a read is never missed; this also follows editors that
// replace the file and Kubernetes ConfigMap symlink swaps) and on demand (the composition root calls reload() on
// SIGHUP). An invalid new file is rejected and logged, and what was in force stays. The caller says how to read
// and validate the file and what its log lines call it: this module reads no configuration.
import { stat } from 'node:fs/promises';

export type FileReload<V extends string | null = string | null> = { ok: true; changed: boolean; version: V } | { ok: false; error: string };

export interface WatchedFile<T, V extends string | null = string | null> {
  readonly file: string;
  readonly current: T;
  /** Re-reads the file now; concurrent calls run one after the other. */
  reload(reason?: string): Promise<FileReload<V>>;
  /** Starts polling the file for changes. */
  start(): void;
  stop(): void;
}

export interface WatchedFileOptions<T, V extends string | null> {
  file: string;
  /** Reads and validates the file; throws when it is invalid (the first load's error reaches the caller). */
  load(file: string): Promise<T>;
  /** The version a loaded value declares: a reload that finds the same version changes nothing. */
  version(value: T): V;
  /** The reason a reload was rejected, for its log line and result. */
  describeError(err: unknown): string;
  /** Called with the new value after each successful reload that changed it. */
  onChange?(value: T): void;
  log: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** The log messages of a reload: done, and rejected (the one in force kept). */
  messages: { reloaded: string; rejected: string };
  pollIntervalMs?: number;
}

/** Loads the file once (throws what `load` throws: the process must not start with an invalid file). */
export async function watchFile<T, V extends string | null>(options: WatchedFileOptions<T, V>): Promise<WatchedFile<T, V>> {
  const statKey = () =>
    stat(options.file).then(
      (s) => `${s.mtimeMs}:${s.size}:${s.ino}`,
      () => 'unreadable',
    );
  // Taken before each read: a write after it changes the stat, and the next poll reloads.
  let loadedStat = await statKey();
  let current = await options.load(options.file);
  let queue: Promise<unknown> = Promise.resolve();
  let poller: NodeJS.Timeout | undefined;

  async function load(reason: string): Promise<FileReload<V>> {
    loadedStat = await statKey();
    const kept = options.version(current);
    try {
      const next = await options.load(options.file);
      const version = options.version(next);
      if (version === kept) return { ok: true, changed: false, version: kept };
      current = next;
      options.onChange?.(next);
      options.log.info({ file: options.file, reason, previous: kept, version }, options.messages.reloaded);
      return { ok: true, changed: true, version };
    } catch (err) {
      const error = options.describeError(err);
      options.log.error({ file: options.file, reason, kept, error }, options.messages.rejected);
      return { ok: false, error };
    }
  }

  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      // An invalid file is reported once, not on every poll: its stat is recorded like a valid one's.
      if ((await statKey()) !== loadedStat) await watched.reload('file changed');
    } finally {
      polling = false;
    }
  };

  const watched: WatchedFile<T, V> = {
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
  return watched;
}
