// The OpenTelemetry SDK and instrumentations, loaded only when telemetry is on (index.ts imports this lazily,
// so a process without an OTLP endpoint does not pay for loading the SDK).
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { markPrometheusAttached, prometheusReader } from './prometheus.ts';

export interface SdkOptions {
  serviceName: string;
  serviceVersion: string;
}

/** Starts the SDK: exporters, sampler and intervals come from the standard OTEL_* variables. */
export function startSdk(opts: SdkOptions): { shutdown(): Promise<void> } {
  // We log with pino to stdout; OTLP logs only when asked for explicitly.
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  // A consumer catching up on a backlog makes a span per record in bursts of thousands; the SDK defaults (queue
  // 2,048, batches of 512 every 5 s) then drop spans, the HTTP ones of the same moment too. A larger queue
  // (bounded: ~16k spans, some tens of MiB at most) exported in larger batches rides such bursts out.
  process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= '16384';
  process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ??= '2048';
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName, [ATTR_SERVICE_VERSION]: opts.serviceVersion }),
    instrumentations: [
      new HttpInstrumentation({
        // Probes would drown the traces that matter.
        ignoreIncomingRequestHook: (req) => req.url === '/healthz' || req.url === '/readyz',
      }),
      new UndiciInstrumentation(),
      new KafkaJsInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  // /metrics reads the same MeterProvider as the OTLP exporter. NodeSDK builds its readers from OTEL_METRICS_EXPORTER
  // in the constructor and takes no extra reader without dropping those (the `metricReaders` option replaces
  // them), so ours joins the list it built; test/metrics.test.ts and test/telemetry.test.ts guard this.
  const config = (sdk as unknown as { _meterProviderConfig?: { readers?: unknown[] } })._meterProviderConfig;
  if (config) {
    config.readers = [...(config.readers ?? []), prometheusReader()];
    markPrometheusAttached();
  }
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
