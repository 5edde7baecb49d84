import { metrics } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { scrapeMetrics, startMetrics } from './prometheus.ts';

describe('startMetrics and scrapeMetrics', () => {
  it('serves nothing before start; afterwards instruments from @opentelemetry/api appear in the Prometheus text format', async () => {
    expect(await scrapeMetrics()).toBe('');
    expect(startMetrics({ serviceName: 't', serviceVersion: '0' })).toBe(true);
    // Idempotent: a second app in the same process shares the provider.
    expect(startMetrics({ serviceName: 't', serviceVersion: '0' })).toBe(true);
    const meter = metrics.getMeter('touchstream');
    meter.createCounter('touchstream.test.things', { unit: '{thing}' }).add(3, { 'messaging.destination.name': 'a' });
    meter.createHistogram('touchstream.test.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 1] } }).record(0.5);
    const text = await scrapeMetrics();
    expect(text).toContain('# TYPE touchstream_test_things_total counter');
    expect(text).toContain('touchstream_test_things_total{messaging_destination_name="a"} 3');
    expect(text).toContain('touchstream_test_duration_bucket{le="1"} 1');
    // No target_info / scope labels: the scrape's job and instance say which process.
    expect(text).not.toMatch(/target_info|otel_scope_name/);
  });
});
