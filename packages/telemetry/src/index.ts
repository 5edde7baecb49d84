// OpenTelemetry for the touchstream executable: traces and metrics exported over OTLP to any collector
// (Jaeger, Tempo, Grafana Alloy, the OpenTelemetry Collector, …), configured by the standard OTEL_* variables.
//
// Off unless an OTLP endpoint (or an exporter) is configured, so a laptop run costs nothing. Libraries and
// services depend only on @opentelemetry/api (a no-op until this SDK is started), which is the OpenTelemetry
// convention: the executable decides whether and where telemetry goes.
//
// Auto-instrumented: incoming and outgoing HTTP (ingest, query API, webhooks via fetch/undici), kafkajs
// (produce and consume spans and messaging metrics; the trace context travels in Kafka record headers, so a
// processor span links back to the POST that accepted the event), ioredis.
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';

export interface TelemetryOptions {
  /** Default service.name; OTEL_SERVICE_NAME overrides it. */
  serviceName: string;
  serviceVersion: string;
  /** Where OTEL_* settings are read to decide whether to start (the SDK itself reads process.env). */
  env: NodeJS.ProcessEnv;
}

/** The SDK this process started, if any: the executable's shutdown flushes it. */
let started: { shutdown(): Promise<void> } | null = null;

/** Telemetry is on when an exporter destination is configured and the SDK is not disabled. */
export function telemetryEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporterOn = (v: string | undefined) => Boolean(v && v !== 'none');
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT ||
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
      env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ||
      exporterOn(env.OTEL_TRACES_EXPORTER) ||
      exporterOn(env.OTEL_METRICS_EXPORTER),
  );
}

/**
 * For a module preloaded with `node --import`: registers the ES-module import hook (import-in-the-middle, the
 * one OpenTelemetry's instrumentations hook into), then starts the SDK. Without the hook only CommonJS
 * `require` is patched, and kafkajs/ioredis imported from ES modules would go untraced. Returns whether it started.
 */
export async function preloadTelemetry(opts: TelemetryOptions): Promise<boolean> {
  if (started || !telemetryEnabled(opts.env)) return false;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startSdk } = await import('./sdk.ts');
  started = startSdk({ serviceName: opts.env.OTEL_SERVICE_NAME || opts.serviceName, serviceVersion: opts.serviceVersion });
  // The loader thread must know every instrumented module name before the application imports them.
  await waitForAllMessagesAcknowledged();
  return true;
}

/** Flushes and stops the SDK if this process started one (a no-op otherwise). */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = started;
  started = null;
  await sdk?.shutdown();
}

export { PROMETHEUS_CONTENT_TYPE, scrapeMetrics, startMetrics } from './prometheus.ts';
