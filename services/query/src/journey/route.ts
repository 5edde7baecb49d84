// GET /v1/customers/:customer_id/journey: one customer's timeline (ClickHouse) with the live state (Redis).
import type { FastifyPluginAsync } from 'fastify';
import { customerLevels } from '@touchstream/contracts';
import { alertSchema } from '../alerts/route.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { errorBodySchema } from '../shared/errors.ts';
import { authNote, errorResponses, isoTimestamp, nullableNumber, nullableString, tags } from '../shared/schemas.ts';
import { queryJourney } from './journey.ts';

const surveySchema = {
  type: ['object', 'null'],
  required: ['kind', 'score', 'comment'],
  properties: {
    kind: { type: 'string', enum: ['NPS', 'CSAT', 'CES'] },
    score: { type: ['integer', 'null'] },
    comment: { type: ['string', 'null'] },
  },
} as const;

const timelineEntrySchema = {
  type: 'object',
  required: ['event_id', 'occurred_at', 'channel', 'touchpoint', 'initiator'],
  properties: {
    event_id: { type: 'string' },
    occurred_at: isoTimestamp('Event time.'),
    received_at: isoTimestamp('When ingest accepted it.'),
    channel: { type: 'string' },
    touchpoint: { type: 'string' },
    initiator: { type: 'string', enum: ['customer', 'company'] },
    journey: nullableString('Journey type.'),
    stage: nullableString('Journey stage.'),
    reason: nullableString('Reason code.'),
    outcome: nullableString('started, completed, failed, abandoned, escalated, transferred, resolved or unresolved.'),
    duration_ms: { type: ['integer', 'null'] },
    wait_ms: { type: ['integer', 'null'] },
    sentiment: nullableNumber('−1…1.'),
    sentiment_source: { type: ['string', 'null'], enum: ['given', 'derived', null], description: 'given: sent with the touchpoint; derived: scored from its text or survey comment (docs/architecture.md §20).' },
    text: nullableString('What the customer said or wrote (chat, email, transcript snippet).'),
    survey: surveySchema,
    agent_id: { type: ['string', 'null'] },
    session_id: { type: ['string', 'null'] },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

const signalSchema = {
  type: 'object',
  required: ['signal_id', 'type', 'weight', 'event_id', 'occurred_at', 'explanation'],
  properties: {
    signal_id: { type: 'string' },
    type: { type: 'string', examples: ['survey_detractor'] },
    weight: { type: 'number' },
    event_id: { type: 'string', description: 'The touchpoint that raised it.' },
    occurred_at: isoTimestamp('Event time of the signal.'),
    channel: { type: ['string', 'null'] },
    touchpoint: { type: ['string', 'null'] },
    journey: { type: ['string', 'null'] },
    stage: { type: ['string', 'null'] },
    explanation: { type: 'string' },
    rules_version: { type: ['string', 'null'] },
  },
} as const;

const reasonStateSchema = {
  type: 'object',
  required: ['streak', 'last_contact_at'],
  properties: {
    streak: {
      type: 'integer',
      description: 'Contacts about the reason in the current streak, each within the repeat_contact window of the one before (1: no repeat so far). As of the latest contact: the next one after the window has passed starts again at 1.',
    },
    last_contact_at: { type: ['string', 'null'], description: 'Event time of the latest contact about the reason. ISO-8601, UTC, microsecond precision.' },
  },
} as const;

const liveStateSchema = {
  type: ['object', 'null'],
  description: 'Live state kept by the processor in Redis (ahead of ClickHouse by the sink lag); null if Redis has none.',
  required: ['events', 'score', 'level'],
  properties: {
    events: { type: 'integer', description: 'Distinct events processed.' },
    first_occurred_at: { type: ['string', 'null'] },
    last_occurred_at: { type: ['string', 'null'] },
    last_event_id: { type: ['string', 'null'] },
    last_channel: { type: ['string', 'null'] },
    last_touchpoint: { type: ['string', 'null'] },
    score: { type: 'number', description: 'Weak-signal score decayed to the time of this request.' },
    score_at_last_update: { type: 'number', description: 'The score as stored at `score_at`.' },
    score_at: { type: ['string', 'null'], description: 'Event time of the last score update.' },
    level: { type: 'string', enum: [...customerLevels] },
    last_alert_id: { type: ['string', 'null'] },
    last_alert_at: { type: ['string', 'null'] },
    reasons: {
      type: 'object',
      additionalProperties: reasonStateSchema,
      description: "Per reason code of the customer's own contacts (customer-initiated touchpoints with a reason): what the processor's repeat_contact rule remembers.",
    },
    churn_risk: {
      type: ['object', 'null'],
      description: "The live churn-risk score (docs/architecture.md §22): the model's probability that the customer churns within its horizon, as of their latest touchpoint, and the rules' band. Null until scored (no model file, or no touchpoint since the model appeared).",
      required: ['score', 'band', 'model_version'],
      properties: {
        score: { type: 'number', minimum: 0, maximum: 1 },
        band: { type: 'string', enum: ['low', 'medium', 'high'] },
        model_version: { type: ['string', 'null'] },
      },
    },
  },
} as const;

const exampleTouchpoint = {
  event_id: 'evt-7', occurred_at: '2024-05-01T12:01:30.250000Z', received_at: '2024-05-01T12:01:30.300000Z',
  channel: 'phone', touchpoint: 'billing_inquiry_call', initiator: 'customer', journey: 'billing', stage: 'support',
  reason: 'billing_dispute', outcome: 'unresolved', duration_ms: 420000, wait_ms: 95000, sentiment: -0.6, sentiment_source: 'derived',
  text: 'This is the third time I am calling about the same bill.',
  survey: null, agent_id: 'agent-9', session_id: null, attributes: {},
};

const journeyRouteSchema = {
  tags,
  summary: "One customer's journey: timeline with signals and alerts interleaved, and the live score",
  description: `Touchpoints, weak signals and alerts from ClickHouse interleaved newest first in \`entries\` (paged with \`cursor\`; \`timeline\`, \`signals\` and \`alerts\` hold the same page split by kind), combined with the live state from Redis: the score decayed to now, the level, and per contact reason the repeat-contact streak and the time of the latest contact. ${authNote}`,
  params: {
    type: 'object',
    required: ['customer_id'],
    properties: { customer_id: { type: 'string', minLength: 1, maxLength: 256, examples: ['cust-42'] } },
  },
  querystring: {
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Entries per page (touchpoints, signals and alerts together).' },
      cursor: { type: 'string', minLength: 1, maxLength: 1024, description: "The previous page's `next_cursor`: continue with the entries older than its last one." },
    },
  },
  response: {
    200: {
      description: 'The journey.',
      type: 'object',
      required: ['customer_id', 'live', 'entries', 'next_cursor', 'timeline', 'signals', 'alerts'],
      properties: {
        customer_id: { type: 'string' },
        live: liveStateSchema,
        entries: {
          type: 'array',
          description: 'Newest first; at the same instant an alert comes before its signal, a signal before its touchpoint. Exactly one of touchpoint, signal, alert is set, as `kind` says.',
          items: {
            type: 'object',
            required: ['kind', 'at'],
            properties: {
              kind: { type: 'string', enum: ['touchpoint', 'signal', 'alert'] },
              at: isoTimestamp('Event time of the entry.'),
              touchpoint: timelineEntrySchema,
              signal: signalSchema,
              alert: alertSchema,
            },
          },
        },
        next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last page.' },
        timeline: { type: 'array', items: timelineEntrySchema, description: "This page's touchpoints." },
        signals: { type: 'array', items: signalSchema, description: "This page's signals." },
        alerts: { type: 'array', items: alertSchema, description: "This page's alerts." },
      },
      examples: [
        {
          customer_id: 'cust-42',
          live: {
            events: 7, first_occurred_at: '2024-05-01T09:12:00.000000Z', last_occurred_at: '2024-05-01T12:01:30.250000Z',
            last_event_id: 'evt-7', last_channel: 'phone', last_touchpoint: 'billing_inquiry_call', score: 2.84,
            score_at_last_update: 3.1, score_at: '2024-05-01T12:01:30.250000Z', level: 'at_risk',
            last_alert_id: 'alr-1', last_alert_at: '2024-05-01T12:01:30.250000Z', reasons: { billing_dispute: { streak: 3, last_contact_at: '2024-05-01T12:01:30.250000Z' } },
            churn_risk: { score: 0.62, band: 'high', model_version: '20241201T090000Z-3f9a1c2e' },
          },
          entries: [
            {
              kind: 'signal', at: '2024-05-01T12:01:30.250000Z',
              signal: {
                signal_id: 'sig-7', type: 'repeat_contact', weight: 3, event_id: 'evt-7', occurred_at: '2024-05-01T12:01:30.250000Z',
                channel: 'phone', touchpoint: 'billing_inquiry_call', journey: 'billing', stage: 'support',
                explanation: '3rd contact about billing_dispute in 7 days', rules_version: '2024-05-01',
              },
            },
            { kind: 'touchpoint', at: '2024-05-01T12:01:30.250000Z', touchpoint: exampleTouchpoint },
          ],
          next_cursor: 'WzE3MTQ1NjQ4OTAyNTAwMDAsMCwiZXZ0LTciXQ',
          timeline: [exampleTouchpoint],
          signals: [],
          alerts: [],
        },
      ],
    },
    404: { description: 'Neither ClickHouse nor Redis knows the customer (code CUSTOMER_NOT_FOUND).', ...errorBodySchema },
    ...errorResponses,
  },
} as const;

export function journeyRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Params: { customer_id: string }; Querystring: { limit: number; cursor?: string } }>(
      '/v1/customers/:customer_id/journey',
      { schema: journeyRouteSchema, config: { role: 'read' } },
      async (request) =>
        queryJourney(deps, { customerId: request.params.customer_id, limit: request.query.limit, cursor: request.query.cursor }, nowMicros(deps)),
    );
  };
}
