// GET /v1/heatmap: stage × metric matrix against targets (request parameter, else HEATMAP_TARGETS, else defaults).
import type { FastifyPluginAsync } from 'fastify';
import { scopeProperties } from '../shared/scope.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskBands, churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { defaultFcrDays, maxFcrDays, reactionTargetsOf } from '../kpis/kpis.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { invalidParameter } from '../shared/errors.ts';
import { resolveRange } from '../shared/range.ts';
import { authNote, errorResponses, isoTimestamp, nullableNumber, rangeParameter, tags } from '../shared/schemas.ts';
import { defaultHeatmapTargets, heatmapMetricNames, heatmapRowsNames, parseHeatmapTargets, queryHeatmap, type HeatmapMetric, type HeatmapRows, type HeatmapTargets } from './heatmap.ts';

const directionSchema = { type: 'string', enum: ['higher_is_better', 'lower_is_better'] } as const;

const cellSchema = {
  type: 'object',
  required: ['value', 'target', 'warn', 'direction', 'status'],
  properties: {
    value: nullableNumber('The KPI over the range for this stage (units as in /v1/kpis).'),
    target: { type: 'number', description: 'At or better than this: ok.' },
    warn: { type: 'number', description: 'Between target and this: warn; worse: bad.' },
    direction: directionSchema,
    status: { type: 'string', enum: ['ok', 'warn', 'bad', 'no_data'] },
  },
} as const;

const defaultsText = heatmapMetricNames.map((m) => `${m}:${defaultHeatmapTargets[m].target}:${defaultHeatmapTargets[m].warn}`).join(',');

const heatmapRouteSchema = {
  tags,
  summary: 'Heat map: journey stage × KPI against targets',
  description:
    'For each journey stage (rows, in lifecycle order; "" = touchpoints without a stage) the chosen KPIs over the range, each cell with its target, warn threshold, direction and status. ' +
    `Targets: the \`targets\` parameter, else the server's HEATMAP_TARGETS, else the defaults (${defaultsText}). Default range: the last 24 hours. With \`channel\` / \`journey\` only the touchpoints, signals and contacts on that channel / of that journey count (read from the hourly or daily rollup that keeps every dimension on each row). ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      from: rangeParameter('from', 'Start (inclusive). Default: `to` minus 24 hours.'),
      to: rangeParameter('to', 'End (exclusive). Default: now.'),
      metrics: { type: 'string', maxLength: 1000, description: `Comma list of columns (default all): ${heatmapMetricNames.join(', ')}.`, examples: ['nps,csat,avg_wait_ms,abandonment_rate'] },
      targets: { type: 'string', maxLength: 2000, description: '`metric:target[:warn],…`; without warn the band is 10% of the target on the worse side.', examples: ['nps:40:20,avg_wait_ms:30000:90000'] },
      fcr_days: { type: 'integer', minimum: 1, maximum: maxFcrDays, default: defaultFcrDays },
      ...scopeProperties('Only touchpoints, signals and contacts'),
      ...personaProperty('Only touchpoints, signals and contacts of customers of this persona (read from the raw tables)'),
      ...churnRiskProperty('Only touchpoints, signals and contacts of customers in this churn-risk band (read from the raw tables)'),
      rows: { type: 'string', enum: [...heatmapRowsNames], default: 'stage', description: 'One row per journey stage, per persona (docs/architecture.md §20.6; from the raw tables, in the personas file\'s order), or per churn-risk band (the band of the customer\'s newest score, high to low then unscored; §22; from the raw tables, without FCR and reaction time).' },
    },
  },
  response: {
    200: {
      description: 'The matrix.',
      type: 'object',
      required: ['from', 'to', 'metrics', 'rows'],
      properties: {
        from: isoTimestamp('Effective start.'),
        to: isoTimestamp('Effective end, exclusive.'),
        metrics: {
          type: 'array',
          description: 'The columns in order, with the target each cell is judged against.',
          items: { type: 'object', required: ['metric', 'direction', 'target', 'warn'], properties: { metric: { type: 'string' }, direction: directionSchema, target: { type: 'number' }, warn: { type: 'number' } } },
        },
        rows: {
          type: 'array',
          items: {
            type: 'object',
            required: ['stage', 'events', 'cells'],
            properties: {
              stage: { type: 'string', description: "The row's stage ('' with rows=persona or rows=churn_risk)." },
              persona: { type: 'string', description: "The row's persona (rows=persona only)." },
              churn_risk: { type: 'string', enum: [...churnRiskBands], description: "The row's churn-risk band (rows=churn_risk only)." },
              events: { type: 'integer' },
              cells: { type: 'object', additionalProperties: cellSchema, description: 'Keyed by metric.' },
            },
          },
        },
      },
      examples: [
        {
          from: '2024-05-01T00:00:00.000000Z',
          to: '2024-05-02T00:00:00.000000Z',
          metrics: [
            { metric: 'nps', direction: 'higher_is_better', target: 30, warn: 0 },
            { metric: 'avg_wait_ms', direction: 'lower_is_better', target: 60000, warn: 120000 },
          ],
          rows: [
            {
              stage: 'support',
              events: 1200,
              cells: {
                nps: { value: 12.5, target: 30, warn: 0, direction: 'higher_is_better', status: 'warn' },
                avg_wait_ms: { value: 150000, target: 60000, warn: 120000, direction: 'lower_is_better', status: 'bad' },
              },
            },
          ],
        },
      ],
    },
    ...errorResponses,
  },
} as const;

export function heatmapRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Querystring: { from?: string; to?: string; metrics?: string; targets?: string; fcr_days: number; channel?: string; journey?: string; persona?: string; churn_risk?: ChurnRiskBand; rows: HeatmapRows } }>(
      '/v1/heatmap',
      { schema: heatmapRouteSchema, config: { role: 'read' } },
      async (request) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros(deps));
        let metrics: HeatmapMetric[] = [...heatmapMetricNames];
        if (request.query.metrics !== undefined) {
          const names = request.query.metrics.split(',').map((m) => m.trim()).filter(Boolean);
          const unknown = names.filter((m) => !(heatmapMetricNames as readonly string[]).includes(m));
          if (unknown.length || names.length === 0) {
            throw invalidParameter(`metrics must be a comma list of: ${heatmapMetricNames.join(', ')} (unknown: ${JSON.stringify(unknown.join(','))})`);
          }
          metrics = [...new Set(names)] as HeatmapMetric[];
        }
        let targets: HeatmapTargets = deps.heatmapTargets ?? {};
        if (request.query.targets !== undefined) {
          const parsed = parseHeatmapTargets(request.query.targets);
          if (parsed.problems.length) throw invalidParameter(`targets: ${parsed.problems.join('; ')}`);
          targets = { ...targets, ...parsed.targets };
        }
        const { persona, rows } = request.query;
        const personas = personaSqlFor(deps.personas, { breakdown: rows === 'persona', persona });
        return queryHeatmap(deps.clickhouse, {
          rows, personas,
          fromMicros, toMicros, metrics, targets, fcrDays: request.query.fcr_days, scope: { channel: request.query.channel, journey: request.query.journey, persona, churnRisk: request.query.churn_risk },
          reactionTargets: reactionTargetsOf(deps.touchpointCatalogue?.current.entries),
        });
      },
    );
  };
}
