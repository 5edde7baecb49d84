// Consumer lag as the broker sees it: for each group, the end offset of every partition of its topics minus the offset
// the group committed there. Read from the broker (not from the consumer's own last batch), so a consumer that is
// stuck or gone still shows a growing lag. Exported as the OpenTelemetry gauge `touchstream.consumer.lag` (records,
// per group, topic and partition) and read by `touchstream up`'s status line.
import { metrics } from '@opentelemetry/api';
import type { Admin, Kafka } from 'kafkajs';
import type { LogSink } from './client.ts';

export interface LaggingGroup {
  groupId: string;
  topics: string[];
}

export interface PartitionLag {
  groupId: string;
  topic: string;
  partition: number;
  /** Records behind the end of the partition; a partition the group never committed counts from its start. */
  lag: number;
}

export interface LagSnapshot {
  /** Epoch ms of the reading. */
  at: number;
  partitions: PartitionLag[];
}

/** Lag per group and topic, summed over partitions. */
export function lagTotals(snapshot: LagSnapshot): Map<string, Map<string, number>> {
  const totals = new Map<string, Map<string, number>>();
  for (const p of snapshot.partitions) {
    let byTopic = totals.get(p.groupId);
    if (!byTopic) totals.set(p.groupId, (byTopic = new Map()));
    byTopic.set(p.topic, (byTopic.get(p.topic) ?? 0) + p.lag);
  }
  return totals;
}

/** Reads every group's lag once. */
export async function readLag(admin: Admin, groups: readonly LaggingGroup[], now = Date.now): Promise<LagSnapshot> {
  const partitions: PartitionLag[] = [];
  const ends = new Map<string, Map<number, bigint>>();
  const starts = new Map<string, Map<number, bigint>>();
  for (const topic of new Set(groups.flatMap((g) => g.topics))) {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends.set(topic, new Map(offsets.map((o) => [o.partition, BigInt(o.high)])));
    starts.set(topic, new Map(offsets.map((o) => [o.partition, BigInt(o.low)])));
  }
  for (const group of groups) {
    const committed = await admin.fetchOffsets({ groupId: group.groupId, topics: group.topics });
    for (const { topic, partitions: parts } of committed) {
      for (const { partition, offset } of parts) {
        const end = ends.get(topic)?.get(partition) ?? 0n;
        // -1: nothing committed yet; the group starts from the beginning (fromBeginning), so all of it is behind.
        const from = offset === '-1' ? starts.get(topic)?.get(partition) ?? 0n : BigInt(offset);
        const lag = end - from;
        partitions.push({ groupId: group.groupId, topic, partition, lag: Number(lag > 0n ? lag : 0n) });
      }
    }
  }
  return { at: now(), partitions };
}

export interface LagMonitor {
  /** The latest reading, undefined until the first one. */
  latest(): LagSnapshot | undefined;
  /** The readings of the last `windowMs` (for trends), oldest first. */
  history(): LagSnapshot[];
  stop(): Promise<void>;
}

/**
 * Reads the groups' lag every `intervalMs` with its own admin client and keeps the last minute of readings; registers
 * the gauge. A failed reading is logged at debug and skipped (Kafka may be restarting).
 */
export function startLagMonitor(opts: { kafka: Kafka; groups: LaggingGroup[]; intervalMs?: number; historyMs?: number; log?: LogSink }): LagMonitor {
  const intervalMs = opts.intervalMs ?? 5000;
  const historyMs = opts.historyMs ?? 60_000;
  const admin = opts.kafka.admin();
  let connected: Promise<void> | undefined;
  const readings: LagSnapshot[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const gauge = metrics.getMeter('touchstream').createObservableGauge('touchstream.consumer.lag', {
    description: 'Records a consumer group is behind the end of a partition (end offset minus committed offset)',
    unit: '{record}',
  });
  const observe = (result: { observe(value: number, attributes: Record<string, string | number>): void }) => {
    for (const p of readings.at(-1)?.partitions ?? []) {
      result.observe(p.lag, { 'messaging.consumer.group.name': p.groupId, 'messaging.destination.name': p.topic, 'messaging.destination.partition.id': p.partition });
    }
  };
  gauge.addCallback(observe);

  const tick = async () => {
    try {
      connected ??= admin.connect();
      await connected;
      const snapshot = await readLag(admin, opts.groups);
      readings.push(snapshot);
      while (readings.length > 0 && readings[0]!.at < snapshot.at - historyMs) readings.shift();
    } catch (err) {
      opts.log?.debug({ err: err instanceof Error ? err.message : String(err) }, 'consumer lag: reading failed');
      connected = undefined;
    }
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  timer = setTimeout(() => void tick(), 0);

  return {
    latest: () => readings.at(-1),
    history: () => [...readings],
    async stop() {
      stopped = true;
      clearTimeout(timer);
      gauge.removeCallback(observe);
      await admin.disconnect().catch(() => undefined);
    },
  };
}
