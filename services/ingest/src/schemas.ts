// Route schema of POST /v1/events: what /docs (OpenAPI) shows and how responses are serialised. The body
// schema is documentation only — events are validated one by one in the handler, so one bad event does not
// reject its batch (the route turns Fastify's body validation off).
import { touchpointInputJsonSchema, type TouchpointLimits } from '@touchstream/contracts';

const tags = ['ingest'];

/** 1048576 → `1 MiB`, for messages and docs. */
export function humanBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

const errorProperties = {
  code: { type: 'string', description: 'Stable machine-readable error code.' },
  message: { type: 'string', description: 'What went wrong and how to fix it, for humans.' },
} as const;

const rejectedSchema = {
  type: 'array',
  description: 'One entry per rejected event; each is also kept in the dead-letter topic touchpoints.invalid.v1.',
  items: {
    type: 'object',
    required: ['index', 'errors'],
    properties: {
      index: { type: 'integer', description: 'Position in the request: array index, or NDJSON line number − 1.' },
      errors: { type: 'array', items: { type: 'string' }, description: 'Why the event was rejected, one reason per problem.' },
      code: { type: 'string', enum: ['CUSTOMER_ERASED'], description: 'Present when the event was refused (409) rather than invalid: its customer was erased (ERASED_CUSTOMER_POLICY=refuse); not dead-lettered.' },
    },
  },
} as const;

const batchResultProperties = {
  accepted: { type: 'integer', description: 'Events written to Kafka (acknowledged by all in-sync replicas).' },
  rejected: rejectedSchema,
  event_ids: {
    type: 'array',
    items: { type: 'string' },
    description: 'event_id of each accepted event in request order (derived by the server from the source and the event’s content when the event had none).',
  },
} as const;

const sampleEvent = {
  event_id: '01J9Z3V7K8M2Q4R6T8W0Y2A4C6',
  customer_id: 'cust-42',
  occurred_at: '2026-01-31T09:30:00.123456Z',
  channel: 'ivr',
  touchpoint: 'billing_inquiry_call',
  initiator: 'customer',
  journey: 'billing',
  reason: 'billing_dispute',
  outcome: 'transferred',
  wait_ms: 95000,
};

/** Without event_id: the server derives one from the source and the event's content (the same on a retry). */
const sampleEventWithoutId = {
  customer_id: 'cust-7',
  occurred_at: 1769851800123,
  channel: 'web',
  touchpoint: 'checkout_page',
  initiator: 'customer',
  outcome: 'abandoned',
  attributes: { cart_value: '129.90' },
};

const retryAfterHeader = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying the same request.' },
} as const;

