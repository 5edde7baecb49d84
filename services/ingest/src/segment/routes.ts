// Segment-compatible intake (docs/architecture.md §16): POST /v1/batch, /v1/track, /v1/page, /v1/screen and
// /v1/identify with the Segment HTTP API's shapes, so an existing Segment tracker (e.g. @segment/analytics-node
// with `host` set to ingest) writes touchpoints. Registered inside the ingest plugin: the write-key check, content
// types, body limit and error handler are those of POST /v1/events, and so is the path from items to Kafka and
// dead letters. Only the answer differs: Segment clients expect 200 for a batch they need not resend, so a body
// that parsed is answered 200 with the per-message outcome, however many of its messages were rejected.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseJsonText, type BodyItem } from '../body.ts';
import { humanBytes } from '../schemas.ts';
import { parseSegmentBody, type SegmentItem, type SegmentRoute } from './body.ts';
import type { SegmentMapping } from './mapping.ts';

type BatchResult = { accepted: number; rejected: Array<{ index: number; errors: string[] }>; event_ids: string[] };
type ProfileResult = { accepted: number; rejected: Array<{ index: number; errors: string[] }>; profile_ids: string[] };

export interface SegmentRouteDeps {
  mapping: SegmentMapping;
  limits: { maxEventsPerRequest: number; maxBodyBytes: number };
  now: () => number;
  deliverItems: (reply: FastifyReply, items: BodyItem[], source: string, contentType: string, nowMs: number) => Promise<BatchResult | undefined>;
  /** Identify messages as profile updates (docs/architecture.md §20.6), as POST /v1/profiles delivers them. */
  deliverProfiles: (reply: FastifyReply, items: BodyItem[], source: string, contentType: string, nowMs: number) => Promise<ProfileResult | undefined>;
  deadLetterBody: (source: string, reason: string, body: Buffer, contentType: string, nowMs: number) => Promise<void>;
}

const tags = ['ingest (Segment-compatible)'];

const errorProperties = {
  code: { type: 'string', description: 'Stable machine-readable error code.' },
  message: { type: 'string', description: 'What went wrong and how to fix it, for humans.' },
} as const;

const resultProperties = {
  success: { type: 'boolean', description: 'As in Segment’s answer: true when the body was read (per-message outcomes follow).' },
  accepted: { type: 'integer', description: 'Messages written to Kafka as touchpoints (acknowledged by all in-sync replicas).' },
  rejected: {
    type: 'array',
    description: 'One entry per message that did not become a touchpoint; each is kept, as sent, in the dead-letter topic touchpoints.invalid.v1.',
    items: {
      type: 'object',
      required: ['index', 'errors'],
      properties: {
        index: { type: 'integer', description: 'Position in `batch` (0 for the single-message routes).' },
        errors: { type: 'array', items: { type: 'string' }, description: 'Why: `segment: …` for the message itself or the mapping, `<field>: …` for the mapped touchpoint (as on POST /v1/events).' },
      },
    },
  },
  event_ids: { type: 'array', items: { type: 'string' }, description: 'event_id of each accepted message in order: its messageId, or one derived from its content.' },
  profile_ids: { type: 'array', items: { type: 'string' }, description: 'profile_id of each identify accepted as a profile update (its messageId, or derived from its content).' },
} as const;

const sampleTrack = {
  type: 'track',
  event: 'Checkout Started',
  userId: 'cust-42',
  messageId: 'ajs-next-5f1c8f2b0e9d4c7a',
  timestamp: '2026-01-31T09:30:00.123Z',
  properties: { journey: 'purchase', stage: 'checkout', cart_value: 129.9 },
  context: { library: { name: 'analytics.js', version: '2.1.0' }, page: { path: '/checkout' } },
};

