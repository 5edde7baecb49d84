// GET /v1/alerts: recent alerts, newest first, each with the signals that raised it.
import type { FastifyPluginAsync } from 'fastify';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { resolveRange } from '../shared/range.ts';
import { scopeProperties } from '../shared/scope.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { authNote, errorResponses, isoTimestamp, rangeParameter, tags } from '../shared/schemas.ts';
import { microsToIso } from '../shared/time.ts';
import { alertLevels, type AlertLevelName } from '@touchstream/contracts';
import { alertKindNames, queryAlerts, type AlertKind } from './alerts.ts';

/** One alert as every answer shows it (also in the journey's entries). */
export const alertSchema = {
  type: 'object',
  required: ['alert_id', 'customer_id', 'level', 'score', 'score_before', 'at', 'triggered_by', 'signals'],
  properties: {
    alert_id: { type: 'string' },
    customer_id: { type: 'string' },
    level: { type: 'string', enum: [...alertLevels] },
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

const alertsRouteSchema = {
  tags,
  summary: 'Recent alerts, newest first',
  description: `Alerts raised in the range (by the event time of the touchpoint that crossed the level), each with the signals that raised it. With \`channel\` or \`journey\`, a KPI deviation alert is kept when its series is that channel or journey (\`kpi:channel=phone\`), as in the live stream. Default range: the last 24 hours. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      from: rangeParameter('from', 'Start of the range (inclusive). Default: `to` minus 24 hours.'),
      to: rangeParameter('to', 'End of the range (exclusive). Default: now.'),
      level: { type: 'string', enum: [...alertLevels], description: 'Only alerts of this level.' },
      customer_id: { type: 'string', minLength: 1, maxLength: 256, description: "Only this customer's alerts." },
      kind: {
        type: 'string',
        enum: [...alertKindNames],
        description:
          "`customer`: alerts raised by a customer's weak signals. `kpi`: KPI deviation alerts (`triggered_by` `kpi_anomaly`, `customer_id` `kpi:<dimension>=<value>`; " +
          'their figures are in the `kpi_anomaly_detail` signal as JSON). Default: both.',
      },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      ...scopeProperties('Only alerts raised by a touchpoint'),
      ...personaProperty('Only alerts of customers of this persona (KPI deviation alerts, about no customer, are left out)'),
      ...churnRiskProperty('Only alerts of customers in this churn-risk band (KPI deviation alerts, about no customer, are left out)'),
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

export function alertRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Querystring: { from?: string; to?: string; level?: AlertLevelName; customer_id?: string; kind?: AlertKind; limit: number; channel?: string; journey?: string; persona?: string; churn_risk?: ChurnRiskBand } }>(
      '/v1/alerts',
      { schema: alertsRouteSchema, config: { role: 'read' } },
      async (request) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros(deps));
        const personas = personaSqlFor(deps.personas, { persona: request.query.persona });
        const alerts = await queryAlerts(deps.clickhouse, {
          personas,
          fromMicros,
          toMicros,
          level: request.query.level,
          customerId: request.query.customer_id,
          kind: request.query.kind,
          limit: request.query.limit,
          scope: { channel: request.query.channel, journey: request.query.journey, persona: request.query.persona, churnRisk: request.query.churn_risk },
        });
        return { from: microsToIso(fromMicros), to: microsToIso(toMicros), alerts };
      },
    );
  };
}
