// Live alerts for SSE clients: one Kafka consumer per query instance (a group of its own, never committing)
// reads alerts.v1 from the end as of start, keeps the newest alerts in a ring buffer and fans them out to
// the connected clients. A client resuming from a position older than the buffer first gets the missing
// range read from Kafka again (replayRange), then the buffer and live alerts.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Consumer, Kafka } from 'kafkajs';
import { alertJson, codecs, SchemaError, type Alert, type AlertJson } from '@touchstream/contracts';
import type { LogSink } from '@touchstream/kafka';
import type { Cursor } from './cursor.ts';

export interface StreamedAlert {
  partition: number;
  offset: number;
  alert: AlertJson;
}

export interface HubSubscriber {
  /** Called synchronously for each new alert (the subscriber queues it; it must not block). */
  offer(item: StreamedAlert): void;
  /** The hub stops: end the stream. */
  close(reason: string): void;
}

export interface Subscription {
  /** Alerts already in the buffer at or after the cursor, in arrival order. */
  buffered: StreamedAlert[];
  /** Per partition, the range [from, to) the buffer no longer holds: read it from Kafka first. */
  gaps: Map<number, { from: number; to: number }>;
  unsubscribe(): void;
}

export interface AlertStreamHubOptions {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  /** Alerts kept in memory for resuming clients. */
  bufferSize: number;
  log: LogSink;
}

function uniqueGroupId(prefix: string, what: string): string {
  return `${prefix}-${what}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export class AlertStreamHub {
  /** Next offset per partition: everything before it has been received. */
  readonly positions: Cursor = new Map();
  /** Per partition, the first offset the buffer still covers (older ones were evicted or predate the start). */
  private readonly coveredFrom: Cursor = new Map();
  private readonly buffer: StreamedAlert[] = [];
  private readonly subscribers = new Set<HubSubscriber>();
  private consumer: Consumer | undefined;
  private joined = false;
  private crashed: string | undefined;

  constructor(private readonly opts: AlertStreamHubOptions) {}

  async start(): Promise<void> {
    const ends = await this.topicEnds();
    for (const e of ends) {
      this.positions.set(e.partition, Number(e.offset));
      this.coveredFrom.set(e.partition, Number(e.offset));
    }
    const consumer = this.opts.kafka.consumer({ groupId: uniqueGroupId(this.opts.groupPrefix, 'alert-stream'), allowAutoTopicCreation: false });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.joined = true;
      this.crashed = undefined;
      // On every join (also after kafkajs restarted a crashed consumer, which would start at the end): go on
      // exactly from the positions received so far, so nothing produced in between is missed.
      for (const [partition, offset] of this.positions) consumer.seek({ topic: this.opts.topic, partition, offset: String(offset) });
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      this.crashed = String((e.payload as { error?: Error }).error?.message ?? 'crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => this.receive(partition, Number(message.offset), message.value),
    });
  }

  /** The topic's end offsets; retried for a while, because a topic created a moment ago may not be known yet. */
  private async topicEnds(): Promise<Array<{ partition: number; offset: string }>> {
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await admin.fetchTopicOffsets(this.opts.topic);
        } catch (err) {
          if (attempt >= 20) throw new Error(`cannot read the offsets of ${this.opts.topic}: ${(err as Error).message}`, { cause: err });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  private receive(partition: number, offset: number, value: Buffer | null): void {
    const next = this.positions.get(partition) ?? 0;
    if (offset < next) return; // already had it
    this.positions.set(partition, offset + 1);
    if (!this.coveredFrom.has(partition)) this.coveredFrom.set(partition, 0); // a partition added since start
    let alert: Alert;
    try {
      alert = codecs.alert.decode(value ?? Buffer.alloc(0));
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      this.opts.log.warn({ partition, offset, err: err.message }, 'alert stream: skipping an undecodable record');
      return;
    }
    const item: StreamedAlert = { partition, offset, alert: alertJson(alert) };
    this.buffer.push(item);
    while (this.buffer.length > this.opts.bufferSize) {
      const evicted = this.buffer.shift()!;
      this.coveredFrom.set(evicted.partition, evicted.offset + 1);
    }
    for (const s of this.subscribers) s.offer(item);
  }

  /** The position a new client without a resume id starts from: now. */
  currentCursor(): Cursor {
    return new Map(this.positions);
  }

  /**
   * Registers a subscriber positioned at `cursor` (partitions it does not name start at 0). Synchronous, so
   * no alert falls between the buffered snapshot and the live ones.
   */
  subscribe(cursor: Cursor, subscriber: HubSubscriber): Subscription {
    const at = (p: number) => cursor.get(p) ?? 0;
    const gaps = new Map<number, { from: number; to: number }>();
    for (const [p, covered] of this.coveredFrom) {
      if (at(p) < covered) gaps.set(p, { from: at(p), to: covered });
    }
    const buffered = this.buffer.filter((i) => i.offset >= at(i.partition));
    this.subscribers.add(subscriber);
    return { buffered, gaps, unsubscribe: () => this.subscribers.delete(subscriber) };
  }

  get clients(): number {
    return this.subscribers.size;
  }

  ready(): { ready: boolean; reason?: string } {
    if (this.crashed) return { ready: false, reason: `alert stream consumer crashed: ${this.crashed}` };
    if (!this.joined) return { ready: false, reason: 'alert stream consumer not joined yet' };
    return { ready: true };
  }

  async stop(): Promise<void> {
    for (const s of this.subscribers) s.close('server shutting down; reconnect with Last-Event-ID');
    this.subscribers.clear();
    await this.consumer?.disconnect();
    this.joined = false;
  }
}

/**
 * Reads alerts in [from, to) of the given partitions from Kafka with a throwaway group that never commits;
 * `onItem` is awaited, so a slow client slows the read instead of filling memory.
 */
export async function replayRange(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  gaps: Map<number, { from: number; to: number }>,
  onItem: (item: StreamedAlert) => Promise<void>,
  signal: AbortSignal,
  log: LogSink,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const pending = new Map<number, { from: number; to: number }>();
  for (const o of offsets) {
    const gap = gaps.get(o.partition);
    if (!gap) continue;
    // What retention already deleted cannot be replayed; start at the oldest record still there.
    const from = Math.max(gap.from, Number(o.low));
    if (from < gap.to) pending.set(o.partition, { from, to: gap.to });
  }
  if (pending.size === 0 || signal.aborted) return;
  const consumer = kafka.consumer({ groupId: uniqueGroupId(groupPrefix, 'alert-replay'), allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const finish = (partition: number) => {
        pending.delete(partition);
        consumer.pause([{ topic, partitions: [partition] }]);
        if (pending.size === 0) resolve();
      };
      signal.addEventListener('abort', () => resolve(), { once: true });
      // On join (run() may return before it when kafkajs restarts a failed start): read only the gaps.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        const others = offsets.map((o) => o.partition).filter((p) => !pending.has(p));
        if (others.length) consumer.pause([{ topic, partitions: others }]);
        for (const [partition, range] of pending) consumer.seek({ topic, partition, offset: String(range.from) });
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = pending.get(partition);
            if (!range || signal.aborted) return;
            const offset = Number(message.offset);
            if (offset < range.from) return;
            if (offset >= range.to) return finish(partition);
            try {
              await onItem({ partition, offset, alert: alertJson(codecs.alert.decode(message.value ?? Buffer.alloc(0))) });
            } catch (err) {
              if (!(err instanceof SchemaError)) throw err;
              log.warn({ partition, offset, err: err.message }, 'alert replay: skipping an undecodable record');
            }
            if (offset + 1 >= range.to) finish(partition);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