export function ingestRouteSchema(limits: { touchpoint: TouchpointLimits; maxEventsPerRequest: number; maxBodyBytes: number }) {
  const event = touchpointInputJsonSchema(limits.touchpoint);
  return {
    tags,
    summary: 'Post touchpoints (one event, a JSON array, or NDJSON)',
    description: [
      'Writes customer touchpoints to Kafka (`touchpoints.v1`, keyed by `customer_id`). Requires a write key: `Authorization: Bearer <write key>`.',
      `Send one event as a JSON object, up to ${limits.maxEventsPerRequest} events as a JSON array, or NDJSON (\`application/x-ndjson\`, one event per line; blank lines are ignored) — at most ${humanBytes(limits.maxBodyBytes)} per request.`,
      'Every event is validated on its own: valid ones are accepted, invalid ones are listed in `rejected` with their reasons and kept in the dead-letter topic `touchpoints.invalid.v1`. The answer comes only after Kafka has acknowledged the writes.',
      '`event_id` is the idempotency key: set it yourself (UUID/ULID) so that retrying a request after a timeout or 503 is counted once. Without one, the server derives it from the write key’s source and the event’s content (a name-based UUID), so a verbatim retry is counted once too — but two events identical in every field are then one event. `received_at` is always set by the server.',
    ].join('\n\n'),
    body: {
      content: {
        'application/json': {
          schema: {
            description: 'One event, or an array of events.',
            oneOf: [event, { type: 'array', minItems: 1, maxItems: limits.maxEventsPerRequest, items: event }],
            examples: [sampleEvent, [sampleEvent, sampleEventWithoutId]],
          },
        },
        'application/x-ndjson': {
          schema: {
            type: 'string',
            description: 'Newline-delimited JSON: one event object (as in `application/json`) per line; blank lines are ignored. A malformed line rejects only that event.',
            examples: [`${JSON.stringify(sampleEvent)}\n${JSON.stringify({ ...sampleEvent, event_id: '01J9Z3V7K8M2Q4R6T8W0Y2A4C7', touchpoint: 'agent_call' })}\n`],
          },
        },
      },
    },
    response: {
      202: {
        description: 'Accepted: every valid event is in Kafka. Some events may still have been rejected; see `rejected`.',
        type: 'object',
        required: ['accepted', 'rejected', 'event_ids'],
        properties: batchResultProperties,
        examples: [
          {
            accepted: 1,
            rejected: [{ index: 1, errors: ['customer_id: is required', 'initiator: must be one of customer, company'] }],
            event_ids: ['01J9Z3V7K8M2Q4R6T8W0Y2A4C6'],
          },
        ],
      },
      400: {
        description:
          'Nothing accepted: the body is not JSON (`INVALID_JSON`, with the position), it has no events (`EMPTY_BATCH`), or none of its events is valid (`NO_VALID_EVENTS`, with `rejected` as in 202; they are dead-lettered too).',
        type: 'object',
        required: ['code', 'message'],
        properties: {
          ...errorProperties,
          position: { type: 'integer', description: 'INVALID_JSON: character offset where parsing failed.' },
          line: { type: 'integer', description: 'INVALID_JSON: line of `position` (1-based).' },
          column: { type: 'integer', description: 'INVALID_JSON: column of `position` (1-based).' },
          ...batchResultProperties,
        },
        examples: [
          {
            code: 'NO_VALID_EVENTS',
            message: 'none of the 1 events is valid; see rejected',
            accepted: 0,
            rejected: [{ index: 0, errors: ['customer_id: is required'] }],
            event_ids: [],
          },
          {
            code: 'INVALID_JSON',
            message: `the body is not valid JSON: Expected ',' or '}' after property value in JSON at position 24 (line 1 column 25)`,
            position: 24,
            line: 1,
            column: 25,
          },
        ],
      },
      401: {
        description: 'No write key, or a key that is not a write key.',
        type: 'object',
        required: ['code', 'message'],
        properties: errorProperties,
        examples: [{ code: 'UNAUTHORIZED', message: "missing write key: send it as 'Authorization: Bearer <write key>'" }],
      },
      413: {
        description: 'The body is larger than the byte limit (`BODY_TOO_LARGE`) or has more events than allowed (`TOO_MANY_EVENTS`); split it into smaller requests.',
        type: 'object',
        required: ['code', 'message'],
        properties: { ...errorProperties, limit: { type: 'integer', description: 'The limit that was exceeded (bytes or events).' } },
        examples: [{ code: 'TOO_MANY_EVENTS', message: `the request has 1500 events; at most ${limits.maxEventsPerRequest} are accepted per request`, limit: limits.maxEventsPerRequest }],
      },
      409: {
        description: 'Every event of the request is for an erased customer and ERASED_CUSTOMER_POLICY=refuse (`CUSTOMER_ERASED`); in a mixed request the others are accepted (202) and these listed in `rejected` with `code: CUSTOMER_ERASED`.',
        type: 'object',
        required: ['code', 'message'],
        properties: { ...errorProperties, ...batchResultProperties },
      },
      415: {
        description: 'The Content-Type is not one of the accepted ones.',
        type: 'object',
        required: ['code', 'message', 'supported'],
        properties: { ...errorProperties, supported: { type: 'array', items: { type: 'string' } } },
        examples: [{ code: 'UNSUPPORTED_MEDIA_TYPE', message: "content type 'text/plain' is not accepted; send application/json or application/x-ndjson", supported: ['application/json', 'application/x-ndjson', 'application/ndjson'] }],
      },
      503: {
        description: 'Kafka did not acknowledge the writes in time (or cannot be reached). Nothing is confirmed (some events may still land): retry after `Retry-After` seconds with the same events: each is counted once (its event_id, given or derived from its content, is the same). `KAFKA_BACKLOG_FULL` when too much already waits for Kafka (answered at once).',
        type: 'object',
        required: ['code', 'message'],
        properties: errorProperties,
        headers: retryAfterHeader,
        examples: [{ code: 'KAFKA_UNAVAILABLE', message: 'Kafka did not acknowledge the events within 10000 ms; nothing from this request is confirmed. Retry after 5 s: events that carry their own event_id are counted once however often they are sent.' }],
      },
    },
  };
}
