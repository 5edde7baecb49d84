// GET /v1/attribution: first/last touch, linear, time decay, position-based and Markov credit (see attribution.ts).
import type { FastifyPluginAsync } from 'fastify';
import { sendCsv, toCsv, wantsCsv } from '../shared/csv.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { defaultAnalysisRangeMicros, parseDurationMicros, resolveRange } from '../shared/range.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { scopeProperties } from '../shared/scope.ts';
import { analysisRangeProperties, authNote, durationProperty, errorResponses, formatParameter, name, tags } from '../shared/schemas.ts';
import { attributionByNames, queryAttribution, type AttributionBy } from './attribution.ts';

interface AttributionQuery {
  conversion: string;
  by: AttributionBy;
  lookback: string;
  half_life: string;
  from?: string;
  to?: string;
  channel?: string;
  persona?: string;
  churn_risk?: ChurnRiskBand;
  journey?: string;
  format?: 'json' | 'csv';
}

const creditColumns = ['touches', 'first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'markov', 'removal_effect'] as const;

const attributionRouteSchema = {
  tags,
  summary: 'Attribution of a conversion touchpoint to channels or touchpoints',
  description:
    'Every conversion (an event with touchpoint = `conversion`) in the range has a path: the customer’s other touchpoints in the `lookback` before it and after their previous conversion. ' +
    'Credit per conversion sums to 1 in each model: first_touch, last_touch, linear (1/n each), time_decay (weight 2^(−age/half_life), normalised), position_based (40% first, 40% last, 20% over the middle; 50/50 for two, 100% for one), ' +
    'and markov: a first-order chain over converting paths and non-converting ones (customers with touchpoints in the range but no conversion: their `lookback` up to their last touchpoint), ' +
    '(start) → … → (conversion)|(null); removal_effect = 1 − P(conversion without the state)/P(conversion); conversions with touchpoints are shared in proportion to the removal effects. ' +
    'With `channel` / `journey`, only the touchpoints on that channel / of that journey count (as path steps and as conversions). ' +
    `Conversions with no touchpoint before them are counted in conversions_without_touchpoints and credit nobody. An unknown conversion name gives zero conversions. With \`?format=csv\`: one line per key. ${authNote}`,
  querystring: {
    type: 'object',
    required: ['conversion'],
    properties: {
      conversion: name('Touchpoint that counts as a conversion.', 'order_confirmation_email'),
      by: { type: 'string', enum: [...attributionByNames], default: 'channel', description: 'Credit channels or touchpoints.' },
      lookback: durationProperty('How far before a conversion touchpoints count:', '30d', '30d'),
      half_life: durationProperty('Half-life of the time-decay model:', '7d', '7d'),
      ...analysisRangeProperties,
      ...scopeProperties('Only touchpoints'),
      ...personaProperty('Only the paths of customers of this persona'),
      ...churnRiskProperty('Only the paths of customers in this churn-risk band'),
      format: formatParameter,
    },
  },
  response: {
    200: {
      description: 'Credit per key and model (in conversions).',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              conversion: { type: 'string' },
              by: { type: 'string' },
              from: { type: 'string' },
              to: { type: 'string' },
              lookback_seconds: { type: 'number' },
              half_life_seconds: { type: 'number' },
              conversions: { type: 'integer' },
              conversions_without_touchpoints: { type: 'integer' },
              non_converting_paths: { type: 'integer' },
              conversion_probability: { type: 'number', description: 'P(start → conversion) in the Markov chain.' },
              credits: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { key: { type: 'string' }, ...Object.fromEntries(creditColumns.map((c) => [c, { type: 'number' }])) },
                },
              },
            },
            examples: [
              {
                conversion: 'order_confirmation_email', by: 'channel', from: '2024-05-01T00:00:00.000000Z', to: '2024-06-01T00:00:00.000000Z',
                lookback_seconds: 2592000, half_life_seconds: 604800, conversions: 120, conversions_without_touchpoints: 4, non_converting_paths: 900,
                conversion_probability: 0.114,
                credits: [{ key: 'web', touches: 180, first_touch: 70, last_touch: 90, linear: 81.5, time_decay: 85.2, position_based: 80.1, markov: 77.3, removal_effect: 0.83 }],
              },
            ],
          },
        },
        'text/csv': { schema: { type: 'string', description: 'key,touches,first_touch,last_touch,linear,time_decay,position_based,markov,removal_effect' } },
      },
    },
    ...errorResponses,
  },
} as const;

export function attributionRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AttributionQuery }>('/v1/attribution', { schema: attributionRouteSchema, config: { role: 'read' } }, async (request, reply) => {
      const q = request.query;
      const { fromMicros, toMicros } = resolveRange(q, nowMicros(deps), defaultAnalysisRangeMicros);
      const result = await queryAttribution(deps.clickhouse, {
        conversion: q.conversion,
        by: q.by,
        lookbackMicros: parseDurationMicros('lookback', q.lookback),
        halfLifeMicros: parseDurationMicros('half_life', q.half_life),
        fromMicros,
        toMicros,
        scope: { channel: q.channel, journey: q.journey, persona: q.persona, churnRisk: q.churn_risk },
        personas: personaSqlFor(deps.personas, { persona: q.persona }),
      });
      if (!wantsCsv(request)) return result;
      return sendCsv(reply, toCsv(['key', ...creditColumns], result.credits.map((c) => [c.key, ...creditColumns.map((k) => c[k])])));
    });
  };
}
