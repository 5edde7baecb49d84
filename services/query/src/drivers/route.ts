// GET /v1/drivers: touchpoints, reasons, channels and signals ranked by lift / odds ratio (see drivers.ts).
import type { FastifyPluginAsync } from 'fastify';
import { sendCsv, toCsv, wantsCsv } from '../shared/csv.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { defaultAnalysisRangeMicros, resolveRange } from '../shared/range.ts';
import { scopeProperties } from '../shared/scope.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import { analysisRangeProperties, authNote, errorResponses, formatParameter, name, tags } from '../shared/schemas.ts';
import { builtInOutcomes, driverSortNames, queryDrivers, type DriverSort } from './drivers.ts';

interface DriversQuery {
  outcome: string;
  days: number;
  min_customers: number;
  sort: DriverSort;
  limit: number;
  from?: string;
  to?: string;
  channel?: string;
  persona?: string;
  churn_risk?: ChurnRiskBand;
  journey?: string;
  format?: 'json' | 'csv';
}

const ratioColumns = ['lift', 'lift_ci_low', 'lift_ci_high', 'odds_ratio', 'odds_ratio_ci_low', 'odds_ratio_ci_high'] as const;
const countColumns = ['outcome_with_factor', 'outcome_without_factor', 'no_outcome_with_factor', 'no_outcome_without_factor'] as const;

const driversRouteSchema = {
  tags,
  summary: 'Drivers of an outcome: lift and odds ratio with 95% CIs',
  description:
    `\`outcome\` is one of ${builtInOutcomes.join(', ')} (survey_detractor: NPS ≤ 6, CSAT ≤ 2 or CES ≥ 5; journey_abandoned: an abandoned outcome; alert_raised: an alert in the range) or a touchpoint name such as contract_cancelled. ` +
    'Population: customers with a touchpoint in the range (with `channel` / `journey`: a touchpoint on that channel / of that journey in the range; their factors are still everything they saw). For a customer with the outcome, factors are what they saw in the `days` before their first outcome in the range (not the outcome event itself); ' +
    'for a customer without it, the reference window is the `days` before their last touchpoint in the range (that touchpoint excluded). ' +
    'Factors: touchpoint:<name>, reason:<code>, channel:<name>, signal:<type>, and persona:<name> when personas are configured (the customer\'s persona now, docs/architecture.md §20.6). Per factor a 2×2 table of customers: a = outcome & factor, b = outcome & not factor, c = factor & no outcome, d = neither. ' +
    'Lift = relative risk a/(a+c) ÷ b/(b+d) with a log-RR 95% CI; odds ratio = ad/bc with Woolf’s 95% CI exp(ln OR ± 1.96·√(1/a+1/b+1/c+1/d)). ' +
    'A table with a zero cell is computed with 0.5 added to every cell (Haldane–Anscombe, `corrected: true`). An unknown outcome name gives no outcome customers and no drivers. ' +
    `With \`?format=csv\`: one line per factor. ${authNote}`,
  querystring: {
    type: 'object',
    required: ['outcome'],
    properties: {
      outcome: name('The outcome: a built-in one or a touchpoint name.', 'survey_detractor'),
      ...scopeProperties('Only customers with a touchpoint in the range'),
      ...personaProperty('Only customers of this persona'),
      ...churnRiskProperty('Only customers in this churn-risk band'),
      days: { type: 'integer', minimum: 1, maximum: 90, default: 14, description: 'Days before the outcome (or the reference touchpoint) in which factors count.' },
      min_customers: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 5, description: 'Only factors seen by at least this many customers with the outcome (support a).' },
      sort: { type: 'string', enum: [...driverSortNames], default: 'lift' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
      ...analysisRangeProperties,
      format: formatParameter,
    },
  },
  response: {
    200: {
      description: 'Factors ranked by `sort`, strongest first.',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              outcome: { type: 'string' },
              days: { type: 'number' },
              from: { type: 'string' },
              to: { type: 'string' },
              customers: { type: 'integer' },
              outcome_customers: { type: 'integer' },
              drivers: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    kind: { type: 'string', enum: ['touchpoint', 'reason', 'channel', 'signal', 'persona'] },
                    value: { type: 'string' },
                    ...Object.fromEntries(countColumns.map((c) => [c, { type: 'integer' }])),
                    outcome_rate_with_factor: { type: 'number' },
                    outcome_rate_without_factor: { type: ['number', 'null'] },
                    ...Object.fromEntries(ratioColumns.map((c) => [c, { type: ['number', 'null'] }])),
                    corrected: { type: 'boolean' },
                  },
                },
              },
            },
            examples: [
              {
                outcome: 'survey_detractor', days: 14, from: '2024-05-01T00:00:00.000000Z', to: '2024-06-01T00:00:00.000000Z', customers: 300, outcome_customers: 40,
                drivers: [
                  {
                    kind: 'reason', value: 'billing_dispute', outcome_with_factor: 20, outcome_without_factor: 20, no_outcome_with_factor: 40, no_outcome_without_factor: 220,
                    outcome_rate_with_factor: 0.333333, outcome_rate_without_factor: 0.083333, lift: 4, lift_ci_low: 2.31, lift_ci_high: 6.92,
                    odds_ratio: 5.5, odds_ratio_ci_low: 2.75, odds_ratio_ci_high: 11.0, corrected: false,
                  },
                ],
              },
            ],
          },
        },
        'text/csv': { schema: { type: 'string', description: 'kind,value,a,b,c,d,rates,lift and CI,odds ratio and CI,corrected' } },
      },
    },
    ...errorResponses,
  },
} as const;

export function driverRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: DriversQuery }>('/v1/drivers', { schema: driversRouteSchema, config: { role: 'read' } }, async (request, reply) => {
      const q = request.query;
      const { fromMicros, toMicros } = resolveRange(q, nowMicros(deps), defaultAnalysisRangeMicros);
      const result = await queryDrivers(deps.clickhouse, {
        outcome: q.outcome,
        windowMicros: q.days * 86_400_000_000,
        fromMicros,
        toMicros,
        minCustomers: q.min_customers,
        sort: q.sort,
        limit: q.limit,
        scope: { channel: q.channel, journey: q.journey, persona: q.persona, churnRisk: q.churn_risk },
        // Persona factors whenever personas are configured; the filter needs them.
        personas: deps.personas ? personaSqlFor(deps.personas, { breakdown: true, persona: q.persona }) : personaSqlFor(undefined, { persona: q.persona }),
      });
      if (!wantsCsv(request)) return result;
      const header = ['kind', 'value', ...countColumns, 'outcome_rate_with_factor', 'outcome_rate_without_factor', ...ratioColumns, 'corrected'] as const;
      return sendCsv(reply, toCsv(header, result.drivers.map((d) => header.map((h) => d[h]))));
    });
  };
}
