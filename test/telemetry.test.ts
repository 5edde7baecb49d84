// OpenTelemetry end to end: the real executable, with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP
// receiver (what a collector is), exports one trace that follows an event from its POST through Kafka into the
// processor, and exports metrics. Without the endpoint nothing is exported (checked by the unit tests).
import http from 'node:http';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '@touchstream/testkit';
import { startExecutable, type RunningExecutable } from './executable.test-support.js';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `otel-write-${run}`;
/** No other test file uses this Redis database. */
const REDIS_DB = 12;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

/** What an OTLP collector receives, as JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json). */
const received = { spans: [] as Array<OtlpSpan & { service: string }>, metricNames: new Set<string>() };

function resourceServiceName(resource: { attributes?: Array<{ key: string; value: { stringValue?: string } }> }): string {
  return resource.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
}

const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (req.url === '/v1/traces') {
      for (const rs of body.resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? [])
          for (const span of ss.spans ?? []) received.spans.push({ ...span, service: resourceServiceName(rs.resource ?? {}) });
    } else if (req.url === '/v1/metrics') {
      for (const rm of body.resourceMetrics ?? [])
        for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) received.metricNames.add(m.name);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});

let executable: RunningExecutable | undefined;

afterAll(async () => {
  await executable?.stop();
  receiver.close();
});

describe('OpenTelemetry', () => {
  it('exports one trace from the POST through Kafka to the processor, and metrics, to the OTLP endpoint', async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const otlpPort = (receiver.address() as net.AddressInfo).port;
    executable = await startExecutable({
      name: 'otel',
      redisDb: REDIS_DB,
      env: {
        WRITE_KEYS: `${WRITE_KEY}=otel`,
        READ_KEYS: `otel-read-${run}=analyst`,
        KAFKA_GROUP_PREFIX: `otel-${run}`,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: `touchstream-otel-${run}`,
        // Export quickly so the test does not wait out the default 5 s / 60 s intervals.
        OTEL_BSP_SCHEDULE_DELAY: '200',
        // Its new consumer groups read the shared stack's topics from the start: the backlog other test files left
        // (tens of thousands of records in the full suite) makes a burst of consume spans that overflowed the
        // default 2,048-span export queue, and the queue drops what does not fit — the POST spans among them.
        OTEL_BSP_MAX_QUEUE_SIZE: '200000',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
      },
    });
    const { url, output, waitOptions: opts } = executable;

    // Several POSTs at once: ingest's sends queue behind each other on the one producer (one request in flight),
    // and each must still be traced in its own request's trace.
    const POSTS = 6;
    const statuses = await Promise.all(
      Array.from({ length: POSTS }, async (_, i) => {
        const r = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            customer_id: `otel-${run}-${i}`,
            occurred_at: new Date().toISOString(),
            channel: 'phone',
            touchpoint: 'billing_inquiry_call',
            initiator: 'customer',
            survey: { kind: 'NPS', score: 2 },
          }),
        });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    expect(statuses).toEqual(Array(POSTS).fill(202));

    const service = `touchstream-otel-${run}`;
    const ours = () => received.spans.filter((s) => s.service === service);
    const isPost = (s: OtlpSpan) => s.kind === 2 && s.name.startsWith('POST');
    const spanDump = () => JSON.stringify(ours().map((s) => [s.name, s.kind, s.traceId.slice(0, 8), s.links?.map((l) => l.traceId.slice(0, 8))]));
    // Each POST's server span has the Kafka send that ingest did for it in the same trace, and the processor's
    // per-record span links back to that send: the trace context travelled in the record headers.
    await eventually('each POST traced from ingest to the processor', async () => {
      const posts = ours().filter(isPost);
      if (posts.length < POSTS) return false;
      return posts.every((post) => {
        const send = ours().find((s) => s.name === 'send touchpoints.v1' && s.traceId === post.traceId);
        return send && ours().some((s) => s.name === 'process touchpoints.v1' && s.links?.some((l) => l.spanId === send.spanId && l.traceId === post.traceId));
      });
    }, { ...opts, context: spanDump });
    // The processor's own outputs (the detractor signal) are produced inside the consume span's trace.
    await eventually('the processor sending the signal', async () =>
      ours().some((s) => s.name === 'send signals.v1'),
    opts);

    // Metrics: HTTP server durations and Kafka consumption reach the collector.
    await eventually('HTTP and Kafka metrics', async () =>
      received.metricNames.has('http.server.request.duration') && [...received.metricNames].some((n) => n.startsWith('messaging.')),
    { ...opts, context: () => `metrics so far: ${[...received.metricNames].join(', ')}\n${output.join('').slice(-2000)}` });

    // With the SDK on, GET /metrics reads the same MeterProvider: touchstream's own instruments and the
    // auto-instrumentations' (docs/architecture.md §17; sdk.ts adds the Prometheus reader to the SDK's readers).
    const scrape = await (await fetch(`${url}/metrics`)).text();
    expect(scrape).toMatch(/^touchstream_http_server_duration_count\{/m);
    expect(scrape).toMatch(/^http_server_request_duration_seconds_count\{|^http_server_request_duration_count\{/m);
  }, 300_000);
});
