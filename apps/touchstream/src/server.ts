// The process's one HTTP server: health, readiness, OpenAPI docs, and the routes the modules register.
import Fastify, { type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { httpErrorHandler } from '@touchstream/runtime';
import { PROMETHEUS_CONTENT_TYPE, scrapeMetrics } from '@touchstream/telemetry';
import { timingSafeEqual } from 'node:crypto';
import { instrumentHttp } from './metrics.ts';

export interface HttpServerOptions {
  logLevel: string;
  readiness: () => { ready: boolean; modules: Record<string, unknown> };
  version: string;
  /** GET /metrics: off when absent; with a key, only `Authorization: Bearer <key>` may scrape. */
  metrics?: { key?: string };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: opts.logLevel,
      // EventSource clients send the read key as ?key= (they cannot set headers): keep it out of the logs.
      serializers: {
        req: (req) => ({ method: req.method, url: req.url.replace(/([?&]key=)[^&]*/gi, '$1[redacted]'), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort }),
      },
    },
    // Ingest answers 413 itself for bigger bodies; this is only the server-wide ceiling.
    bodyLimit: 64 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });

  app.setErrorHandler(httpErrorHandler);
  // Before any route, so every route's requests are counted.
  if (opts.metrics) instrumentHttp(app);
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}; see /docs` }),
  );

  await app.register(cors, { origin: true, exposedHeaders: ['Retry-After'] });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'touchstream',
        version: opts.version,
        description:
          'Real-time customer-journey analytics. Channels post touchpoints to `/v1/events` with a write key; analysts read KPIs, journeys and alerts with a read key. Authenticate with `Authorization: Bearer <key>`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'ingest', description: 'Touchpoints in (write key)' },
        { name: 'query', description: 'KPIs, journeys and alerts (read key)' },
        { name: 'ops', description: 'Health and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', {
    schema: {
      tags: ['ops'], summary: 'Liveness: the process answers', security: [],
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      tags: ['ops'],
      summary: 'Readiness: 200 when every module of this process runs and can work; 503 otherwise or while draining',
      security: [],
      response: {
        200: { type: 'object', properties: { ready: { type: 'boolean' }, modules: { type: 'object', additionalProperties: true } } },
        503: { type: 'object', properties: { ready: { type: 'boolean' }, modules: { type: 'object', additionalProperties: true } } },
      },
    },
  }, async (_req, reply) => {
    const r = opts.readiness();
    return reply.status(r.ready ? 200 : 503).send(r);
  });

  if (opts.metrics) {
    const key = opts.metrics.key;
    app.get('/metrics', {
      // Public like /healthz: Prometheus scrapes from inside the network. METRICS_KEY closes it (checked here, not by
      // the read/write keys: a scraper's credential should open nothing else).
      config: { role: 'public' },
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics of this process (text exposition format 0.0.4); with METRICS_KEY set, send it as Bearer',
        security: key ? [{ bearer: [] }] : [],
        response: { 200: { type: 'string', description: 'Prometheus text format' }, 401: errorBody },
      },
    }, async (req, reply) => {
      if (key && !sameSecret(req.headers.authorization ?? '', `Bearer ${key}`)) {
        return reply.status(401).send({ code: 'METRICS_KEY_REQUIRED', message: 'send the metrics key as Authorization: Bearer <METRICS_KEY>' });
      }
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await scrapeMetrics());
    });
  }

  app.addSchema({ $id: 'Error', ...errorBody });
  return app;
}
