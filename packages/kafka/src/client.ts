import { Kafka, logLevel, type LogEntry, type Producer } from 'kafkajs';

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
    if (level === logLevel.ERROR) log.error(fields, message);
    else if (level === logLevel.WARN) log.warn(fields, message);
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
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
  });
}
