// The erased set of a process (docs/architecture.md §14): erasures.v1 read whole into memory and followed, so a
// consumer can drop every record of an erased customer that was written to Kafka at or before the erasure —
// a redelivery, a replay from offset 0 or a stale dead letter never brings the customer back.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decodeErasureRecord, encodeErasureRecord, erasureKey } from '@touchstream/contracts';
import type { LogSink } from './client.ts';
import { topicNames } from './topics.ts';
import type { ConsumedBatch, MultiBatchHandler, OutboundMessage, RecordResult } from './types.ts';

/**
 * Erasure key → erased_at (epoch ms); the keyed hash is computed with the deployment's secret. `forever` (policy
 * `refuse`): every record of an erased customer is covered, whenever written — ingest refuses their new events, so any
 * record written after the erasure was derived from an old one (e.g. a signal re-emitted by a processor that did not
 * know the erasure). Otherwise (policy `fresh`) only records written at or before the erasure.
 */
export class ErasedCustomers {
  private readonly erasedAt = new Map<string, number>();
  constructor(
    private readonly secret: string,
    private readonly opts: { forever?: boolean } = {},
  ) {}

  /** The key of a stored customer_id (erasureKey with this deployment's secret). */
  keyOf(customerId: string): string {
    return erasureKey(this.secret, customerId);
  }

  record(key: string, erasedAtMs: number): void {
    // The latest erasure wins: erasing again after a fresh start erases the fresh records too.
    if ((this.erasedAt.get(key) ?? -Infinity) < erasedAtMs) this.erasedAt.set(key, erasedAtMs);
  }

  /** When the customer was last erased (epoch ms), if ever. */
  erasedAtOf(customerId: string): number | undefined {
    // Asked per event (ingest, processor, sink): no keyed hash while nobody was erased.
    if (this.erasedAt.size === 0) return undefined;
    return this.erasedAt.get(this.keyOf(customerId));
  }

  /** Whether a record of the customer written at `writtenAtMs` is erased: any (forever), else one not after the erasure. */
  covers(customerId: string, writtenAtMs: number): boolean {
    const at = this.erasedAtOf(customerId);
    return at !== undefined && (this.opts.forever === true || writtenAtMs <= at);
  }

  get size(): number {
    return this.erasedAt.size;
  }
}

/** The erasures.v1 record of an erasure. */
export function erasureMessage(erased: ErasedCustomers, customerId: string, erasedAtMs: number): OutboundMessage {
  return { topic: topicNames.erasures, key: erased.keyOf(customerId), value: encodeErasureRecord({ erased_at_ms: erasedAtMs }) };
}

export interface ErasureFollower {
  readonly erased: ErasedCustomers;
  stop(): Promise<void>;
}

/**
 * Reads erasures.v1 from the beginning into `erased` and keeps following it. Resolves once everything the topic held
 * at the call is read, so a consumer started after it knows every erasure made before it started. Each process reads
 * with a group of its own (`<prefix>-erasures-<uuid>`): every process needs the whole topic.
 */
export async function followErasures(opts: { kafka: Kafka; erased: ErasedCustomers; groupPrefix: string; log?: LogSink; topic?: string }): Promise<ErasureFollower> {
  const topic = opts.topic ?? topicNames.erasures;
  const admin = opts.kafka.admin();
  await admin.connect();
  let highWatermarks: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    highWatermarks = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const behind = new Set([...highWatermarks].filter(([, high]) => high > 0n).map(([p]) => p));
  let caughtUp!: () => void;
  const ready = new Promise<void>((resolve) => (caughtUp = resolve));
  if (behind.size === 0) caughtUp();

  const consumer = opts.kafka.consumer({ groupId: `${opts.groupPrefix}-erasures-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    // Never commits: each start reads the topic whole again, and the throwaway group leaves no offsets behind.
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const key = message.key?.toString('utf8');
      const value = message.value ? decodeErasureRecord(message.value) : undefined;
      if (key && value) opts.erased.record(key, value.erased_at_ms);
      else opts.log?.warn({ partition, offset: message.offset }, 'erasures: record without a key or an erased_at_ms, ignored');
      if (behind.has(partition) && BigInt(message.offset) + 1n >= highWatermarks.get(partition)!) {
        behind.delete(partition);
        if (behind.size === 0) caughtUp();
      }
    },
  });
  await ready;
  opts.log?.info({ erased: opts.erased.size }, 'erasures: erased customers known');
  return {
    erased: opts.erased,
    async stop() {
      await consumer.disconnect();
    },
  };
}

/**
 * Wraps a pipeline step: records keyed by an erased customer and written to Kafka at or before the erasure get `drop`;
 * the rest go to `inner` (as batches of their own, same partition and order). The project's topics are keyed by
 * customer_id, and the Kafka timestamp of a record is when it was first written (a redelivery or replay keeps it).
 */
export function withoutErased(erased: ErasedCustomers, inner: MultiBatchHandler): MultiBatchHandler {
  return async (batches) => {
    // Nobody erased: the batches go through as they are.
    if (erased.size === 0) return inner(batches);
    const results: RecordResult[][] = batches.map((b) => new Array<RecordResult>(b.records.length));
    const kept: ConsumedBatch[] = [];
    const keptPositions: number[][] = [];
    batches.forEach((batch, b) => {
      const positions: number[] = [];
      batch.records.forEach((record, i) => {
        if (record.key !== null && erased.covers(record.key, Number(record.timestamp))) {
          results[b]![i] = { kind: 'drop', reason: 'customer erased' };
        } else positions.push(i);
      });
      if (positions.length === batch.records.length) kept.push(batch);
      else if (positions.length > 0) {
        const records = positions.map((i) => batch.records[i]!);
        kept.push({ ...batch, records, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset });
      }
      keptPositions.push(positions);
    });
    if (kept.length > 0) {
      const innerResults = await inner(kept);
      let k = 0;
      batches.forEach((_batch, b) => {
        const positions = keptPositions[b]!;
        if (positions.length === 0) return;
        const list = innerResults[k++]!;
        positions.forEach((i, j) => (results[b]![i] = list[j]!));
      });
    }
    return results;
  };
}
