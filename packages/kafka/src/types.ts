// The one Kafka wrapper's contract: work per batch, typed per-record results routed by the consumer.
import type { IHeaders } from 'kafkajs';

export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: IHeaders;
  /** Broker/producer timestamp, epoch ms as a string (kafkajs convention). */
  timestamp: string;
}

export interface OutboundMessage {
  topic: string;
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

/** What a pipeline step did with one record; the consumer routes it. */
export type RecordResult =
  | { kind: 'ok'; outputs?: OutboundMessage[] }
  /** Goes to the dead-letter topic with the reason and its origin (topic, partition, offset). */
  | { kind: 'dlq'; reason: string }
  /** Deliberately ignored (e.g. a record for a deleted customer); counted, not dead-lettered. */
  | { kind: 'drop'; reason: string };

export interface ConsumedBatch {
  topic: string;
  partition: number;
  /** In offset order. */
  records: KafkaRecord[];
  firstOffset: string;
  lastOffset: string;
  /**
   * Tells the group coordinator this consumer is alive. A handler that may work longer than the session
   * timeout (e.g. retrying webhooks with backoff) calls it while it waits; kafkajs throttles the calls.
   */
  heartbeat?: () => Promise<void>;
}

/** Returns one result per record, in the same order as batch.records. Throwing retries the whole batch. */
export type BatchHandler = (batch: ConsumedBatch) => Promise<RecordResult[]>;

/**
 * Several partitions' batches at once (one chunk per partition at most, each in offset order): one result list per
 * batch, in the same order. Throwing retries every batch of the call.
 */
export type MultiBatchHandler = (batches: ConsumedBatch[]) => Promise<RecordResult[][]>;
