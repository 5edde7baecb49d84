// GET /v1/alerts/stream: alerts as Server-Sent Events, live, filtered, resumable with Last-Event-ID.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Kafka } from 'kafkajs';
import { alertLevelRank, alertLevels } from '@touchstream/contracts';
import type { LogSink } from '@touchstream/kafka';
import { alertKindNames, alertKindOf, type AlertKind } from '../alerts/alerts.ts';
import { ApiError, errorBodySchema, queryErrorHandler } from '../shared/errors.ts';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.ts';
import { replayRange, type AlertStreamHub, type StreamedAlert } from './hub.ts';

export interface AlertStreamRouteOptions {
  hub: AlertStreamHub;
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  /** Comment lines that keep proxies and clients from timing the stream out. */
  heartbeatMs: number;
  /** Alerts waiting for one client before it is dropped as too slow. */
  maxQueuedPerClient: number;
  log: LogSink;
}

export interface StreamFilter {
  minLevel?: string;
  journey?: string;
  channel?: string;
  customerId?: string;
  kind?: AlertKind;
}

export function matchesStreamFilter(a: StreamedAlert['alert'], f: StreamFilter): boolean {
  if (f.minLevel && alertLevelRank(a.level) < alertLevelRank(f.minLevel)) return false;
  if (f.journey && a.journey !== f.journey) return false;
  if (f.channel && a.channel !== f.channel) return false;
  if (f.customerId && a.customer_id !== f.customerId) return false;
  if (f.kind && alertKindOf(a) !== f.kind) return false;
  return true;
}

const exampleId = '0:1042,1:977,2:1013,3:0,4:1200,5:868';
const exampleStream = `retry: 2000

id: ${exampleId}
event: alert
data: {"alert_id":"9f2c41d0a7be4e51b8a3c0d2e6f71a90","customer_id":"c-42","level":"at_risk","score":6.4,"score_before":3.1,"at":"2026-11-23T09:30:00.123456Z","triggered_by":"evt-7","journey":"billing_support","channel":"phone","signals":[{"signal_id":"s-1","type":"repeat_contact","weight":3,"event_id":"evt-7","explanation":"2nd contact about billing_dispute within 7 days (previous 2026-11-21T14:02:11Z)"}],"rules_version":null}

: heartbeat

event: dropped
data: {"reason":"client too slow: more than 1000 alerts waiting","resume_with":"${exampleId}"}
`;

const alertStreamRouteSchema = {
  tags: ['query'],
  summary: 'Live alerts as Server-Sent Events (resumable)',
  description: [
    'A `text/event-stream` of alerts as they are raised (`event: alert`, `data:` the alert as JSON, the same shape as webhook bodies\' `alert`).',
    'Every event has an `id:` — the stream\'s position in Kafka (`<partition>:<offset>,…`). A reconnecting `EventSource` sends it back as `Last-Event-ID` by itself and gets exactly the alerts it missed (any query instance can resume any id); `?last_event_id=` does the same for clients that cannot set headers.',
    'Without an id the stream starts with the next alert. A comment line (`: heartbeat`) comes every 15 seconds.',
    'A client that reads too slowly gets `event: dropped` with the id to resume from, and the stream ends; on shutdown, `event: shutdown`.',
    'Requires a read key (or an analyst-write or admin key): `Authorization: Bearer <key>`, or `?key=<read key>` because browsers\' `EventSource` cannot set headers (prefer the header: URLs end up in proxy logs).',
    `Try it: \`curl -N 'http://127.0.0.1:8080/v1/alerts/stream?min_level=at_risk' -H 'Authorization: Bearer <read key>'\``,
  ].join('\n\n'),
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      min_level: { type: 'string', enum: [...alertLevels], description: 'Only alerts at this level or above (watch < at_risk < critical).' },
      journey: { type: 'string', minLength: 1, maxLength: 256, description: 'Only alerts raised by a touchpoint of this journey.' },
      channel: { type: 'string', minLength: 1, maxLength: 256, description: 'Only alerts raised by a touchpoint on this channel.' },
      customer_id: { type: 'string', minLength: 1, maxLength: 256, description: 'Only this customer\'s alerts.' },
      kind: { type: 'string', enum: [...alertKindNames], description: '`customer`: alerts raised by a customer\'s weak signals; `kpi`: KPI deviation alerts (`triggered_by` `kpi_anomaly`). Default: both.' },
      last_event_id: { type: 'string', maxLength: 4096, description: 'Resume after this event id (the `Last-Event-ID` header wins when both are sent).', examples: [exampleId] },
      key: { type: 'string', description: 'The read key, for clients that cannot send `Authorization` (EventSource).' },
    },
  },
  headers: {
    type: 'object',
    properties: {
      'last-event-id': { type: 'string', description: 'Resume after this event id (sent by EventSource on reconnect).' },
    },
  },
  response: {
    200: {
      description: 'The event stream (never ends by itself).',
      content: { 'text/event-stream': { schema: { type: 'string', examples: [exampleStream] } } },
    },
    400: { description: 'A parameter or the Last-Event-ID is invalid.', ...errorBodySchema },
    401: { description: 'No key, or a key that is not one of ours.', ...errorBodySchema },
    403: { description: 'A known key that is not a read, analyst-write or admin key.', ...errorBodySchema },
  },
} as const;

