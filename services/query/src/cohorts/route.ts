// GET /v1/cohorts: retention by first-touch week or month.
import type { FastifyPluginAsync } from 'fastify';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { invalidParameter } from '../shared/errors.ts';
import { parseTimeParameter } from '../shared/range.ts';
import { scopeProperties } from '../shared/scope.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskBands, churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { authNote, errorResponses, rangeParameter, tags } from '../shared/schemas.ts';
import { cohortPeriodNames, queryCohorts, type CohortPeriod } from './cohorts.ts';

const cohortsRouteSchema = {
  tags,
  summary: 'Cohorts: retention by first-touch week or month',
  description:
    "Customers grouped by the week (ISO, from Monday, UTC) or month of their first touchpoint ever; for each cohort the number and share of its customers active (any touchpoint) in each following period that has begun. " +
    `\`from\`/\`to\` select cohorts and are widened to whole periods; default: the last \`periods\` periods up to the current one. ` +
    `With \`channel\` / \`journey\`, first touchpoint and activity count only the touchpoints on that channel / of that journey, read from the raw table (so only as far back as its TTL). ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      period: { type: 'string', enum: [...cohortPeriodNames], default: 'week' },
      from: rangeParameter('from', 'First cohort (its period is included).'),
      to: rangeParameter('to', 'End of the last cohort (exclusive; widened to a whole period).'),
      periods: { type: 'integer', minimum: 1, maximum: 104, default: 12, description: 'Following periods reported per cohort (and default number of cohorts).' },
      ...scopeProperties('Only touchpoints'),
      ...personaProperty('Only customers of this persona'),
      ...churnRiskProperty('Only customers in this churn-risk band'),
      by: { type: 'string', enum: ['persona', 'churn_risk'], description: '`persona`: one row per cohort and persona (the customer\'s persona now, docs/architecture.md §20.6); `churn_risk`: one row per cohort and churn-risk band (the band of the customer\'s newest score, `unscored` without one, §22).' },
    },
  },
  response: {
    200: {
      description: 'One entry per cohort with customers, oldest first.',
      type: 'object',
      required: ['period', 'from', 'to', 'periods', 'cohorts'],
      properties: {
        period: { type: 'string', enum: [...cohortPeriodNames] },
        from: { type: 'string', description: 'First day of the first cohort period (YYYY-MM-DD).' },
        to: { type: 'string', description: 'First day after the last cohort period (YYYY-MM-DD).' },
        periods: { type: 'integer' },
        cohorts: {
          type: 'array',
          items: {
            type: 'object',
            required: ['cohort', 'customers', 'retention'],
            properties: {
              cohort: { type: 'string', description: 'First day of the cohort week or month.' },
              persona: { type: 'string', description: 'With by=persona: the persona of these customers.' },
              churn_risk: { type: 'string', enum: [...churnRiskBands], description: 'With by=churn_risk: the churn-risk band of these customers now.' },
              customers: { type: 'integer', description: 'Customers whose first touchpoint fell in it.' },
              retention: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['period', 'active', 'share'],
                  properties: {
                    period: { type: 'integer', description: '0 = the cohort period itself.' },
                    active: { type: 'integer' },
                    share: { type: 'number', description: 'active / customers, 0…1.' },
                  },
                },
              },
            },
          },
        },
      },
      examples: [
        {
          period: 'week', from: '2024-04-01', to: '2024-04-15', periods: 2,
          cohorts: [
            { cohort: '2024-04-01', customers: 200, retention: [{ period: 0, active: 200, share: 1 }, { period: 1, active: 84, share: 0.42 }, { period: 2, active: 61, share: 0.305 }] },
            { cohort: '2024-04-08', customers: 180, retention: [{ period: 0, active: 180, share: 1 }, { period: 1, active: 70, share: 0.388889 }] },
          ],
        },
      ],
    },
    ...errorResponses,
  },
} as const;

export function cohortRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Querystring: { period: CohortPeriod; from?: string; to?: string; periods: number; channel?: string; journey?: string; persona?: string; churn_risk?: ChurnRiskBand; by?: 'persona' | 'churn_risk' } }>(
      '/v1/cohorts',
      { schema: cohortsRouteSchema, config: { role: 'read' } },
      async (request) => {
        const fromMicros = parseTimeParameter('from', request.query.from);
        const toMicros = parseTimeParameter('to', request.query.to);
        if (fromMicros !== undefined && toMicros !== undefined && fromMicros >= toMicros) {
          throw invalidParameter(`from must be before to (got from=${request.query.from} to=${request.query.to})`);
        }
        return queryCohorts(deps.clickhouse, {
          period: request.query.period,
          fromMs: fromMicros === undefined ? undefined : Math.floor(fromMicros / 1000),
          toMs: toMicros === undefined ? undefined : Math.ceil(toMicros / 1000),
          periods: request.query.periods,
          nowMs: Math.floor(nowMicros(deps) / 1000),
          scope: { channel: request.query.channel, journey: request.query.journey, persona: request.query.persona, churnRisk: request.query.churn_risk },
          byPersona: request.query.by === 'persona',
          byChurnRisk: request.query.by === 'churn_risk',
          personas: personaSqlFor(deps.personas, { breakdown: request.query.by === 'persona', persona: request.query.persona }),
        });
      },
    );
  };
}