function routeSchema(route: SegmentRoute, limits: SegmentRouteDeps['limits']) {
  const message = {
    type: 'object',
    description:
      'A Segment message (common fields: `type`, `userId`, `anonymousId`, `messageId`, `timestamp`, `context`, `integrations`; track: `event`, `properties`; page/screen: `name`, `category`, `properties`; identify: `traits`). Mapped to a touchpoint by the Segment mapping (README “Segment-compatible intake”).',
    additionalProperties: true,
  };
  const body =
    route === 'batch'
      ? {
          type: 'object',
          required: ['batch'],
          properties: {
            batch: { type: 'array', minItems: 1, maxItems: limits.maxEventsPerRequest, items: message },
            context: { type: 'object', additionalProperties: true, description: 'Merged under each message’s own context.' },
            integrations: { type: 'object', additionalProperties: true, description: 'Ignored.' },
            sentAt: { type: 'string', description: 'Ignored (each message’s timestamp is its event time).' },
          },
          examples: [{ batch: [sampleTrack, { type: 'page', name: 'Pricing', anonymousId: 'anon-7', properties: { path: '/pricing' } }] }],
        }
      : { ...message, examples: [route === 'track' ? { ...sampleTrack, type: undefined } : { userId: 'cust-42', name: 'Pricing' }] };
  const summaries: Record<SegmentRoute, string> = {
    batch: 'Segment-compatible: a batch of track/page/screen/identify messages',
    track: 'Segment-compatible: one track message',
    page: 'Segment-compatible: one page view',
    screen: 'Segment-compatible: one screen view',
    identify: 'Segment-compatible: one identify message (see the mapping’s `identify`)',
  };
  const error = (description: string, extra: Record<string, unknown> = {}) => ({ description, type: 'object', required: ['code', 'message'], properties: { ...errorProperties, ...extra } });
  return {
    tags,
    summary: summaries[route],
    description: [
      'The Segment HTTP tracking API’s shape, for Segment trackers pointed at touchstream (`host`). Authenticate with the write key as HTTP Basic user and an empty password (`Authorization: Basic base64("<write key>:")`), as Segment libraries do, as `Authorization: Bearer <write key>`, or — without an Authorization header, as Segment’s browser library does — as `writeKey` in the body. `text/plain` bodies are read as JSON (the browser library sends them so).',
      `Each message is mapped to a touchpoint and validated like a POST /v1/events event; at most ${limits.maxEventsPerRequest} messages and ${humanBytes(limits.maxBodyBytes)} per request. Rejected messages are listed in \`rejected\` and dead-lettered as sent.`,
      '200 whenever the body was read, even if messages were rejected (Segment clients resend a batch that is not answered 2xx, which cannot help a rejected message). 400/413 for a body that cannot be read, 503 (with Retry-After) when Kafka does not acknowledge: resend, each message is counted once by its messageId.',
    ].join('\n\n'),
    body,
    response: {
      200: { description: 'The body was read; every accepted message is in Kafka.', type: 'object', required: ['success', 'accepted', 'rejected', 'event_ids'], properties: resultProperties },
      400: error('The body is not JSON (`INVALID_JSON`), not a Segment body (`INVALID_SEGMENT_BODY`) or empty (`EMPTY_BATCH`). Kept in the dead-letter topic when it is not JSON or not a Segment body.', {
        position: { type: 'integer' },
        line: { type: 'integer' },
        column: { type: 'integer' },
      }),
      401: error('No write key, or a key that is not a write key.'),
      413: error('Larger than the byte limit (`BODY_TOO_LARGE`) or more messages than allowed (`TOO_MANY_EVENTS`).', { limit: { type: 'integer' } }),
      415: error('The Content-Type is neither application/json nor text/plain.', { supported: { type: 'array', items: { type: 'string' } } }),
      503: error('Kafka did not acknowledge in time: resend after Retry-After seconds (messages are counted once by messageId).'),
    },
  };
}

