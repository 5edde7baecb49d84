// GET /v1/touchpoints: the touchpoint inventory (catalogue merged with the data, reaction-time compliance).
import type { FastifyPluginAsync } from 'fastify';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { defaultAnalysisRangeMicros, parseDurationMicros, resolveRange } from '../shared/range.ts';
import { analysisRangeProperties, authNote, durationProperty, errorResponses, isoTimestamp, nullableNumber, nullableString, tags } from '../shared/schemas.ts';
import { defaultMinSample, evaluationMetricNames, queryEvaluation } from './evaluation.ts';
import { queryInventory } from './inventory.ts';

const nullableInteger = (description: string) => ({ type: ['integer', 'null'], description }) as const;

const entrySchema = {
  type: 'object',
  required: ['touchpoint', 'catalogued', 'events', 'customers', 'channels_seen', 'reaction_time', 'flags'],
  properties: {
    touchpoint: { type: 'string' },
    catalogued: { type: 'boolean', description: 'In the catalogue (TOUCHPOINTS_FILE).' },
    channel: nullableString('Catalogued channel.'),
    stage: nullableString('Catalogued journey stage.'),
    owner: nullableString('Team or person accountable for it.'),
    layer: { type: ['string', 'null'], enum: ['front_stage', 'back_office', null], description: 'front_stage: the customer sees it; back_office: work done for them out of sight.' },
    description: nullableString('What it is.'),
    journey: nullableString('Catalogued journey, if the catalogue ties it to one.'),
    events: { type: 'integer', description: 'Touchpoints in the range.' },
    customers: { type: 'integer', description: 'Distinct customers in the range.' },
    first_seen: { ...isoTimestamp('First occurrence in the range.'), type: ['string', 'null'] },
    last_seen: { ...isoTimestamp('Last occurrence in the range.'), type: ['string', 'null'] },
    channels_seen: { type: 'array', items: { type: 'string' }, description: 'Channels it occurred on in the range.' },
    reaction_time: {
      type: 'object',
      required: ['target_ms', 'measured', 'met', 'share_met', 'p90_ms', 'share_met_previous', 'trend'],
      properties: {
        target_ms: nullableInteger('Catalogued reaction-time target (compared with wait_ms).'),
        measured: { type: 'integer', description: 'Touchpoints with a wait_ms.' },
        met: nullableInteger('Of those, waits ≤ the target (null without a target).'),
        share_met: nullableNumber('met / measured, 0…1.'),
        p90_ms: nullableNumber('90th percentile of wait_ms (exact).'),
        share_met_previous: nullableNumber('share_met over the range of the same length just before.'),
        trend: nullableNumber('share_met − share_met_previous: > 0 improving, < 0 worsening.'),
      },
    },
    flags: {
      type: 'array',
      items: { type: 'string', enum: ['uncatalogued', 'no_traffic', 'channel_mismatch'] },
      description: 'uncatalogued: seen in the data, missing from the catalogue; no_traffic: catalogued, not seen in the range; channel_mismatch: seen, never on its catalogued channel.',
    },
  },
} as const;

