// GET /v1/paths: Sankey edges from or to one touchpoint (see paths.ts).
import type { FastifyPluginAsync } from 'fastify';
import { sendCsv, toCsv, wantsCsv } from '../shared/csv.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { invalidParameter } from '../shared/errors.ts';
import { defaultAnalysisRangeMicros, resolveRange } from '../shared/range.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { scopeProperties } from '../shared/scope.ts';
import { analysisRangeProperties, authNote, errorResponses, formatParameter, name, tags } from '../shared/schemas.ts';
import { maxPathDepth, queryPaths } from './paths.ts';

interface PathsQuery {
  start?: string;
  end?: string;
  depth: number;
  top: number;
  from?: string;
  to?: string;
  channel?: string;
  persona?: string;
  churn_risk?: ChurnRiskBand;
  journey?: string;
  format?: 'json' | 'csv';
}

const pathsRouteSchema = {
  tags,
  summary: 'Paths from or to a touchpoint (Sankey)',
  description:
    'Give exactly one of `start` or `end`. Per customer, the touchpoints in the range in time order: from the first occurrence of `start` on (nodes “step 1: start”, “step 2: …”), ' +
    'or up to the last occurrence of `end` (nodes “step 0: end”, “step -1: …”, counting back). Each customer is one path, so edge weights are customers. ' +
    'With `channel` / `journey`, paths are made of the touchpoints on that channel / of that journey only. ' +
    `Per step the \`top\` touchpoints keep their node; the rest merge into “step i: (other)”. With \`?format=csv\`: source,target,customers. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      start: name('Paths beginning at this touchpoint.', 'verification_start_page'),
      end: name('Paths ending at this touchpoint.', 'contract_cancelled'),
      depth: { type: 'integer', minimum: 2, maximum: maxPathDepth, default: 5, description: `Touchpoints per path including the anchor (≤ ${maxPathDepth}).` },
      top: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'Touchpoints kept per step.' },
      ...analysisRangeProperties,
      ...scopeProperties('Paths of the touchpoints'),
      ...personaProperty('Only the paths of customers of this persona'),
      ...churnRiskProperty('Only the paths of customers in this churn-risk band'),
      format: formatParameter,
    },
  },
  response: {
    200: {
      description: 'Nodes and edges for a Sankey diagram.',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              start: { type: ['string', 'null'] },
              end: { type: ['string', 'null'] },
              depth: { type: 'integer' },
              customers: { type: 'integer', description: 'Customers with the anchor touchpoint in the range.' },
              nodes: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, step: { type: 'integer' }, touchpoint: { type: 'string' }, customers: { type: 'integer' } } },
              },
              edges: {
                type: 'array',
                items: { type: 'object', properties: { source: { type: 'string' }, target: { type: 'string' }, customers: { type: 'integer' } } },
              },
            },
            examples: [
              {
                from: '2024-05-01T00:00:00.000000Z', to: '2024-06-01T00:00:00.000000Z', start: 'ivr_menu', end: null, depth: 3, customers: 10,
                nodes: [
                  { name: 'step 1: ivr_menu', step: 1, touchpoint: 'ivr_menu', customers: 10 },
                  { name: 'step 2: agent_call', step: 2, touchpoint: 'agent_call', customers: 7 },
                ],
                edges: [{ source: 'step 1: ivr_menu', target: 'step 2: agent_call', customers: 7 }],
              },
            ],
          },
        },
        'text/csv': { schema: { type: 'string', description: 'source,target,customers' } },
      },
    },
    ...errorResponses,
  },
} as const;

export function pathRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: PathsQuery }>('/v1/paths', { schema: pathsRouteSchema, config: { role: 'read' } }, async (request, reply) => {
      const q = request.query;
      if ((q.start === undefined) === (q.end === undefined)) {
        throw invalidParameter('give exactly one of start (paths from a touchpoint) or end (paths to a touchpoint)');
      }
      const { fromMicros, toMicros } = resolveRange(q, nowMicros(deps), defaultAnalysisRangeMicros);
      const anchor = q.start !== undefined ? { kind: 'start' as const, touchpoint: q.start } : { kind: 'end' as const, touchpoint: q.end! };
      const result = await queryPaths(deps.clickhouse, { anchor, depth: q.depth, top: q.top, fromMicros, toMicros, scope: { channel: q.channel, journey: q.journey, persona: q.persona, churnRisk: q.churn_risk }, personas: personaSqlFor(deps.personas, { persona: q.persona }) });
      if (!wantsCsv(request)) return result;
      return sendCsv(reply, toCsv(['source', 'target', 'customers'], result.edges.map((e) => [e.source, e.target, e.customers])));
    });
  };
}
