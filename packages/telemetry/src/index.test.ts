import { describe, expect, it } from 'vitest';
import { preloadTelemetry, shutdownTelemetry, telemetryEnabled } from './index.ts';

describe('telemetryEnabled', () => {
  it('is off without an OTLP endpoint or exporter, so a plain run exports nothing', () => {
    expect(telemetryEnabled({})).toBe(false);
    expect(telemetryEnabled({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' })).toBe(false);
  });

  it('is on with an endpoint or an exporter, unless the SDK is disabled', () => {
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(telemetryEnabled({ OTEL_METRICS_EXPORTER: 'prometheus' })).toBe(true);
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });
});

describe('preloadTelemetry', () => {
  it('starts nothing when telemetry is off, and shutting down is then a no-op', async () => {
    expect(await preloadTelemetry({ serviceName: 't', serviceVersion: '0', env: {} })).toBe(false);
    await expect(shutdownTelemetry()).resolves.toBeUndefined();
  });
});
