// The journey-timer tick: every interval (wall clock), fire the due timers and produce their outputs.
// Runs on every processor instance; the per-customer scripts make sure each timer fires once.
import type { LogSink, OutboundMessage } from '@touchstream/kafka';
import type { TouchpointProcessor } from './processor.ts';

export interface TimerSweeper {
  /** Stops ticking and waits for the sweep in flight. */
  stop(): Promise<void>;
}

export function startTimerSweeper(options: {
  processor: Pick<TouchpointProcessor, 'sweepTimers'>;
  /** Resolves once the messages are durably produced (acks from all in-sync replicas). */
  emit(messages: OutboundMessage[]): Promise<void>;
  intervalMs: number;
  log: LogSink;
}): TimerSweeper {
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const fired = await options.processor.sweepTimers(options.emit);
        if (fired.length) options.log.debug({ fired: fired.length }, 'journey timers fired');
      } catch (err) {
        // The timers stay (or stay leased) in Redis: nothing is lost, the next tick retries.
        options.log.warn({ err: (err as Error).message }, 'journey timer sweep failed; retrying on the next tick');
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
