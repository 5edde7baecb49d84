import { Kafka, Partitioners, logLevel, type LogEntry, type Producer } from 'kafkajs';

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
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // The murmur2 partitioner of the Java client: the same customer lands on the same partition whichever
    // client produced it.
    createPartitioner: Partitioners.DefaultPartitioner,
    // Retries stay unlimited (kafkajs' idempotent default, so no duplicate on retry); callers bound how
    // long they wait (ingest answers 503 after INGEST_SEND_TIMEOUT_MS).
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
