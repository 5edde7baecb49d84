// The one consumer loop of the project: per fetched batch (one topic-partition), the handler returns a
// typed result per record; outputs and dead letters are produced and acknowledged, and only then are the
// batch's offsets committed. A crash anywhere before the commit redelivers the batch, and the handlers
// are idempotent, so nothing is lost and nothing is counted twice.
import type { Consumer, Kafka, Producer, Message, KafkaMessage } from 'kafkajs';
import { codecs } from '@touchstream/schemas';
import type { BatchHandler, ConsumedBatch, KafkaRecord, OutboundMessage, RecordResult } from './types.ts';
import type { LogSink } from './client.ts';
import { topicNames } from './topics.ts';

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  /** Produces outputs and dead letters; idempotent, shared by the process. */
  producer: Producer;
  handleBatch: BatchHandler;
  /** Where records the handler marks `dlq` go (with reason and origin). */
  deadLetterTopic?: string;
  /** Which pipeline stage consumes (recorded on dead letters); defaults to the group id. */
  stage?: string;
  /** Upper bound of records handed to the handler at once: bounds memory and in-flight work. */
  maxRecordsPerBatch?: number;
  /** Partitions worked on at the same time by this process. */
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  /**
   * How long the group waits for a member that stopped heartbeating (a crashed process) before its partitions
   * go to another; a batch must finish within it (heartbeats are sent between batches). Default 30 s.
   */
  sessionTimeoutMs?: number;
  log?: LogSink;
  now?: () => number;
}

export interface BatchConsumerStats {
  batches: number;
  records: number;
  ok: number;
  dlq: number;
  drop: number;
  outputs: number;
}

export interface BatchConsumer {
  start(): Promise<void>;
  /** Stops fetching, waits for the batch in flight to finish and commit, leaves the group. */
  stop(): Promise<void>;
  ready(): { ready: boolean; reason?: string };
  readonly stats: BatchConsumerStats;
}

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value,
    headers: m.headers ?? {},
    timestamp: m.timestamp,
  };
}

export function deadLetterFor(record: KafkaRecord, reason: string, stage: string, source: string, nowMs: number): OutboundMessage {
  const value = codecs.deadLetter.encode({
    dead_letter_id: `${record.topic}:${record.partition}:${record.offset}`,
    source,
    stage,
    payload: record.value ?? Buffer.alloc(0),
    content_type: 'application/avro',
    reasons: [reason],
    received_at: nowMs * 1000,
    origin_topic: record.topic,
    origin_partition: record.partition,
    origin_offset: record.offset,
    request_index: null,
  });
  return { topic: topicNames.deadLetters, key: record.key ?? source, value, headers: { stage, source } };
}

/** Turns per-record results into the messages to produce; counts them. */
export function routeResults(
  records: KafkaRecord[],
  results: RecordResult[],
  opts: { stage: string; source: string; deadLetterTopic: string; nowMs: number },
  stats?: BatchConsumerStats,
): OutboundMessage[] {
  if (results.length !== records.length) {
    throw new Error(`handler returned ${results.length} results for ${records.length} records`);
  }
  const out: OutboundMessage[] = [];
  results.forEach((r, i) => {
    if (r.kind === 'ok') {
      if (stats) stats.ok++;
      for (const o of r.outputs ?? []) out.push(o);
    } else if (r.kind === 'dlq') {
      if (stats) stats.dlq++;
      out.push({ ...deadLetterFor(records[i]!, r.reason, opts.stage, opts.source, opts.nowMs), topic: opts.deadLetterTopic });
    } else if (stats) {
      stats.drop++;
    }
  });
  return out;
}

/** One produce request for all of a batch's outputs, grouped per topic, acknowledged by all in-sync replicas. */
export async function produceAll(producer: Producer, messages: OutboundMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const byTopic = new Map<string, Message[]>();
  for (const m of messages) {
    const list = byTopic.get(m.topic) ?? [];
    list.push({ key: m.key, value: m.value, headers: m.headers });
    byTopic.set(m.topic, list);
  }
  await producer.sendBatch({
    acks: -1,
    topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
  });
}

/** Group-membership answers that mean "this member no longer owns the partition": the new owner redoes the batch. */
const rebalanceRefusals = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

