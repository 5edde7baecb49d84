// Route schemas: they validate the parameters, serialise the responses and are what /docs shows (OpenAPI).
import { alertLevelNames } from './alerts.ts';
import { errorBodySchema } from './errors.ts';
import { isoParameterHint } from './range.ts';

const tags = ['query'];

const isoTimestamp = (description: string, example = '2024-05-01T12:00:00.123456Z') =>
  ({ type: 'string', description: `${description} ISO-8601, UTC, microsecond precision.`, examples: [example] }) as const;
const nullableNumber = (description: string) => ({ type: ['number', 'null'], description }) as const;
const nullableString = (description: string) => ({ type: ['string', 'null'], description }) as const;

const errorResponses = {
  400: { description: 'A parameter is invalid; `message` says which and why.', ...errorBodySchema },
  401: { description: 'No read key, or the key is not a read key.', ...errorBodySchema },
  500: { description: 'The query failed.', ...errorBodySchema },
} as const;

const authNote = 'Requires a read key: `Authorization: Bearer <key>` (write keys and the admin key are not accepted).';

const rangeParameter = (name: 'from' | 'to', text: string) =>
  ({ type: 'string', minLength: 1, maxLength: 64, description: `${text} Must be ${isoParameterHint}.`, examples: [name === 'from' ? '2024-05-01T00:00:00Z' : '2024-05-02T00:00:00Z'] }) as const;

// --- GET /v1/customers/:customer_id/journey ---------------------------------------------------------------------

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

const alertSchema = {
  type: 'object',
  required: ['alert_id', 'customer_id', 'level', 'score', 'score_before', 'at', 'triggered_by', 'signals'],
  properties: {
    alert_id: { type: 'string' },
    customer_id: { type: 'string' },
    level: { type: 'string', enum: [...alertLevelNames] },
    score: { type: 'number', description: 'Score after the triggering signals.' },
    score_before: { type: 'number' },
    at: isoTimestamp('Event time of the touchpoint that crossed the level.'),
    triggered_by: { type: 'string', description: 'event_id of that touchpoint.' },
    signals: {
      type: 'array',
      description: 'The signals that raised the alert.',
      items: {
        type: 'object',
        required: ['signal_id', 'type', 'weight', 'event_id', 'explanation'],
        properties: {
          signal_id: { type: 'string' },
          type: { type: 'string' },
          weight: { type: 'number' },
          event_id: { type: 'string' },
          explanation: { type: 'string' },
        },
      },
    },
    rules_version: { type: ['string', 'null'] },
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
    level: { type: 'string', enum: ['none', ...alertLevelNames] },
    last_alert_id: { type: ['string', 'null'] },
    last_alert_at: { type: ['string', 'null'] },
    reasons: { type: 'object', additionalProperties: { type: 'number' }, description: 'Contacts per reason code.' },
  },
} as const;

const exampleTouchpoint = {
  event_id: 'evt-7', occurred_at: '2024-05-01T12:01:30.250000Z', received_at: '2024-05-01T12:01:30.300000Z',
  channel: 'phone', touchpoint: 'billing_inquiry_call', initiator: 'customer', journey: 'billing', stage: 'support',
  reason: 'billing_dispute', outcome: 'unresolved', duration_ms: 420000, wait_ms: 95000, sentiment: -0.6,
  survey: null, agent_id: 'agent-9', session_id: null, attributes: {},
};

export const journeyRouteSchema = {
  tags,
  summary: "One customer's journey: timeline with signals and alerts interleaved, and the live score",
  description: `Touchpoints, weak signals and alerts from ClickHouse interleaved newest first in \`entries\` (paged with \`cursor\`; \`timeline\`, \`signals\` and \`alerts\` hold the same page split by kind), combined with the live state and score decayed to now from Redis. ${authNote}`,
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
            last_alert_id: 'alr-1', last_alert_at: '2024-05-01T12:01:30.250000Z', reasons: { billing_dispute: 3 },
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

// --- GET /v1/alerts ---------------------------------------------------------------------------------------------

export const alertsRouteSchema = {
  tags,
  summary: 'Recent alerts, newest first',
  description: `Alerts raised in the range (by the event time of the touchpoint that crossed the level), each with the signals that raised it. Default range: the last 24 hours. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      from: rangeParameter('from', 'Start of the range (inclusive). Default: `to` minus 24 hours.'),
      to: rangeParameter('to', 'End of the range (exclusive). Default: now.'),
      level: { type: 'string', enum: [...alertLevelNames], description: 'Only alerts of this level.' },
      customer_id: { type: 'string', minLength: 1, maxLength: 256, description: "Only this customer's alerts." },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    },
  },
  response: {
    200: {
      description: 'The alerts.',
      type: 'object',
      required: ['from', 'to', 'alerts'],
      properties: {
        from: isoTimestamp('Effective start.'),
        to: isoTimestamp('Effective end, exclusive.'),
        alerts: { type: 'array', items: alertSchema },
      },
      examples: [
        {
          from: '2024-05-01T00:00:00.000000Z',
          to: '2024-05-02T00:00:00.000000Z',
          alerts: [
            {
              alert_id: 'alr-1', customer_id: 'cust-42', level: 'at_risk', score: 3.1, score_before: 1.6,
              at: '2024-05-01T12:01:30.250000Z', triggered_by: 'evt-7', rules_version: '2024-05-01',
              signals: [{ signal_id: 'sig-1', type: 'repeat_contact', weight: 1.5, event_id: 'evt-7', explanation: '3rd contact about billing_dispute in 7 days' }],
            },
          ],
        },
      ],
    },
    ...errorResponses,
  },
} as const;
