// The process's own metrics, served on GET /metrics (docs/architecture.md §17). The instruments are
// OpenTelemetry ones (read by the Prometheus reader of @touchstream/telemetry, and exported over OTLP too when
// that is configured); this file wraps the shared clients the composition root builds, so the services stay
// unaware of metrics: every Kafka produce, Redis command and ClickHouse call of the process goes through them.
// Kafka consumption and consumer lag are measured in @touchstream/kafka (consumer.ts, lag.ts).
import { metrics, type Attributes } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Producer, ProducerBatch, ProducerRecord } from 'kafkajs';
import type { Cluster, Redis } from 'ioredis';
import type { ClickHouseClient } from '@clickhouse/client';
import { topicNames } from '@touchstream/kafka';

/** Buckets in seconds: from a local Redis call (~0.1 ms) to a slow analytical query or a produce retry (10 s+). */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const meter = () => metrics.getMeter('touchstream');

function latencyHistogram(name: string, description: string) {
  return meter().createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S } });
}

/** Times a promise-returning call into `histogram`, with `outcome` ok|error. */
function timed<T>(histogram: ReturnType<typeof latencyHistogram>, attributes: Attributes, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const done = (outcome: string) => histogram.record((performance.now() - started) / 1000, { ...attributes, outcome });
  return call().then(
    (v) => {
      done('ok');
      return v;
    },
    (err: unknown) => {
      done('error');
      throw err;
    },
  );
}

/** Request count and latency per route template (not per URL: ids in paths would make a series each). */
export function instrumentHttp(app: FastifyInstance): void {
  const duration = latencyHistogram('touchstream.http.server.duration', 'HTTP requests answered, by method, route template and status code');
  app.addHook('onResponse', async (req, reply) => {
    duration.record(reply.elapsedTime / 1000, {
      'http.request.method': req.method,
      'http.route': req.routeOptions.url ?? 'unmatched',
      'http.response.status_code': reply.statusCode,
    });
  });
}

/**
 * Records written per topic (after the broker acknowledged them), and the two that operators alert on by name:
 * alerts raised (alerts.v1) and dead letters (touchpoints.invalid.v1 from ingest, deadletters.v1 from consumers).
 */
export function instrumentProducer(producer: Producer): Producer {
  const produced = meter().createCounter('touchstream.kafka.produced', { description: 'Records acknowledged by Kafka, per topic', unit: '{record}' });
  const alertsRaised = meter().createCounter('touchstream.alerts.raised', { description: 'Alerts written to alerts.v1 (raised or changed level)', unit: '{alert}' });
  const deadLetters = meter().createCounter('touchstream.dead_letters', {
    description: 'Records set aside with a reason: rejected at ingest (touchpoints.invalid.v1) or poison in a consumer (deadletters.v1)',
    unit: '{record}',
  });
  const sendDuration = latencyHistogram('touchstream.kafka.produce.duration', 'Produce requests until acknowledged (queueing included)');
  const count = (batch: ProducerBatch) => {
    for (const { topic, messages } of batch.topicMessages ?? []) {
      produced.add(messages.length, { 'messaging.destination.name': topic });
      if (topic === topicNames.alerts) alertsRaised.add(messages.length);
      if (topic === topicNames.deadLetters || topic === topicNames.invalid) deadLetters.add(messages.length, { 'messaging.destination.name': topic });
    }
  };
  const sendBatch = async (batch: ProducerBatch) => {
    const metadata = await timed(sendDuration, {}, () => producer.sendBatch(batch));
    count(batch);
    return metadata;
  };
  const send = async (record: ProducerRecord) => {
    const metadata = await timed(sendDuration, {}, () => producer.send(record));
    count({ topicMessages: [{ topic: record.topic, messages: record.messages }] });
    return metadata;
  };
  return new Proxy(producer, {
    get: (target, prop, receiver) => (prop === 'sendBatch' ? sendBatch : prop === 'send' ? send : Reflect.get(target, prop, receiver)),
  });
}

/** Redis command latency per command name; a MULTI/pipeline is timed as one call (`multi`, `pipeline`). */
export function instrumentRedis(client: Redis | Cluster): void {
  const duration = latencyHistogram('touchstream.redis.duration', 'Redis calls until answered, per command (MULTI/pipeline as one call)');
  // A Cluster routes each command through its own sendCommand (then a node's): wrapping the outer one counts it once.
  const redis = client as Redis;
  const sendCommand = redis.sendCommand.bind(redis);
  // All arguments passed on: a Cluster's sendCommand takes the node as a third one.
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) => {
    const started = performance.now();
    // The command's own promise settles with the reply; a rejection here is observed by the caller too.
    command.promise.then(
      () => duration.record((performance.now() - started) / 1000, { 'db.operation.name': command.name, outcome: 'ok' }),
      () => duration.record((performance.now() - started) / 1000, { 'db.operation.name': command.name, outcome: 'error' }),
    );
    return (sendCommand as (...a: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
  for (const kind of ['multi', 'pipeline'] as const) {
    const create = (redis[kind] as (...args: unknown[]) => ReturnType<Redis['pipeline']>).bind(redis);
    (redis as unknown as Record<string, unknown>)[kind] = (...args: unknown[]) => {
      const pipeline = create(...args);
      const exec = pipeline.exec.bind(pipeline);
      pipeline.exec = ((...execArgs: unknown[]) => timed(duration, { 'db.operation.name': kind }, () => (exec as (...a: unknown[]) => Promise<unknown>)(...execArgs))) as typeof pipeline.exec;
      return pipeline;
    };
  }
}

/** ClickHouse call latency per operation (query: until the result starts streaming; insert, command, exec). */
export function instrumentClickHouse(client: ClickHouseClient): void {
  const duration = latencyHistogram('touchstream.clickhouse.duration', 'ClickHouse calls until answered, per operation');
  for (const op of ['query', 'insert', 'command', 'exec'] as const) {
    const call = (client[op] as (p: unknown) => Promise<unknown>).bind(client);
    // An own property in front of the prototype's method: callers keep the same client object.
    (client as unknown as Record<string, unknown>)[op] = (params: { query?: string }) => {
      // The sink inserts with exec (INSERT … FORMAT JSONEachRow over a stream): counted as the insert it is.
      const name = op === 'exec' && /^\s*INSERT\b/i.test(params.query ?? '') ? 'insert' : op;
      return timed(duration, { 'db.operation.name': name }, () => call(params));
    };
  }
}
