// Keeps the churn model in force in step with its file (CHURN_MODEL_FILE; docs/architecture.md §22), like the rules
// file: polled, swapped when a valid new model is written (`./touchstream train` renames the finished file into
// place), an invalid new file rejected and logged while the model in force stays. A file that does not exist yet
// is no error: the processor scores nothing until it appears.
import { watchFile, type WatchedFile } from '@touchstream/runtime';
import type { LogSink } from '@touchstream/kafka';
import { ChurnModelError, loadChurnModel, type ChurnModel } from './model.ts';

export type ChurnModelWatcher = WatchedFile<ChurnModel | undefined>;

export function createChurnModelWatcher(options: { file: string; log: LogSink; pollIntervalMs?: number; onChange?(model: ChurnModel | undefined): void }): Promise<ChurnModelWatcher> {
  return watchFile<ChurnModel | undefined, string | null>({
    file: options.file,
    load: async (file) => {
      try {
        return await loadChurnModel(file);
      } catch (err) {
        if (err instanceof ChurnModelError && /\(ENOENT\)/.test(err.message)) return undefined;
        throw err;
      }
    },
    version: (model) => model?.file.version ?? null,
    describeError: (err) => (err as Error).message,
    onChange: options.onChange,
    log: options.log,
    messages: { reloaded: 'churn model loaded', rejected: 'churn model rejected; keeping the model in force' },
    pollIntervalMs: options.pollIntervalMs,
  });
}
