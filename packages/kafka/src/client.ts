import { context, type Context } from '@opentelemetry/api';
import { Kafka, Partitioners, logLevel, type LogEntry, type Producer, type ProducerBatch, type ProducerRecord, type RecordMetadata } from 'kafkajs';

export interface LogSink {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
  log?: LogSink;
  /** How long to wait for a broker connection before failing a request. */
  connectionTimeoutMs?: number;
}

/** kafkajs's own logs go through the process logger, so there is one log stream. */
function kafkaLogCreator(log?: LogSink) {
  return () => ({ level, log: entry }: LogEntry) => {
    if (!log) return;
    const { message, ...rest } = entry;
    const fields = { component: 'kafkajs', ...rest };
    // kafkajs logs retriable broker answers (coordinator loading, leader moving) as errors and then
    // retries them; what it finally gives up on reaches our code as a thrown error, logged there.
    if (level === logLevel.ERROR || level === logLevel.WARN) log.warn(fields, message);
    else if (level === logLevel.INFO) log.debug(fields, message);
  };
}

export function createKafka(opts: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? 'touchstream',
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(opts.log),
  });
}

/**
 * The idempotent producer: acks from all in-sync replicas are requested per send (acks: -1), retries never
 * duplicate a record, and one request in flight keeps each customer's records in order.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return serializeSends(kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // The murmur2 partitioner of the Java client: the same customer lands on the same partition whichever
    // client produced it.
    createPartitioner: Partitioners.DefaultPartitioner,
    // Retries stay unlimited (kafkajs' idempotent default, so no duplicate on retry); callers bound how
    // long they wait (ingest answers 503 after INGEST_SEND_TIMEOUT_MS).
  }));
}

/** Largest merged produce request (sum of keys and values); one call larger than this goes alone. */
const MAX_MERGED_BYTES = 512 * 1024;

interface QueuedSend {
  batch: ProducerBatch;
  bytes: number;
  /** The caller's OpenTelemetry context: the send's span and the records' trace headers belong to its trace. */
  ctx: Context;
  resolve(metadata: RecordMetadata[]): void;
  reject(err: unknown): void;
}

const sizeOfBatch = (batch: ProducerBatch) =>
  (batch.topicMessages ?? []).reduce(
    (n, t) => n + t.messages.reduce((m, msg) => m + (msg.value?.length ?? 0) + (msg.key?.length ?? 0), 0),
    0,
  );

/**
 * One produce request in flight per producer: concurrent send()/sendBatch() calls queue up and go out in order,
 * the queued ones merged into one sendBatch. Why: kafkajs' idempotent producer numbers each partition's batches
 * when a request is built and only advances the number once it is acknowledged, so concurrent sends to one
 * partition (ingest answering many requests at once, a consumer working on several partitions) desynchronise
 * after a retry — the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER and the producer never writes again (kafkajs
 * issue #598). Found by the chaos and fuzz suites: after a Kafka outage ingest stayed at 503 for good.
 * Merging keeps the throughput that concurrency gave. The price is head-of-line blocking: a send that kafkajs
 * keeps retrying (a partition without a leader) holds up the sends queued behind it, on every topic, until it
 * completes; callers bound how long they wait (ingest's send timeout). Every other method is the producer's own.
 */
export function serializeSends(producer: Producer): Producer {
  const queue: QueuedSend[] = [];
  let busy = false;

  const pump = async (): Promise<void> => {
    if (busy || queue.length === 0) return;
    busy = true;
    const jobs = [queue.shift()!];
    let bytes = jobs[0]!.bytes;
    const { acks, compression } = jobs[0]!.batch;
    const { ctx } = jobs[0]!;
    // Only sends of one trace context are merged (without tracing every context is the root one, so all are):
    // the instrumented send gives all records of one request the trace of the context it runs in.
    while (queue.length > 0 && queue[0]!.ctx === ctx && queue[0]!.batch.acks === acks && queue[0]!.batch.compression === compression && bytes + queue[0]!.bytes <= MAX_MERGED_BYTES) {
      const next = queue.shift()!;
      jobs.push(next);
      bytes += next.bytes;
    }
    try {
      const metadata = await context.with(ctx, () =>
        producer.sendBatch({
          acks,
          compression,
          timeout: Math.max(...jobs.map((j) => j.batch.timeout ?? 30_000)),
          topicMessages: jobs.flatMap((j) => j.batch.topicMessages ?? []),
        }),
      );
      for (const j of jobs) {
        const topics = new Set((j.batch.topicMessages ?? []).map((t) => t.topic));
        j.resolve(metadata.filter((m) => topics.has(m.topicName)));
      }
    } catch (err) {
      for (const j of jobs) j.reject(err);
    } finally {
      busy = false;
      void pump();
    }
  };

  const enqueue = (batch: ProducerBatch) =>
    new Promise<RecordMetadata[]>((resolve, reject) => {
      queue.push({ batch, bytes: sizeOfBatch(batch), ctx: context.active(), resolve, reject });
      void pump();
    });

  // The kafkajs producer is a plain object whose methods close over its state: delegate everything else to it.
  const serialized = Object.create(producer) as Producer;
  serialized.sendBatch = enqueue;
  serialized.send = (record: ProducerRecord) =>
    enqueue({ acks: record.acks, timeout: record.timeout, compression: record.compression, topicMessages: [{ topic: record.topic, messages: record.messages }] });
  return serialized;
}

export interface ProducerConnection {
  connected(): boolean;
  /** Stops listening to the producer's events. */
  dispose(): void;
}

/** Follows a kafkajs producer's connect/disconnect events; starts as not connected. */
export function trackProducerConnection(producer: Producer): ProducerConnection {
  let connected = false;
  const removers = [
    producer.on(producer.events.CONNECT, () => {
      connected = true;
    }),
    producer.on(producer.events.DISCONNECT, () => {
      connected = false;
    }),
  ];
  return {
    connected: () => connected,
    dispose: () => removers.forEach((remove) => remove()),
  };
}
