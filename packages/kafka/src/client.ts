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
export function createIdempotentProducer(kafka: Kafka, log?: LogSink): Producer {
  return serializeSends(() => kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // The murmur2 partitioner of the Java client: the same customer lands on the same partition whichever
    // client produced it.
    createPartitioner: Partitioners.DefaultPartitioner,
    // Retries stay unlimited (kafkajs' idempotent default, so no duplicate on retry); callers bound how
    // long they wait (ingest answers 503 after INGEST_SEND_TIMEOUT_MS).
  }), log);
}

/**
 * Broker answers after which this producer identity (producer id, epoch, sequence numbers) can never write again.
 * kafkajs 2.2.4 moves a partition's sequence number back on ANY failed produce (sendMessages.js), also when the
 * broker wrote the batch but its answer was lost (a broker stopping mid-request): from then on the client is one
 * batch behind and every produce is refused with OUT_OF_ORDER_SEQUENCE_NUMBER (seen in the chaos suite after a
 * broker restart). The other two mean the broker no longer knows the producer's id or epoch.
 */
const fatalProducerErrorTypes = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

export function isFatalProducerError(err: unknown): boolean {
  let e = err as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (typeof e.type === 'string' && fatalProducerErrorTypes.has(e.type)) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
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
 *
 * After a fatal answer (isFatalProducerError) the failed sends are rejected as usual and the kafkajs producer is
 * replaced by a new one from `createProducer` (a new producer id, sequences from 0), connected if the old one was:
 * otherwise the process could never write again. Nothing is duplicated that the design does not already absorb:
 * a record the broker wrote under the old id while its sender got an error is sent again by that sender's retry,
 * and every consumer is idempotent per event id (docs/architecture.md §6). Listeners registered with on() move to the new one.
 */
export function serializeSends(createProducer: () => Producer, log?: LogSink): Producer {
  const queue: QueuedSend[] = [];
  let busy = false;
  let producer = createProducer();
  let connectRequested = false;
  type Listener = { event: Parameters<Producer['on']>[0]; listener: Parameters<Producer['on']>[1]; remove: () => void };
  const listeners = new Set<Listener>();

  const replaceProducer = async (cause: unknown) => {
    const old = producer;
    producer = createProducer();
    // Off the old one first: its DISCONNECT must not reach a listener after the new one's CONNECT.
    for (const l of listeners) {
      l.remove();
      l.remove = producer.on(l.event, l.listener);
    }
    log?.warn({ err: cause instanceof Error ? cause.message : String(cause) }, 'kafka: the producer can no longer write (fatal broker answer); replacing it with a new producer id');
    void old.disconnect().catch(() => {});
    if (connectRequested) {
      await producer.connect().catch((err: unknown) => {
        // The next send fails and is retried by its caller; kafkajs connects on send as well.
        log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'kafka: the new producer could not connect yet');
      });
    }
  };

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
      if (isFatalProducerError(err)) await replaceProducer(err);
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

  const overrides: Partial<Producer> = {
    sendBatch: enqueue,
    send: (record: ProducerRecord) =>
      enqueue({ acks: record.acks, timeout: record.timeout, compression: record.compression, topicMessages: [{ topic: record.topic, messages: record.messages }] }),
    connect: () => {
      connectRequested = true;
      return producer.connect();
    },
    disconnect: () => {
      connectRequested = false;
      return producer.disconnect();
    },
    on: (event, listener) => {
      const entry: Listener = { event, listener, remove: producer.on(event, listener) };
      listeners.add(entry);
      return () => {
        entry.remove();
        listeners.delete(entry);
      };
    },
  };
  // The kafkajs producer is a plain object whose methods close over its state: everything else goes to the
  // current one (events, isIdempotent, logger, transaction…).
  return new Proxy({} as Producer, {
    get: (_target, prop) => (prop in overrides ? overrides[prop as keyof Producer] : (producer as unknown as Record<PropertyKey, unknown>)[prop]),
  });
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