type StreamRequest = FastifyRequest<{
  Querystring: { min_level?: string; journey?: string; channel?: string; customer_id?: string; kind?: AlertKind; last_event_id?: string; key?: string };
}>;

export function alertStreamPlugin(opts: AlertStreamRouteOptions): FastifyPluginAsync {
  return async function alertStreamRoutes(app) {
    const open = new Set<(event: string, reason: string) => void>();
    app.setErrorHandler(queryErrorHandler);
    // Open streams would keep the server from closing: end them first (clients reconnect elsewhere with their id).
    app.addHook('preClose', async () => {
      for (const end of [...open]) end('shutdown', 'server shutting down; reconnect with Last-Event-ID');
    });

    // No HEAD twin: the handler hijacks the socket to stream, so a HEAD request would hang open (found by test/access.test.ts).
    app.get('/v1/alerts/stream', { schema: alertStreamRouteSchema, config: { role: 'read', keyInQuery: true }, exposeHeadRoute: false }, async (request: StreamRequest, reply: FastifyReply) => {
      const q = request.query;
      const resumeText = (request.headers['last-event-id'] as string | undefined) || q.last_event_id;
      let cursor: Cursor;
      if (resumeText) {
        const decoded = decodeCursor(resumeText);
        if (!decoded) throw new ApiError(400, 'INVALID_PARAMETER', `Last-Event-ID / last_event_id "${resumeText.slice(0, 80)}" is not an id of this stream (expected <partition>:<offset>,…); reconnect without it to start from now`);
        cursor = decoded;
      } else {
        cursor = opts.hub.currentCursor();
      }
      const filter: StreamFilter = { minLevel: q.min_level, journey: q.journey, channel: q.channel, customerId: q.customer_id, kind: q.kind };
      serve(request, reply, cursor, filter, opts, open);
    });
  };
}

function serve(
  request: FastifyRequest,
  reply: FastifyReply,
  cursor: Cursor,
  filter: StreamFilter,
  opts: AlertStreamRouteOptions,
  open: Set<(event: string, reason: string) => void>,
): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>), // CORS headers set by hooks
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx: do not buffer the stream.
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 2000\n\n');

  const queue: StreamedAlert[] = [];
  const sentAlertIds = new RecentIds(RECENT_ALERT_IDS_PER_CLIENT);
  const replaying = new AbortController();
  let closed = false;
  let wake: (() => void) | undefined;
  const lastId = () => encodeCursor(cursor);

  const end = (event: string, reason: string) => {
    if (closed) return;
    closed = true;
    if (!raw.destroyed) raw.end(`event: ${event}\ndata: ${JSON.stringify({ reason, resume_with: lastId() })}\n\n`);
    cleanup();
  };
  const cleanup = () => {
    closed = true;
    clearInterval(heartbeat);
    subscription.unsubscribe();
    replaying.abort();
    open.delete(end);
    wake?.();
  };
  const subscription = opts.hub.subscribe(cursor, {
    offer(item) {
      if (closed) return;
      if (queue.length >= opts.maxQueuedPerClient) {
        end('dropped', `client too slow: more than ${opts.maxQueuedPerClient} alerts waiting`);
        return;
      }
      queue.push(item);
      wake?.();
    },
    close: (reason) => end('shutdown', reason),
  });
  queue.push(...subscription.buffered);
  open.add(end);
  const heartbeat = setInterval(() => {
    if (!closed) raw.write(': heartbeat\n\n');
  }, opts.heartbeatMs);
  raw.on('close', cleanup);

  /** Writes one alert if it passes the filter; resolves when the socket can take more. */
  const send = async (item: StreamedAlert) => {
    if (closed) return;
    if (item.offset < (cursor.get(item.partition) ?? 0)) return; // already sent (or resumed past it)
    cursor.set(item.partition, item.offset + 1);
    if (!matchesStreamFilter(item.alert, filter)) return;
    // alerts.v1 is at-least-once: a processor batch redelivered after a crash or rebalance produces its alerts
    // again (same ids, same bytes, new offsets). A client sees each alert id once.
    if (!sentAlertIds.add(item.alert.alert_id)) return;
    const ok = raw.write(`id: ${lastId()}\nevent: alert\ndata: ${JSON.stringify(item.alert)}\n\n`);
    if (!ok && !closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          raw.off('drain', done);
          raw.off('close', done);
          resolve();
        };
        raw.on('drain', done);
        raw.on('close', done);
      });
    }
  };

  const pump = async () => {
    if (subscription.gaps.size > 0) {
      await replayRange(opts.kafka, opts.topic, opts.groupPrefix, subscription.gaps, send, replaying.signal, opts.log);
    }
    // Live alerts waited in the queue while the gap was read from Kafka.
    while (!closed) {
      const item = queue.shift();
      if (item) {
        await send(item);
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };
  pump().catch((err: unknown) => {
    request.log.error({ err }, 'alert stream failed');
    end('error', 'the stream failed on the server; reconnect with Last-Event-ID');
  });
}

/**
 * How many alert ids each client remembers to skip re-emitted copies. Copies follow the original within one
 * redelivered batch (seconds), so the recent ones suffice; bounded so a long-lived stream keeps bounded memory.
 */
const RECENT_ALERT_IDS_PER_CLIENT = 2_000;

/** A set of the most recent ids, evicting the oldest beyond `capacity`. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}

  /** Adds the id; false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}