const touchpointsRouteSchema = {
  tags,
  summary: 'Touchpoint inventory: the catalogue merged with the data, with reaction-time compliance',
  description:
    'Every touchpoint of the catalogue (`TOUCHPOINTS_FILE`, reloaded on change) and every touchpoint seen in the range, with its catalogue entry (channel, stage, owner, front stage or back office, description, reaction-time target), ' +
    'volume, customers, first and last seen, channels seen on, and the share of its waits within the target with the p90 wait and the change since the range of the same length before. Flags touchpoints missing from the catalogue, catalogued ones without traffic, and ones never seen on their catalogued channel. ' +
    `Default range: the last 30 days. ${authNote}`,
  querystring: { type: 'object', properties: { ...analysisRangeProperties } },
  response: {
    200: {
      description: 'The inventory, by touchpoint name.',
      type: 'object',
      required: ['from', 'to', 'catalogue', 'summary', 'touchpoints'],
      properties: {
        from: isoTimestamp('Start of the range.'),
        to: isoTimestamp('End of the range (exclusive).'),
        catalogue: {
          type: ['object', 'null'],
          required: ['file', 'version'],
          properties: { file: { type: 'string' }, version: { type: 'string', description: '<version>+<content hash>.' } },
          description: 'The catalogue in force; null when none is configured (every touchpoint is then uncatalogued).',
        },
        summary: {
          type: 'object',
          required: ['catalogued', 'seen', 'uncatalogued', 'no_traffic', 'channel_mismatch'],
          properties: {
            catalogued: { type: 'integer' },
            seen: { type: 'integer' },
            uncatalogued: { type: 'integer' },
            no_traffic: { type: 'integer' },
            channel_mismatch: { type: 'integer' },
          },
        },
        touchpoints: { type: 'array', items: entrySchema },
      },
      examples: [
        {
          from: '2024-05-01T00:00:00.000000Z', to: '2024-05-31T00:00:00.000000Z', catalogue: { file: 'touchpoints/demo.yaml', version: 'demo-1+3f2a9c1e' },
          summary: { catalogued: 2, seen: 2, uncatalogued: 1, no_traffic: 1, channel_mismatch: 0 },
          touchpoints: [
            {
              touchpoint: 'billing_inquiry_call', catalogued: true, channel: 'phone', stage: 'support', owner: 'Billing care', layer: 'front_stage',
              description: 'Customer calls about a bill.', journey: 'billing_support', events: 1200, customers: 800,
              first_seen: '2024-05-01T08:02:11.000000Z', last_seen: '2024-05-30T19:40:00.000000Z', channels_seen: ['phone'],
              reaction_time: { target_ms: 120000, measured: 1200, met: 1020, share_met: 0.85, p90_ms: 310000, share_met_previous: 0.8, trend: 0.05 }, flags: [],
            },
            {
              touchpoint: 'callback_request', catalogued: true, channel: 'web', stage: 'support', owner: 'Billing care', layer: 'front_stage',
              description: 'Customer asks to be called back.', journey: null, events: 0, customers: 0, first_seen: null, last_seen: null, channels_seen: [],
              reaction_time: { target_ms: 3600000, measured: 0, met: 0, share_met: null, p90_ms: null, share_met_previous: null, trend: null }, flags: ['no_traffic'],
            },
            {
              touchpoint: 'promo_banner', catalogued: false, channel: null, stage: null, owner: null, layer: null, description: null, journey: null,
              events: 40, customers: 38, first_seen: '2024-05-20T10:00:00.000000Z', last_seen: '2024-05-21T10:00:00.000000Z', channels_seen: ['web'],
              reaction_time: { target_ms: null, measured: 0, met: null, share_met: null, p90_ms: null, share_met_previous: null, trend: null }, flags: ['uncatalogued'],
            },
          ],
        },
      ],
    },
    ...errorResponses,
  },
} as const;

const ciSchema = { type: ['array', 'null'], items: { type: 'number' }, minItems: 2, maxItems: 2, description: '95% confidence interval [low, high]; null when n is too small (means need 2).' } as const;
const figureProperties = {
  n: { type: 'integer', description: 'Observations.' },
  value: nullableNumber('The figure; null without observations.'),
  ci95: ciSchema,
  sufficient: { type: 'boolean', description: 'n ≥ min_sample: only then is the figure judged a pain point or bright spot.' },
} as const;
const figureSchema = (description: string, extra: Record<string, object> = {}) =>
  ({ type: 'object', description, required: ['n', 'value', 'ci95', 'sufficient', ...Object.keys(extra)], properties: { ...figureProperties, ...extra } }) as const;

const judgementSchema = {
  type: 'object',
  required: ['touchpoint', 'metric', 'value', 'ci95', 'baseline', 'n', 'gap'],
  properties: {
    touchpoint: { type: 'string' },
    metric: { type: 'string', enum: [...evaluationMetricNames] },
    value: { type: 'number' },
    ci95: { type: 'array', items: { type: 'number' } },
    baseline: { type: 'number', description: 'The same figure over all touchpoints.' },
    n: { type: 'integer' },
    gap: { type: 'number', description: 'Distance from the baseline to the nearer end of the interval, as a share of the figure\'s scale (sentiment 2, CSAT share 1, CES 6, NPS 200, signal share 1): the ranking key.' },
  },
} as const;

const exampleFigure = (n: number, value: number, ci95: [number, number]) => ({ n, value, ci95, sufficient: n >= 30 });

