// GET /v1/kpis: figures per bucket and per period, with the previous period beside each; JSON or CSV.
import type { FastifyPluginAsync } from 'fastify';
import { sendCsv, toCsv, wantsCsv } from '../shared/csv.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { resolveRange } from '../shared/range.ts';
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { authNote, errorResponses, formatParameter, isoTimestamp, jsonOrCsv200, name, nullableNumber, rangeParameter, tags } from '../shared/schemas.ts';
import { scopeProperties } from '../shared/scope.ts';
import { churnRiskBands, type ChurnRiskBand } from './churn-risk.ts';
import {
  defaultFcrDays,
  kpiByNames,
  kpiDimensionNames,
  kpiFigureNames,
  kpiIntervalNames,
  maxFcrDays,
  queryKpis,
  reactionTargetsOf,
  type KpiBy,
  type KpiFigures,
  type KpiInterval,
  type KpiResult,
} from './kpis.ts';

const figureProperties = {
  events: { type: 'integer', description: 'Touchpoints.' },
  unique_customers: { type: 'integer', description: 'Distinct customers (HyperLogLog-style estimate; exact for small counts).' },
  nps: nullableNumber('Net Promoter Score: (promoters (9–10) − detractors (0–6)) / NPS responses × 100, −100…100; null without responses.'),
  nps_responses: { type: 'integer' },
  csat: nullableNumber('Share of CSAT responses scoring 4 or 5, × 100; null without responses.'),
  csat_responses: { type: 'integer' },
  csat_mean: nullableNumber('Mean CSAT score (1–5).'),
  ces_mean: nullableNumber('Mean Customer Effort Score (1–7, lower is better).'),
  ces_responses: { type: 'integer' },
  avg_handling_ms: nullableNumber('Mean duration_ms of the touchpoints that have one.'),
  avg_wait_ms: nullableNumber('Mean wait_ms of the touchpoints that have one.'),
  p90_wait_ms: nullableNumber('90th percentile of wait_ms (exact up to 8,192 values per cell, sampled beyond).'),
  sentiment_mean: nullableNumber('Mean sentiment (−1…1) of the touchpoints that have one.'),
  outcomes: { type: 'integer', description: 'Touchpoints that carry an outcome.' },
  abandonment_rate: nullableNumber('Abandoned outcomes / touchpoints with an outcome, 0…1.'),
  journeys: { type: 'integer', description: 'Journey instances: distinct (customer, journey) pairs with a touchpoint in the cell.' },
  journeys_completed: { type: 'integer', description: 'Journey instances with a `completed` outcome in the cell.' },
  completion_rate: nullableNumber('journeys_completed / journeys, 0…1.'),
  fcr_contacts: { type: 'integer', description: 'Customer-initiated touchpoints with a reason (the FCR denominator).' },
  fcr: nullableNumber(
    'First-contact resolution, 0…1: share of fcr_contacts not followed by another customer-initiated contact of the same customer about the same reason within `fcr_days` days. Contacts younger than that count as resolved so far.',
  ),
  signals: { type: ['integer', 'null'], description: 'Weak signals raised; null for by=initiator (signals carry no initiator).' },
  negative_signal_rate: nullableNumber('Weak signals per 100 touchpoints (can exceed 100: one touchpoint may raise several); null without touchpoints or for by=initiator.'),
  reaction_time_contacts: { type: 'integer', description: 'Touchpoints whose catalogue entry (TOUCHPOINTS_FILE) sets a reaction_time and that carry a wait_ms.' },
  reaction_time_met: { type: 'integer', description: 'Of those, waits no longer than their touchpoint\'s target.' },
  reaction_time_compliance: nullableNumber('reaction_time_met / reaction_time_contacts, 0…1; null without such contacts (or without a catalogue).'),
  reaction_time_p90_ms: nullableNumber('90th percentile (exact, no interpolation) of those contacts\' wait_ms.'),
} as const;

const figureNames = Object.keys(figureProperties);

const kpiFiguresSchema = { type: 'object', required: figureNames, properties: figureProperties } as const;

