// Can Kafka take writes right now? A producer's connect/disconnect events only follow explicit calls: a broker
// that goes away under a connected producer leaves it "connected" while every send retries. So readiness also
// watches (1) the outcome of real sends and (2) a periodic metadata check that every partition of the topic
// has a leader. The periodic check matters most on the way back: a 503-ing /readyz takes a service out of its
// load balancer, so no send would ever come to say the broker is back.
import type { Admin, Kafka } from 'kafkajs';
import type { LogSink } from './client.ts';

export interface KafkaWriteHealthOptions {
  /** The topic writes go to; healthy when each of its partitions has a leader. */
  topic: string;
  /** Between checks. Default 2 s. */
  intervalMs?: number;
  /** One check (connect + metadata) gives up after this. Default 2.5 s. */
  timeoutMs?: number;
  log?: LogSink;
}

export interface KafkaWriteHealth {
  /** Whether the last word (check or send) said Kafka takes writes, and why not. */
  status(): { ok: true } | { ok: false; reason: string };
  /** A send was acknowledged. */
  sendSucceeded(): void;
  /** A send failed or was not acknowledged in time: unhealthy until a check or a send says otherwise. */
  sendFailed(reason: string): void;
  /** Runs one check now (also used by tests); resolves with its outcome. */
  check(): Promise<boolean>;
  start(): void;
  stop(): Promise<void>;
}

export function watchKafkaWrites(kafka: Kafka, opts: KafkaWriteHealthOptions): KafkaWriteHealth {
  const intervalMs = opts.intervalMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 2500;
  let state: { ok: true } | { ok: false; reason: string } = { ok: true };
  let admin: Admin | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let stopped = false;

  const set = (next: typeof state) => {
    if (next.ok !== state.ok) {
      if (next.ok) opts.log?.info({ topic: opts.topic }, 'Kafka takes writes again');
      else opts.log?.warn({ topic: opts.topic, reason: next.reason }, 'Kafka cannot take writes');
    }
    state = next;
  };

  const dropAdmin = () => {
    const old = admin;
    admin = undefined;
    void old?.disconnect().catch(() => undefined);
  };

  async function probe(): Promise<void> {
    // No retries of its own: the next check is the retry, and a check must end within timeoutMs.
    admin ??= kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [opts.topic] });
    const partitions = topics[0]?.partitions ?? [];
    if (partitions.length === 0) throw new Error(`topic ${opts.topic} has no partitions`);
    const leaderless = partitions.filter((p) => p.leader < 0).map((p) => p.partitionId);
    if (leaderless.length > 0) throw new Error(`partitions ${leaderless.join(',')} of ${opts.topic} have no leader`);
  }

  function check(): Promise<boolean> {
    running ??= (async () => {
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          probe(),
          new Promise<never>((_, reject) => {
            timeout = setTimeout(() => reject(new Error(`no metadata answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        set({ ok: true });
        return true;
      } catch (err) {
        // A fresh client next time: kafkajs' admin does not always recover a broken connection by itself.
        dropAdmin();
        set({ ok: false, reason: `Kafka cannot take writes: ${(err as Error).message}` });
        return false;
      } finally {
        clearTimeout(timeout);
        running = undefined;
      }
    })();
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void check().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    status: () => state,
    sendSucceeded: () => set({ ok: true }),
    sendFailed: (reason) => set({ ok: false, reason }),
    check,
    start() {
      stopped = false;
      if (!timer) schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
      const old = admin;
      admin = undefined;
      await old?.disconnect().catch(() => undefined);
    },
  };
}
