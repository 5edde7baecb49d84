// Process-level helpers shared by every command that runs services: a clear fatal message, and a bounded,
// ordered shutdown on SIGINT/SIGTERM.
import { shutdownTelemetry } from '@touchstream/telemetry';

export function fail(message: string): never {
  console.error(`\n✖ ${message}\n`);
  process.exit(1);
}

/** Stops the given things once, on the first SIGINT/SIGTERM, within a bound. */
export function onShutdown(timeoutMs: number, ...steps: Array<() => Promise<void>>) {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    console.error(`\n${signal}: draining and stopping…`);
    const timer = setTimeout(() => {
      console.error(`still not stopped after ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    let failed = false;
    for (const step of steps) {
      await step().catch((err) => {
        failed = true;
        console.error(`while stopping: ${(err as Error).message}`);
      });
    }
    // Spans and metrics of the last seconds reach the collector before the process ends.
    await shutdownTelemetry().catch(() => undefined);
    // A supervisor must see an unclean stop: exit 1 if any step failed.
    process.exit(failed ? 1 : 0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