const exampleFigures = {
  events: 120, unique_customers: 97, nps: 25, nps_responses: 8, csat: 75, csat_responses: 4, csat_mean: 3.75, ces_mean: 3.5,
  ces_responses: 2, avg_handling_ms: 312000, avg_wait_ms: 45000, p90_wait_ms: 120000, sentiment_mean: -0.12, outcomes: 110,
  abandonment_rate: 0.09, journeys: 40, journeys_completed: 31, completion_rate: 0.775, fcr_contacts: 60, fcr: 0.8,
  signals: 14, negative_signal_rate: 11.6667, reaction_time_contacts: 80, reaction_time_met: 68, reaction_time_compliance: 0.85,
  reaction_time_p90_ms: 150000,
};
const examplePrevious = { ...exampleFigures, events: 100, unique_customers: 90, nps: 10, signals: 9, negative_signal_rate: 9 };

const kpiResultSchema = {
  type: 'object',
  required: ['from', 'to', 'interval', 'by', 'fcr_days', 'previous_period', 'totals', 'buckets'],
  properties: {
    from: isoTimestamp('Effective start (aligned to the interval).', '2024-05-01T00:00:00.000000Z'),
    to: isoTimestamp('Effective end, exclusive (aligned to the interval).', '2024-05-02T00:00:00.000000Z'),
    interval: { type: 'string', enum: [...kpiIntervalNames] },
    by: { type: ['string', 'null'], enum: [...kpiByNames, null] },
    fcr_days: { type: 'integer' },
    previous_period: {
      type: 'object',
      description: 'The period compared with: same length, just before.',
      required: ['from', 'to'],
      properties: { from: isoTimestamp('Start.'), to: isoTimestamp('End, exclusive.') },
    },
    totals: {
      type: 'array',
      description: 'The whole period, per key (one entry without `by`), with the previous period beside it.',
      items: {
        type: 'object',
        required: [...figureNames, 'previous'],
        properties: { key: { type: 'string' }, ...figureProperties, previous: kpiFiguresSchema },
      },
    },
    buckets: {
      type: 'array',
      description: 'One entry per bucket (and key, with `by`) that has data, ordered by bucket then key.',
      items: {
        type: 'object',
        required: ['bucket', ...figureNames, 'previous'],
        properties: {
          bucket: isoTimestamp('Start of the bucket.', '2024-05-01T12:00:00.000000Z'),
          key: { type: 'string', description: 'Value of the `by` dimension (empty string: not set on the touchpoints). Present only with `by`.' },
          ...figureProperties,
          previous: { ...kpiFiguresSchema, type: ['object', 'null'], description: 'The bucket one period length earlier; null when it had no data.' },
        },
      },
    },
  },
  examples: [
    {
      from: '2024-05-01T12:00:00.000000Z',
      to: '2024-05-01T13:00:00.000000Z',
      interval: 'hour',
      by: 'channel',
      fcr_days: 7,
      previous_period: { from: '2024-05-01T11:00:00.000000Z', to: '2024-05-01T12:00:00.000000Z' },
      totals: [{ key: 'phone', ...exampleFigures, previous: examplePrevious }],
      buckets: [{ bucket: '2024-05-01T12:00:00.000000Z', key: 'phone', ...exampleFigures, previous: examplePrevious }],
    },
  ],
} as const;

