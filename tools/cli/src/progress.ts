// The progress bar of the CLI's long work (benchmarks, pre-fills): on stderr, so a command's figures on stdout stay
// clean; without a terminal (CI, a log file) it prints a line every few seconds instead of redrawing.
import cliProgress from 'cli-progress';

export function progressBar(format: string, opts: { everyMs?: number; barsize?: number } = {}): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: opts.everyMs ?? 5_000, ...(opts.barsize ? { barsize: opts.barsize } : {}) },
    cliProgress.Presets.shades_classic,
  );
}