/**
 * Whether a failed offset commit was refused because the group is rebalancing. kafkajs wraps these protocol
 * errors (not retriable) in a KafkaJSNonRetriableError whose `cause` holds the type; thrown from eachBatch, that
 * crashes the consumer with `restart: false`, and it would stay down for good.
 */
export function isRebalanceRefusal(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.type === 'string' && rebalanceRefusals.has(e.type)) return true;
  }
  return false;
}

export function createBatchConsumer(opts: BatchConsumerOptions): BatchConsumer {
  const maxRecords = opts.maxRecordsPerBatch ?? 1000;
  const deadLetterTopic = opts.deadLetterTopic ?? topicNames.deadLetters;
  const now = opts.now ?? Date.now;
  const stats: BatchConsumerStats = { batches: 0, records: 0, ok: 0, dlq: 0, drop: 0, outputs: 0 };
  let consumer: Consumer | undefined;
  let joined = false;
  let crashed: string | undefined;
  let stopping = false;

  const work = async (batch: ConsumedBatch): Promise<void> => {
    const results = await opts.handleBatch(batch);
    const outputs = routeResults(batch.records, results, {
      stage: opts.stage ?? opts.groupId,
      source: opts.groupId,
      deadLetterTopic,
      nowMs: now(),
    }, stats);
    await produceAll(opts.producer, outputs);
    stats.outputs += outputs.length;
    stats.batches++;
    stats.records += batch.records.length;
  };

  return {
    stats,
    async start() {
      consumer = opts.kafka.consumer({
        groupId: opts.groupId,
        allowAutoTopicCreation: false,
        // Bounded fetches: a partition's batch is at most ~1 MiB before it is handed to the handler.
        maxBytesPerPartition: 1024 * 1024,
        ...(opts.sessionTimeoutMs ? { sessionTimeout: opts.sessionTimeoutMs, heartbeatInterval: Math.max(500, Math.floor(opts.sessionTimeoutMs / 10)) } : {}),
        retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 10_000 },
      });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
        crashed = undefined;
      });
      consumer.on(consumer.events.CRASH, (e) => {
        joined = false;
        const { error, restart } = e.payload as { error?: Error; restart?: boolean };
        crashed = String(error?.message ?? 'crashed');
        // kafkajs restarts the consumer only after a retriable error; otherwise it stays down until the process restarts.
        opts.log?.error({ groupId: opts.groupId, err: crashed, restart }, restart ? 'consumer crashed; kafkajs restarts it' : 'consumer crashed and stays down: restart the process');
      });
      consumer.on(consumer.events.DISCONNECT, () => {
        joined = false;
      });
      await consumer.connect();
      await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const all = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
          for (let i = 0; i < all.length; i += maxRecords) {
            // On rebalance or shutdown, stop before taking more work; what is not committed is redelivered.
            if (!isRunning() || isStale()) return;
            const records = all.slice(i, i + maxRecords);
            const firstOffset = records[0]!.offset;
            const lastOffset = records[records.length - 1]!.offset;
            await work({ topic: batch.topic, partition: batch.partition, records, firstOffset, lastOffset, heartbeat });
            try {
              await consumer!.commitOffsets([
                { topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
              ]);
            } catch (err) {
              if (!isRebalanceRefusal(err)) throw err;
              // The side effects are done; whoever owns the partition after the rebalance gets the batch again and
              // deduplicates it. Returning lets the next heartbeat rejoin instead of crashing the consumer for good.
              opts.log?.warn({ groupId: opts.groupId, topic: batch.topic, partition: batch.partition, err: String(err) }, 'offset commit refused by a rebalance; the batch will be redelivered');
              return;
            }
            resolveOffset(lastOffset);
            await heartbeat();
          }
        },
      });
    },
    async stop() {
      stopping = true;
      await consumer?.disconnect();
      joined = false;
    },
    ready() {
      if (stopping) return { ready: false, reason: 'stopping' };
      if (crashed) return { ready: false, reason: `consumer crashed: ${crashed}` };
      if (!joined) return { ready: false, reason: `consumer group ${opts.groupId} not joined yet` };
      return { ready: true };
    },
  };
}

/** Creates and starts a batch consumer (convenience for modules). */
export async function runBatchConsumer(opts: BatchConsumerOptions): Promise<BatchConsumer> {
  const c = createBatchConsumer(opts);
  await c.start();
  return c;
}