const kpisRouteSchema = {
  tags,
  summary: 'Experience KPIs per period and time bucket, with the previous period',
  description:
    `Volume, unique customers, NPS, CSAT, CES, first-contact resolution, handling and wait times, abandonment, journey completion, sentiment, negative-signal rate and reaction-time compliance against the touchpoint catalogue's targets — for the whole range (\`totals\`) and per minute, hour or day (\`buckets\`, read from the 1-minute, 1-hour or 1-day rollup), optionally split by one dimension. ` +
    `Every figure has the previous period (same length, just before) beside it. The range is widened to whole buckets; default is the last 24 hours. ` +
    `\`channel\`, \`journey\` and \`touchpoint\` filter every figure (touchpoints, signals, FCR contacts, reaction times), in any combination and together with \`by\`: one filter alone, or on the dimension split by, reads that dimension's rows of the per-dimension rollup; other combinations read the rollup that keeps every dimension on each row. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      from: rangeParameter('from', 'Start of the range (inclusive). Default: `to` minus 24 hours.'),
      to: rangeParameter('to', 'End of the range (exclusive). Default: now.'),
      interval: { type: 'string', enum: [...kpiIntervalNames], default: 'hour', description: 'Bucket width; also picks the rollup table read.' },
      by: { type: 'string', enum: [...kpiByNames], description: "Split by this dimension. `persona` (docs/architecture.md §20.6) decides each customer's persona from the personas file now, over the whole range; `churn_risk` splits by the customer's current churn-risk band (low, medium, high, unscored; §22). Both read the raw tables instead of the rollups; `churn_risk` has no FCR or reaction time (the `churn_risk` filter has them)." },
      ...scopeProperties('Only touchpoints (and their signals and contacts)'),
      touchpoint: name('Only touchpoints (and their signals and contacts) of this touchpoint.', 'checkout_page'),
      ...personaProperty('Only touchpoints, signals and contacts of customers of this persona; reads the raw tables'),
      churn_risk: { type: 'string', enum: [...churnRiskBands], description: 'Only customers currently in this churn-risk band (read from the raw tables; every figure, FCR and reaction time included).' },
      fcr_days: { type: 'integer', minimum: 1, maximum: maxFcrDays, default: defaultFcrDays, description: 'FCR window: a repeat contact within this many days means the first was not resolved.' },
      format: formatParameter,
    },
  },
  response: {
    200: jsonOrCsv200(
      'The KPIs.',
      kpiResultSchema,
      'row,bucket,key,events,unique_customers,…,previous_events,…\ntotal,2024-05-01T12:00:00.000000Z,phone,120,97,…,100,…',
    ),
    ...errorResponses,
  },
} as const;

/** Flattens a KPI result into CSV rows: one per total and per bucket, previous-period figures beside each. */
function kpiCsv(result: KpiResult): string {
  const header = ['row', 'bucket', 'key', ...kpiFigureNames, ...kpiFigureNames.map((n) => `previous_${n}`)];
  const figuresOf = (f: KpiFigures | null) => kpiFigureNames.map((n) => (f ? f[n] : null));
  const rows: Array<Array<string | number | null>> = [];
  for (const t of result.totals) rows.push(['total', result.from, t.key ?? '', ...figuresOf(t), ...figuresOf(t.previous)]);
  for (const b of result.buckets) rows.push(['bucket', b.bucket, b.key ?? '', ...figuresOf(b), ...figuresOf(b.previous)]);
  // LF line ends: the KPI CSV has always had them (see toCsv).
  return toCsv(header, rows, '\n');
}

export function kpiRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{
      Querystring: {
        from?: string; to?: string; interval: KpiInterval; by?: KpiBy; churn_risk?: ChurnRiskBand; persona?: string; fcr_days: number; format?: 'json' | 'csv';
        channel?: string; journey?: string; touchpoint?: string;
      };
    }>(
      '/v1/kpis',
      { schema: kpisRouteSchema, config: { role: 'read' } },
      async (request, reply) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros(deps));
        const { interval, by, fcr_days: fcrDays, channel, journey, touchpoint, churn_risk: churnRisk, persona } = request.query;
        const personas = personaSqlFor(deps.personas, { breakdown: by === 'persona', persona });
        const result = await queryKpis(deps.clickhouse, {
          fromMicros, toMicros, interval, by, churnRisk, fcrDays, reactionTargets: reactionTargetsOf(deps.touchpointCatalogue?.current.entries),
          scope: { channel, journey, touchpoint, ...(persona ? { persona } : {}) }, personas,
        });
        if (wantsCsv(request)) return sendCsv(reply, kpiCsv(result), 'kpis.csv');
        return result;
      },
    );
  };
}