export function segmentRoutes(deps: SegmentRouteDeps): FastifyPluginAsync {
  return async function segmentIntake(app) {
    // Segment's browser library posts JSON as text/plain (no CORS preflight); only these routes read it as JSON.
    app.addContentTypeParser('text/plain', { parseAs: 'buffer', bodyLimit: deps.limits.maxBodyBytes }, (_request, body, done) => {
      done(null, body);
    });
    for (const route of ['batch', 'track', 'page', 'screen', 'identify'] as const) {
      app.post(
        `/v1/${route}`,
        {
          schema: routeSchema(route, deps.limits),
          // Segment's browser library sends no Authorization header but `writeKey` in the body.
          config: { role: 'write', keyInBody: 'writeKey' },
          bodyLimit: deps.limits.maxBodyBytes,
          // Documentation only, as on /v1/events: each message is checked on its own below.
          validatorCompiler: () => () => true,
        },
        async (request, reply) => {
          const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          const body = request.body;
          if (contentType !== 'application/json' && contentType !== 'text/plain') {
            return reply.code(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `the Segment routes take application/json (got '${contentType || 'none'}')`, supported: ['application/json', 'text/plain'] });
          }
          // The write key's name (WRITE_KEYS=<key>=<source>), from the header or the body's writeKey.
          const source = request.caller!.name;
          if (!Buffer.isBuffer(body) || body.length === 0) {
            return reply.code(400).send({ code: 'EMPTY_BATCH', message: `the request has no body; send ${route === 'batch' ? '{"batch": [messages…]}' : `one ${route} message as a JSON object`}` });
          }
          const nowMs = deps.now();
          const parsed = parseSegmentBody(body, { route, mapping: deps.mapping, maxEvents: deps.limits.maxEventsPerRequest, receivedAtMs: nowMs });
          switch (parsed.kind) {
            case 'empty':
              return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'the request contains no messages' });
            case 'too-many-events':
              return reply.code(413).send({ code: 'TOO_MANY_EVENTS', message: `the batch has ${parsed.count} messages; at most ${parsed.limit} are accepted per request (lower flushAt)`, limit: parsed.limit });
            case 'invalid-json': {
              const where = parsed.position !== undefined && !parsed.message.includes('position') ? ` (at position ${parsed.position}, line ${parsed.line} column ${parsed.column})` : '';
              const reason = `the body is not valid JSON${where}: ${parsed.message}`;
              await deps.deadLetterBody(source, reason, body, contentType, nowMs);
              return reply.code(400).send({ code: 'INVALID_JSON', message: reason, ...(parsed.position !== undefined ? { position: parsed.position, line: parsed.line, column: parsed.column } : {}) });
            }
            case 'not-a-batch':
              await deps.deadLetterBody(source, `segment: ${parsed.message}`, body, contentType, nowMs);
              return reply.code(400).send({ code: 'INVALID_SEGMENT_BODY', message: parsed.message });
            case 'items': {
              // Identifies mapped to profiles go to profiles.v1, everything else (touchpoints, rejects) as before.
              const items = parsed.items as SegmentItem[];
              const profiles = items.filter((i) => i.ok && i.profile);
              const others = items.filter((i) => !(i.ok && i.profile));
              const result: BatchResult | undefined = others.length > 0 ? await deps.deliverItems(reply, others, source, contentType, nowMs) : { accepted: 0, rejected: [], event_ids: [] };
              if (!result) return reply;
              const profileResult: ProfileResult | undefined = profiles.length > 0 ? await deps.deliverProfiles(reply, profiles, source, contentType, nowMs) : { accepted: 0, rejected: [], profile_ids: [] };
              if (!profileResult) return reply;
              return reply.code(200).send({
                success: true,
                accepted: result.accepted + profileResult.accepted,
                rejected: [...result.rejected, ...profileResult.rejected].sort((a, b) => a.index - b.index),
                event_ids: result.event_ids,
                profile_ids: profileResult.profile_ids,
              });
            }
          }
        },
      );
    }
  };
}
