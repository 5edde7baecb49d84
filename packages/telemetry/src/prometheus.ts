// The Prometheus exposition of this process's OpenTelemetry metrics, for the app's own `GET /metrics` route
// (docs/architecture.md §17). One metrics library: the instruments the code creates with @opentelemetry/api
// (and, when the OTLP SDK runs, the auto-instrumentations' ones) are read by an OTel PrometheusExporter used as
// a pull MetricReader — without its own HTTP server — and serialised on request.
//
// Two ways it gets attached, whichever comes first:
//   - the OTLP SDK (preloadTelemetry, sdk.ts) adds this reader next to its OTLP one, so /metrics and the
//     collector see the same instruments;
//   - otherwise startMetrics() (called by the app before it creates any instrument) registers a bare
//     MeterProvider with only this reader as the global one. Metrics are thus on by default, with no exporter
//     variable set.
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

let reader: PrometheusExporter | undefined;
let attached = false;
let ownProvider: MeterProvider | undefined;
// target_info and otel_scope_* labels add nothing a scrape's job/instance labels don't say, and cost a series each.
const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

/** The process's one Prometheus reader (created on first use, never starts a server). */
export function prometheusReader(): PrometheusExporter {
  reader ??= new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true });
  return reader;
}

/** Called by the SDK when it registered the reader with its own MeterProvider. */
export function markPrometheusAttached(): void {
  attached = true;
}

/**
 * Makes sure instruments created from now on are read by /metrics: a no-op when the SDK already attached the
 * reader; else registers a MeterProvider with it as the global one. Idempotent. Returns false when another
 * MeterProvider was registered globally first (not by us): /metrics then stays empty, and the caller says so.
 */
export function startMetrics(opts: { serviceName: string; serviceVersion: string }): boolean {
  if (attached || ownProvider) return attached;
  ownProvider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName, [ATTR_SERVICE_VERSION]: opts.serviceVersion }),
    readers: [prometheusReader()],
  });
  attached = metrics.setGlobalMeterProvider(ownProvider);
  return attached;
}

/** The Prometheus text exposition (version 0.0.4) of every instrument read by this process. */
export async function scrapeMetrics(): Promise<string> {
  if (!attached && !ownProvider) return '';
  // Errors are per observable callback (one failing gauge); the other instruments are still served.
  const { resourceMetrics } = await prometheusReader().collect();
  return serializer.serialize(resourceMetrics);
}

/** The content type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