const evaluationRouteSchema = {
  tags,
  summary: 'Emotional evaluation per touchpoint: sentiment, surveys after it, negative signals → pain points and bright spots',
  description:
    'For each touchpoint (not the surveys themselves) seen in the range: the mean sentiment of its contacts (given, or derived from text), the CSAT, CES and NPS answered after it ' +
    '(a survey is credited to the latest non-survey touchpoint of the same customer before it, if within `survey_window`), and the share of its contacts that raised a weak signal, each with a 95% confidence interval ' +
    "(Wilson for shares, Student's t for means; NPS: t over the +100/0/−100 scores). A figure with at least `min_sample` observations whose interval lies wholly on the worse side of the same figure over all touchpoints is a pain point, wholly on the better side a bright spot; " +
    `both lists are ranked by the gap between the interval and that baseline. Default range: the last 30 days. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      ...analysisRangeProperties,
      survey_window: durationProperty('A survey answered longer than this after the touchpoint it follows is not credited to it.', '2h', '24h'),
      min_sample: { type: 'integer', minimum: 2, maximum: 100000, default: defaultMinSample, description: 'Observations a figure needs before it is judged.' },
    },
  },
  response: {
    200: {
      description: 'The evaluation.',
      type: 'object',
      required: ['from', 'to', 'survey_window_ms', 'min_sample', 'catalogue', 'baseline', 'uncredited_surveys', 'pain_points', 'bright_spots', 'touchpoints'],
      properties: {
        from: isoTimestamp('Start of the range.'),
        to: isoTimestamp('End of the range (exclusive); surveys are read up to survey_window past it.'),
        survey_window_ms: { type: 'integer' },
        min_sample: { type: 'integer' },
        catalogue: { type: ['object', 'null'], required: ['file', 'version'], properties: { file: { type: 'string' }, version: { type: 'string' } } },
        baseline: {
          type: 'object',
          description: 'Each figure over all touchpoints (pooled).',
          required: [...evaluationMetricNames],
          properties: Object.fromEntries(evaluationMetricNames.map((m) => [m, nullableNumber(m)])),
        },
        uncredited_surveys: { type: 'integer', description: 'Survey responses that followed no touchpoint of the same customer within the window.' },
        pain_points: { type: 'array', items: judgementSchema, description: 'Worst first.' },
        bright_spots: { type: 'array', items: judgementSchema, description: 'Best first.' },
        touchpoints: {
          type: 'array',
          items: {
            type: 'object',
            required: ['touchpoint', 'catalogued', 'stage', 'channel', 'owner', 'contacts', ...evaluationMetricNames],
            properties: {
              touchpoint: { type: 'string' },
              catalogued: { type: 'boolean' },
              stage: nullableString('Catalogued stage.'),
              channel: nullableString('Catalogued channel.'),
              owner: nullableString('Catalogued owner.'),
              contacts: { type: 'integer', description: 'Its touchpoints in the range.' },
              sentiment: figureSchema('Mean sentiment, −1…1.', { derived: { type: 'integer', description: 'Of n, scored from text.' } }),
              csat: figureSchema('Share of credited CSAT responses scoring 4–5, 0…1.', { mean: nullableNumber('Mean CSAT score, 1–5.') }),
              ces: figureSchema('Mean credited CES, 1–7 (lower is better).'),
              nps: figureSchema('NPS of credited responses, −100…100.'),
              negative_signal_rate: figureSchema('Share of contacts that raised a weak signal, 0…1.', { flagged: { type: 'integer' } }),
            },
          },
        },
      },
      examples: [
        {
          from: '2024-05-01T00:00:00.000000Z', to: '2024-05-31T00:00:00.000000Z', survey_window_ms: 86400000, min_sample: 30,
          catalogue: { file: 'touchpoints/demo.yaml', version: 'demo-1+3f2a9c1e' },
          baseline: { sentiment: 0.05, csat: 0.7, ces: 3.1, nps: 12, negative_signal_rate: 0.08 },
          uncredited_surveys: 4,
          pain_points: [{ touchpoint: 'billing_inquiry_call', metric: 'nps', value: -35, ci95: [-52.1, -17.9], baseline: 12, n: 60, gap: 0.1495 }],
          bright_spots: [{ touchpoint: 'order_confirmed', metric: 'negative_signal_rate', value: 0, ci95: [0, 0.02], baseline: 0.08, n: 180, gap: 0.06 }],
          touchpoints: [
            {
              touchpoint: 'billing_inquiry_call', catalogued: true, stage: 'support', channel: 'phone', owner: 'Telecom care — billing', contacts: 140,
              sentiment: { ...exampleFigure(140, -0.31, [-0.38, -0.24]), derived: 0 },
              csat: { n: 0, value: null, ci95: null, sufficient: false, mean: null },
              ces: { n: 0, value: null, ci95: null, sufficient: false },
              nps: exampleFigure(60, -35, [-52.1, -17.9]),
              negative_signal_rate: { ...exampleFigure(140, 0.42, [0.34, 0.5]), flagged: 59 },
            },
          ],
        },
      ],
    },
    ...errorResponses,
  },
} as const;

export function touchpointRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Querystring: { from?: string; to?: string } }>(
      '/v1/touchpoints',
      { schema: touchpointsRouteSchema, config: { role: 'read' } },
      async (request) => {
        const range = resolveRange(request.query, nowMicros(deps), defaultAnalysisRangeMicros);
        return queryInventory(deps.clickhouse, deps.touchpointCatalogue?.current ?? null, range);
      },
    );
    app.get<{ Querystring: { from?: string; to?: string; survey_window: string; min_sample: number } }>(
      '/v1/touchpoints/evaluation',
      { schema: evaluationRouteSchema, config: { role: 'read' } },
      async (request) => {
        const range = resolveRange(request.query, nowMicros(deps), defaultAnalysisRangeMicros);
        const surveyWindowMicros = parseDurationMicros('survey_window', request.query.survey_window, 90 * 24 * 3600 * 1_000_000);
        return queryEvaluation(deps.clickhouse, deps.touchpointCatalogue?.current ?? null, { ...range, surveyWindowMicros, minSample: request.query.min_sample });
      },
    );
  };
}
