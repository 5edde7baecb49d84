// GET /v1/heatmap/cell: the touchpoints and customers behind a heat-map row (stage), for drill-down.
import type { FastifyPluginAsync } from 'fastify';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { resolveRange } from '../shared/range.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { scopeProperties } from '../shared/scope.ts';
import { authNote, errorResponses, isoTimestamp, rangeParameter, tags } from '../shared/schemas.ts';
import { heatmapMetricNames } from '../heatmap/heatmap.ts';
import { microsToIso } from '../shared/time.ts';
import { queryStageCell } from './cell.ts';

const cellRouteSchema = {
  tags,
  summary: 'Drill-down of a heat-map cell: the touchpoints and customers of a stage',
  description: `The touchpoints (by name and channel, most frequent first) and the customers (most recent first) of one journey stage in the range — what the heat map's row for that stage was computed from. Default range: the last 24 hours. With \`channel\` / \`journey\` (as on the heat map) only the touchpoints on that channel / of that journey. ${authNote}`,
  querystring: {
    type: 'object',
    required: ['stage'],
    properties: {
      from: rangeParameter('from', 'Start (inclusive). Default: `to` minus 24 hours.'),
      to: rangeParameter('to', 'End (exclusive). Default: now.'),
      stage: { type: 'string', maxLength: 256, description: 'The stage of the row ("" for touchpoints without a stage).', examples: ['support'] },
      metric: { type: 'string', enum: [...heatmapMetricNames], description: 'The column clicked; echoed back.' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Rows per list.' },
      ...scopeProperties('Only touchpoints'),
      ...personaProperty('Only touchpoints of customers of this persona'),
      ...churnRiskProperty('Only touchpoints of customers in this churn-risk band'),
    },
  },
  response: {
    200: {
      description: 'The touchpoints and customers.',
      type: 'object',
      required: ['from', 'to', 'stage', 'touchpoints', 'customers'],
      properties: {
        from: isoTimestamp('Effective start.'),
        to: isoTimestamp('Effective end, exclusive.'),
        stage: { type: 'string' },
        metric: { type: ['string', 'null'] },
        touchpoints: {
          type: 'array',
          items: { type: 'object', required: ['touchpoint', 'channel', 'events', 'customers'], properties: { touchpoint: { type: 'string' }, channel: { type: 'string' }, events: { type: 'integer' }, customers: { type: 'integer' } } },
        },
        customers: {
          type: 'array',
          items: { type: 'object', required: ['customer_id', 'events', 'last_at'], properties: { customer_id: { type: 'string' }, events: { type: 'integer' }, last_at: isoTimestamp('Their last touchpoint of the stage in the range.') } },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export function heatmapCellRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Querystring: { from?: string; to?: string; stage: string; metric?: string; limit: number; channel?: string; journey?: string; persona?: string; churn_risk?: ChurnRiskBand } }>(
      '/v1/heatmap/cell',
      { schema: cellRouteSchema, config: { role: 'read' } },
      async (request) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros(deps));
        const cell = await queryStageCell(deps.clickhouse, { fromMicros, toMicros, stage: request.query.stage, limit: request.query.limit, scope: { channel: request.query.channel, journey: request.query.journey, persona: request.query.persona, churnRisk: request.query.churn_risk }, personas: personaSqlFor(deps.personas, { persona: request.query.persona }) });
        return { from: microsToIso(fromMicros), to: microsToIso(toMicros), stage: request.query.stage, metric: request.query.metric ?? null, ...cell };
      },
    );
  };
}
