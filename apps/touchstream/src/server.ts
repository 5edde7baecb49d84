// The process's one HTTP server: health, readiness, OpenAPI docs, and the routes the modules register.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { PROMETHEUS_CONTENT_TYPE, scrapeMetrics } from '@touchstream/telemetry';
import { timingSafeEqual } from 'node:crypto';
import { instrumentHttp } from './metrics.ts';
import { enforceRoles, httpErrorHandler, publicRoutes, type AccessKeys, type Role } from '@touchstream/runtime';

/** Browser origins allowed to call the API cross-origin (docs/architecture.md §15); none by default. */
export interface CorsOrigins {
  /** For `write` routes (ingest): the sites whose browser trackers post events. */
  ingest: string[];
  /** For every other route (query, admin): e.g. a dashboard hosted elsewhere. */
  query: string[];
}

/** Requests per minute and per key (per client address for requests without a key); 0 = no limit. */
export interface RateLimits {
  writePerMinute: number;
  readPerMinute: number;
  anonymousPerMinute: number;
}

export interface HttpServerOptions {
  logLevel: string;
  readiness: () => { ready: boolean; modules: Record<string, unknown> };
  version: string;
  /** GET /metrics: off when absent; with a key, only `Authorization: Bearer <key>` may scrape. */
  metrics?: { key?: string };
  /** The keys of every role (WRITE_KEYS, READ_KEYS, ANALYST_WRITE_KEYS, ADMIN_KEYS). */
  keys: AccessKeys;
  cors?: Partial<CorsOrigins>;
  rateLimits?: Partial<RateLimits>;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const defaultRateLimits: RateLimits = { writePerMinute: 120_000, readPerMinute: 30_000, anonymousPerMinute: 6_000 };

/** The dashboard's policy: scripts, styles and API calls from this origin only; no inline script or style. */
const contentSecurityPolicy = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    imgSrc: ["'self'", 'data:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
  },
};

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

  // CORS first: a browser's preflight carries no key and is answered before the role check.
  await registerCors(app, opts.cors);
  // The one role check, before anything else registers routes (docs/architecture.md §15).
  enforceRoles(app, { keys: opts.keys });
  await registerEdges(app, opts);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'touchstream',
        version: opts.version,
        description:
          'Real-time customer-journey analytics. Channels post touchpoints to `/v1/events` with a write key; analysts read KPIs, journeys and alerts with a read key; annotations need an analyst-write or the admin key, which also read. Authenticate with `Authorization: Bearer <key>` (write keys also as HTTP Basic user with an empty password). No or an unknown key: 401; a key without the route\'s role: 403; over the per-key rate limit: 429 with Retry-After.',
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
  // Swagger UI's own policy (it allows the UI's inline bootstrap by hash) replaces the dashboard's on /docs.
  await app.register(publicRoutes(swaggerUi, { routePrefix: '/docs', staticCSP: true }));

  app.get('/healthz', {
    config: { role: 'public', rateLimit: false },
    schema: {
      tags: ['ops'], summary: 'Liveness: the process answers', security: [],
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config: { role: 'public', rateLimit: false },
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

/** CORS per service: the origins of a route follow its role (write → ingest's, public → none, else query's). */
async function registerCors(app: FastifyInstance, corsOrigins: HttpServerOptions['cors']): Promise<void> {
  const origins: CorsOrigins = { ingest: corsOrigins?.ingest ?? [], query: corsOrigins?.query ?? [] };
  // A preflight (OPTIONS) is answered before any route is matched: it names the method and path it asks for, and
  // the role of the route registered there says which service's origins apply.
  const declared: Array<{ methods: string[]; path: RegExp; role?: Role }> = [];
  app.addHook('onRoute', (route) => {
    const pattern = route.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*');
    declared.push({ methods: [route.method].flat(), path: new RegExp(`^${pattern}$`), role: route.config?.role });
  });
  const roleOf = (method: string, url: string): Role | undefined => {
    const path = url.split('?')[0]!;
    return declared.find((r) => r.methods.includes(method.toUpperCase()) && r.path.test(path))?.role;
  };
  await app.register(cors, {
    delegator: (req, callback) => {
      const preflight = req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] === 'string';
      const role = preflight ? roleOf(req.headers['access-control-request-method'] as string, req.url) : req.routeOptions.config.role;
      const allowed = role === 'write' ? origins.ingest : role === 'public' ? [] : origins.query;
      callback(null, { origin: allowed.length ? allowed : false, exposedHeaders: ['Retry-After'], allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'] });
    },
  });
}

/**
 * Security headers and per-key rate limits. Registered after enforceRoles, so the rate limit (a route-level
 * hook) counts requests by the key the role check resolved.
 */
async function registerEdges(app: FastifyInstance, opts: HttpServerOptions): Promise<void> {
  await app.register(helmet, { contentSecurityPolicy, crossOriginResourcePolicy: { policy: 'same-site' } });

  const limits: RateLimits = { ...defaultRateLimits, ...opts.rateLimits };
  const perMinute = (req: FastifyRequest) => {
    const kind = req.caller?.kind;
    return kind === 'write' ? limits.writePerMinute : kind ? limits.readPerMinute : limits.anonymousPerMinute;
  };
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    max: (req) => perMinute(req) || Number.MAX_SAFE_INTEGER,
    // Per key: every client of one key shares its budget; requests without a key count per address.
    keyGenerator: (req) => (req.caller ? `${req.caller.kind}:${req.caller.name}` : `ip:${req.ip}`),
    errorResponseBuilder: (req, ctx) =>
      Object.assign(new Error(`more than ${ctx.max} requests per minute ${req.caller ? `for this ${req.caller.kind} key` : 'from this address'}; retry after ${ctx.after}`), {
        statusCode: 429,
        code: 'RATE_LIMITED',
      }),
  });
}
