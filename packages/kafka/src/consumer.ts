// The one consumer loop of the project: per fetched batch (one topic-partition), the handler returns a
// typed result per record; outputs and dead letters are produced and acknowledged, and only then are the
// batch's offsets committed. A crash anywhere before the commit redelivers the batch, and the handlers
// are idempotent, so nothing is lost and nothing is counted twice.
import { metrics } from '@opentelemetry/api';
import type { Consumer, Kafka, Producer, Message, KafkaMessage } from 'kafkajs';
import { codecs } from '@touchstream/contracts';
import type { BatchHandler, ConsumedBatch, KafkaRecord, MultiBatchHandler, OutboundMessage, RecordResult } from './types.ts';
import type { LogSink } from './client.ts';
import { topicNames } from './topics.ts';

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  /** Produces outputs and dead letters; idempotent, shared by the process. */
  producer: Producer;
  /** Works on one partition's batch at a time (per partition in parallel up to partitionsConsumedConcurrently). */
  handleBatch?: BatchHandler;
  /**
   * Instead of handleBatch: works on the batches of every partition fetched together, in one call (group commit).
   * While a call is in flight the next partitions' batches wait and go together into the next one, so the work per
   * call grows with the load instead of the number of calls: one Redis pipeline or one ClickHouse insert for many
   * partitions. Outputs are produced in one request and the offsets of all the call's batches committed in one.
   */
  handleBatches?: MultiBatchHandler;
  /** With handleBatches: records per call at most (whole partition chunks; default 50,000). */
  maxRecordsPerCall?: number;
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
  /** Handler calls (with handleBatches one call covers several partitions' batches). */
  calls: number;
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

/**
 * Bytes of outputs per produce request at most. A request holds one record batch per partition, and the broker refuses
 * a record batch over `message.max.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE: a group-commit call's outputs
 * (thousands of signals and alerts on a topic of few partitions) would exceed it in one request.
 */
export const MAX_PRODUCE_BYTES = 512 * 1024;

const sizeOfMessage = (m: OutboundMessage) => m.value.length + m.key.length + Object.entries(m.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0) + 64;

/** The outputs cut into requests of at most maxBytes each (a larger message goes alone), in their order. */
export function produceRequests(messages: readonly OutboundMessage[], maxBytes = MAX_PRODUCE_BYTES): OutboundMessage[][] {
  const requests: OutboundMessage[][] = [];
  let current: OutboundMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOfMessage(m);
    if (current.length > 0 && bytes + size > maxBytes) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * A batch's outputs, grouped per topic, acknowledged by all in-sync replicas: one produce request per
 * MAX_PRODUCE_BYTES, one after the other, so a customer's outputs stay in order.
 */
export async function produceAll(producer: Producer, messages: OutboundMessage[]): Promise<void> {
  for (const request of produceRequests(messages)) {
    const byTopic = new Map<string, Message[]>();
    for (const m of request) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value, headers: m.headers });
      byTopic.set(m.topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
    });
  }
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

/** What became of a chunk handed to a group-commit call. */
type ChunkOutcome = 'committed' | 'refused';

interface PendingChunk {
  batch: ConsumedBatch;
  resolve(outcome: ChunkOutcome): void;
  reject(err: unknown): void;
}

export function createBatchConsumer(opts: BatchConsumerOptions): BatchConsumer {
  if (!opts.handleBatch === !opts.handleBatches) throw new Error('createBatchConsumer: give exactly one of handleBatch and handleBatches');
  const grouped = !!opts.handleBatches;
  const maxRecords = opts.maxRecordsPerBatch ?? (grouped ? 20_000 : 1000);
  const maxRecordsPerCall = opts.maxRecordsPerCall ?? 50_000;
  const deadLetterTopic = opts.deadLetterTopic ?? topicNames.deadLetters;
  const now = opts.now ?? Date.now;
  const stats: BatchConsumerStats = { calls: 0, batches: 0, records: 0, ok: 0, dlq: 0, drop: 0, outputs: 0 };
  let consumer: Consumer | undefined;
  let joined = false;
  let crashed: string | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;
  const routing = () => ({ stage: opts.stage ?? opts.groupId, source: opts.groupId, deadLetterTopic, nowMs: now() });
  // Served on /metrics (docs/architecture.md §17); created here, at run time, so they bind to the provider the app registered.
  const meter = metrics.getMeter('touchstream');
  const consumedRecords = meter.createCounter('touchstream.kafka.consumed', { description: 'Records fetched by a consumer group', unit: '{record}' });
  const fetchedBatchSize = meter.createHistogram('touchstream.kafka.batch.size', {
    description: 'Records per fetched batch (one topic-partition)',
    unit: '{record}',
    advice: { explicitBucketBoundaries: [1, 10, 50, 100, 500, 1000, 5000, 20_000] },
  });

  const work = async (batch: ConsumedBatch): Promise<void> => {
    const results = await opts.handleBatch!(batch);
    const outputs = routeResults(batch.records, results, routing(), stats);
    await produceAll(opts.producer, outputs);
    stats.outputs += outputs.length;
    stats.calls++;
    stats.batches++;
    stats.records += batch.records.length;
  };

  const commitOffsetOf = (batch: ConsumedBatch) => ({ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset) + 1n).toString() });
  const warnRefused = (batches: ConsumedBatch[], err: unknown) =>
    opts.log?.warn(
      { groupId: opts.groupId, partitions: batches.map((b) => `${b.topic}:${b.partition}`), err: String(err) },
      'offset commit refused by a rebalance; the batch will be redelivered',
    );

  // Group commit (handleBatches): chunks wait here while a call is in flight; one call at a time, so a record is never
  // worked on while an earlier one of its partition is (each partition has at most one chunk waiting or in flight).
  const pending: PendingChunk[] = [];
  let calling = false;
  let scheduled = false;
  const schedule = () => {
    if (calling || scheduled || pending.length === 0) return;
    scheduled = true;
    // After the current macrotask: kafkajs hands every batch of one fetch to its workers synchronously, so they
    // all reach the queue before the call starts.
    setImmediate(() => {
      scheduled = false;
      void callHandler();
    });
  };
  const callHandler = async () => {
    if (calling || pending.length === 0) return;
    calling = true;
    const taken: PendingChunk[] = [];
    let records = 0;
    while (pending.length > 0 && (taken.length === 0 || records + pending[0]!.batch.records.length <= maxRecordsPerCall)) {
      const next = pending.shift()!;
      taken.push(next);
      records += next.batch.records.length;
    }
    const batches = taken.map((t) => t.batch);
    try {
      const results = await opts.handleBatches!(batches);
      if (results.length !== batches.length) throw new Error(`handler returned ${results.length} result lists for ${batches.length} batches`);
      const route = routing();
      const outputs = batches.flatMap((b, i) => routeResults(b.records, results[i]!, route, stats));
      await produceAll(opts.producer, outputs);
      stats.outputs += outputs.length;
      stats.calls++;
      stats.batches += batches.length;
      stats.records += records;
      let outcome: ChunkOutcome = 'committed';
      try {
        await consumer!.commitOffsets(batches.map(commitOffsetOf));
      } catch (err) {
        if (!isRebalanceRefusal(err)) throw err;
        warnRefused(batches, err);
        outcome = 'refused';
      }
      for (const t of taken) t.resolve(outcome);
    } catch (err) {
      for (const t of taken) t.reject(err);
    } finally {
      calling = false;
      schedule();
    }
  };
  const submit = (batch: ConsumedBatch) =>
    new Promise<ChunkOutcome>((resolve, reject) => {
      pending.push({ batch, resolve, reject });
      schedule();
    });

  return {
    stats,
    async start() {
      await launch();
    },
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
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

  /**
   * A consumer that kafkajs stopped for good (a non-retriable error thrown by a batch: a broker refusing a produce, a
   * bug) is replaced by a new one after a pause, in this process: its partitions come back from the committed
   * offsets, so the batch that failed is tried again. Until then readiness says why it is down.
   */
  function scheduleRestart() {
    if (stopping || restartTimer) return;
    restarts++;
    const delayMs = Math.min(30_000, 1000 * 2 ** Math.min(restarts - 1, 5));
    opts.log?.error({ groupId: opts.groupId, delayMs, restarts }, 'consumer stopped for good by kafkajs; starting a new one');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void (async () => {
        const old = consumer;
        await old?.disconnect().catch(() => undefined);
        if (stopping) return;
        await launch().catch((err: unknown) => {
          crashed = `restart failed: ${err instanceof Error ? err.message : String(err)}`;
          scheduleRestart();
        });
      })();
    }, delayMs);
    restartTimer.unref?.();
  }

  async function launch() {
    consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      // Bounded fetches: a partition's batch is at most ~1 MiB before it is handed to the handler.
      maxBytesPerPartition: 1024 * 1024,
      // Grouped: one fetch feeds one call, so a fetch may bring more partitions' batches at once.
      ...(grouped ? { maxBytes: 32 * 1024 * 1024 } : {}),
      ...(opts.sessionTimeoutMs ? { sessionTimeout: opts.sessionTimeoutMs, heartbeatInterval: Math.max(500, Math.floor(opts.sessionTimeoutMs / 10)) } : {}),
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 10_000 },
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      crashed = undefined;
    });
    const launchedAt = Date.now();
    consumer.on(consumer.events.CRASH, (e) => {
      joined = false;
      // A consumer that worked for a minute after a restart starts the backoff from the beginning again.
      if (Date.now() - launchedAt > 60_000) restarts = 0;
      const { error, restart } = e.payload as { error?: Error; restart?: boolean };
      crashed = String(error?.message ?? 'crashed');
      // kafkajs restarts the consumer only after a retriable error; otherwise this wrapper starts a new one.
      opts.log?.error({ groupId: opts.groupId, err: crashed, restart }, restart ? 'consumer crashed; kafkajs restarts it' : 'consumer crashed and kafkajs stopped it');
      if (!restart) scheduleRestart();
    });
    consumer.on(consumer.events.DISCONNECT, () => {
      joined = false;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Grouped: every partition's batch of a fetch must be in the queue at once to go into one call.
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? (grouped ? 256 : 3),
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const all = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
        const attributes = { 'messaging.consumer.group.name': opts.groupId, 'messaging.destination.name': batch.topic };
        consumedRecords.add(all.length, attributes);
        fetchedBatchSize.record(all.length, attributes);
        for (let i = 0; i < all.length; i += maxRecords) {
          // On rebalance or shutdown, stop before taking more work; what is not committed is redelivered.
          if (!isRunning() || isStale()) return;
          const records = all.slice(i, i + maxRecords);
          const firstOffset = records[0]!.offset;
          const lastOffset = records[records.length - 1]!.offset;
          const chunk: ConsumedBatch = { topic: batch.topic, partition: batch.partition, records, firstOffset, lastOffset, heartbeat };
          if (grouped) {
            // The side effects are done either way; after a refused commit whoever owns the partition after the
            // rebalance gets the batch again and deduplicates it.
            if ((await submit(chunk)) === 'refused') return;
          } else {
            await work(chunk);
            try {
              await consumer!.commitOffsets([commitOffsetOf(chunk)]);
            } catch (err) {
              if (!isRebalanceRefusal(err)) throw err;
              // Returning lets the next heartbeat rejoin instead of crashing the consumer for good.
              warnRefused([chunk], err);
              return;
            }
          }
          resolveOffset(lastOffset);
          await heartbeat();
        }
      },
    });
  }
}

/** Creates and starts a batch consumer (convenience for modules). */
export async function runBatchConsumer(opts: BatchConsumerOptions): Promise<BatchConsumer> {
  const c = createBatchConsumer(opts);
  await c.start();
  return c;
}
