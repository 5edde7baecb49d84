// POST/GET /v1/annotations and GET /v1/annotations/:id/impact. Reading them needs a read key; posting one needs an
// analyst-write key (or the admin key): an annotation changes no measured data, but it changes what every analyst's
// impact report measures against, so not every reader may add one. The name of the key is recorded as created_by.
import type { FastifyPluginAsync } from 'fastify';
import { defaultFcrDays, maxFcrDays } from '../kpis/kpis.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { errorBodySchema } from '../shared/errors.ts';
import { parseTimeParameter, resolveRange } from '../shared/range.ts';
import { authNote, errorResponses, isoTimestamp, name, nullableNumber, rangeParameter, tags } from '../shared/schemas.ts';
import { annotationScopeNames, createAnnotation, listAnnotations, type AnnotationScope } from './annotations.ts';
import { parseImpactWindow, queryImpact } from './impact.ts';

const scopeSchema = {
  type: 'object',
  // propertyNames, not additionalProperties: false, which Fastify's Ajv would silently strip instead of rejecting,
  // turning a mistyped scope into "everywhere".
  propertyNames: { enum: [...annotationScopeNames] },
  description: 'Where the action applies; each dimension optional. Empty: everywhere.',
  properties: Object.fromEntries(annotationScopeNames.map((name) => [name, { type: 'string', minLength: 1, maxLength: 256 }])),
  examples: [{ channel: 'ivr', journey: 'billing_support' }],
} as const;

const annotationSchema = {
  type: 'object',
  required: ['id', 'title', 'description', 'at', 'scope', 'created_by', 'created_at'],
  properties: {
    id: { type: 'string', examples: ['0f8fad5b-d9cb-469f-a165-70867728950e'] },
    title: { type: 'string' },
    description: { type: ['string', 'null'] },
    at: isoTimestamp('When the action took effect.'),
    scope: scopeSchema,
    created_by: { type: 'string', description: 'Name of the analyst-write or admin key that posted it.' },
    created_at: isoTimestamp('When it was recorded.'),
  },
} as const;

const exampleAnnotation = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  title: 'New IVR menu for billing',
  description: 'Callback offered after 2 minutes of waiting',
  at: '2024-05-01T00:00:00.000000Z',
  scope: { channel: 'ivr', journey: 'billing_support' },
  created_by: 'alice',
  created_at: '2024-05-01T08:12:00.000000Z',
};

const notFound = { 404: { description: 'No annotation with this id (code ANNOTATION_NOT_FOUND).', ...errorBodySchema } };

const createAnnotationRouteSchema = {
  tags,
  summary: 'Record an action (annotation) whose impact to measure',
  description: `Stores {title, at, scope} in ClickHouse. Requires an analyst-write key (ANALYST_WRITE_KEYS) or the admin key: \`Authorization: Bearer <key>\`; a read key is answered 403. The key's name is recorded as created_by.`,
  body: {
    type: 'object',
    required: ['title', 'at'],
    additionalProperties: false,
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 200 },
      description: { type: 'string', maxLength: 2000 },
      at: { type: 'string', minLength: 1, maxLength: 64, description: 'When the action took effect (ISO-8601).' },
      scope: scopeSchema,
    },
    examples: [{ title: 'New IVR menu for billing', at: '2024-05-01T00:00:00Z', scope: { channel: 'ivr', journey: 'billing_support' } }],
  },
  response: {
    201: { description: 'Stored.', ...annotationSchema, examples: [exampleAnnotation] },
    ...errorResponses,
  },
} as const;

const listAnnotationsRouteSchema = {
  tags,
  summary: 'Annotations in a range, newest first',
  description: `With \`channel\` / \`journey\`: the annotations that apply there — scoped to that channel / journey, or not scoped on that dimension (an action for everyone applies to every channel); one scoped to another channel or journey is left out. Default range: the last 365 days. ${authNote}`,
  querystring: {
    type: 'object',
    properties: {
      from: rangeParameter('from', 'Start (inclusive). Default: `to` minus 365 days.'),
      to: rangeParameter('to', 'End (exclusive). Default: now.'),
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      channel: name('Only annotations that apply on this channel (scoped to it, or to no channel).', 'phone'),
      journey: name('Only annotations that apply to this journey (scoped to it, or to no journey).', 'billing_support'),
    },
  },
  response: {
    200: {
      description: 'The annotations.',
      type: 'object',
      required: ['annotations'],
      properties: { annotations: { type: 'array', items: annotationSchema } },
      examples: [{ annotations: [exampleAnnotation] }],
    },
    ...errorResponses,
  },
} as const;

const sideSchema = {
  type: 'object',
  required: ['n', 'value'],
  properties: {
    n: { type: 'integer', description: 'Sample size: responses, touchpoints with an outcome, journeys, contacts or values.' },
    value: nullableNumber('The rate (0…1) or mean; null without data.'),
  },
} as const;

const impactRouteSchema = {
  tags,
  summary: 'Impact of an action: KPIs before against after, with significance tests',
  description:
    'Compares the window before the annotation with the same-length window after it, within its scope, from the raw touchpoints. ' +
    'Rates (CSAT satisfied share, NPS promoter and detractor shares, abandonment, journey completion, FCR) use the two-proportion z-test ' +
    '(pooled standard error for the test, unpooled for the 95% interval); means (handling time, wait, sentiment, CES) use Welch\'s t-test. ' +
    `\`difference\` is after − before; \`significant\` means p < 0.05; \`improved\` is significant and in the better direction. ${authNote}`,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
  querystring: {
    type: 'object',
    properties: {
      window: { type: 'string', default: '14d', pattern: '^[0-9]{1,4}[dh]$', description: 'Length of each window: days (`14d`) or hours (`36h`), at most 366d.', examples: ['14d'] },
      fcr_days: { type: 'integer', minimum: 1, maximum: maxFcrDays, default: defaultFcrDays, description: 'FCR repeat-contact window.' },
    },
  },
  response: {
    200: {
      description: 'The comparison.',
      type: 'object',
      required: ['annotation', 'window', 'fcr_days', 'before', 'after', 'metrics'],
      properties: {
        annotation: annotationSchema,
        window: { type: 'string' },
        fcr_days: { type: 'integer' },
        before: { type: 'object', required: ['from', 'to'], properties: { from: isoTimestamp('Start.'), to: isoTimestamp('End, exclusive.') } },
        after: {
          type: 'object',
          required: ['from', 'to', 'complete'],
          properties: {
            from: isoTimestamp('Start.'),
            to: isoTimestamp('End, exclusive.'),
            complete: { type: 'boolean', description: 'False while the after-window is still running (it ends in the future).' },
          },
        },
        metrics: {
          type: 'array',
          items: {
            type: 'object',
            required: ['metric', 'kind', 'direction', 'test', 'before', 'after', 'difference', 'statistic', 'p_value', 'ci95', 'significant', 'improved'],
            properties: {
              metric: { type: 'string' },
              kind: { type: 'string', enum: ['rate', 'mean'] },
              direction: { type: 'string', enum: ['higher_is_better', 'lower_is_better'] },
              test: { type: 'string', enum: ['two_proportion_z', 'welch_t'] },
              before: sideSchema,
              after: sideSchema,
              difference: nullableNumber('after − before.'),
              statistic: nullableNumber('z or t; null when the samples have no variation.'),
              df: { type: 'number', description: 'Welch–Satterthwaite degrees of freedom (t-test only).' },
              p_value: nullableNumber('Two-sided.'),
              ci95: { type: ['array', 'null'], items: { type: 'number' }, minItems: 2, maxItems: 2, description: '95% confidence interval of the difference.' },
              significant: { type: 'boolean' },
              improved: { type: ['boolean', 'null'], description: 'Significant and in the better direction; null when untestable.' },
            },
          },
        },
      },
      examples: [
        {
          annotation: exampleAnnotation,
          window: '14d',
          fcr_days: 7,
          before: { from: '2024-04-17T00:00:00.000000Z', to: '2024-05-01T00:00:00.000000Z' },
          after: { from: '2024-05-01T00:00:00.000000Z', to: '2024-05-15T00:00:00.000000Z', complete: true },
          metrics: [
            {
              metric: 'abandonment_rate', kind: 'rate', direction: 'lower_is_better', test: 'two_proportion_z',
              before: { n: 1200, value: 0.12 }, after: { n: 1180, value: 0.08 }, difference: -0.04, statistic: -3.254,
              p_value: 0.001138, ci95: [-0.0637, -0.0163], significant: true, improved: true,
            },
            {
              metric: 'avg_wait_ms', kind: 'mean', direction: 'lower_is_better', test: 'welch_t',
              before: { n: 900, value: 95000 }, after: { n: 870, value: 91000 }, difference: -4000, statistic: -1.12, df: 1765.2,
              p_value: 0.2628, ci95: [-11000, 3000], significant: false, improved: false,
            },
          ],
        },
      ],
    },
    ...notFound,
    ...errorResponses,
  },
} as const;

const listDefaultSpanMicros = 365 * 24 * 3600 * 1_000_000;

export function annotationRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.post<{ Body: { title: string; description?: string; at: string; scope?: AnnotationScope } }>(
      '/v1/annotations',
      { schema: createAnnotationRouteSchema, config: { role: 'analyst-write' } },
      async (request, reply) => {
        const atMicros = parseTimeParameter('at', request.body.at)!;
        const annotation = await createAnnotation(deps.clickhouse, {
          title: request.body.title,
          description: request.body.description,
          atMicros,
          scope: request.body.scope ?? {},
          createdBy: request.caller?.name ?? '',
        });
        return reply.code(201).send(annotation);
      },
    );

    app.get<{ Querystring: { from?: string; to?: string; limit: number; channel?: string; journey?: string } }>(
      '/v1/annotations',
      { schema: listAnnotationsRouteSchema, config: { role: 'read' } },
      async (request) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros(deps), listDefaultSpanMicros);
        return { annotations: await listAnnotations(deps.clickhouse, {
          fromMicros, toMicros, limit: request.query.limit, scope: { channel: request.query.channel, journey: request.query.journey },
        }) };
      },
    );

    app.get<{ Params: { id: string }; Querystring: { window: string; fcr_days: number } }>(
      '/v1/annotations/:id/impact',
      { schema: impactRouteSchema, config: { role: 'read' } },
      async (request) =>
        queryImpact(deps.clickhouse, {
          annotationId: request.params.id,
          windowText: request.query.window,
          windowMicros: parseImpactWindow(request.query.window),
          fcrDays: request.query.fcr_days,
          nowMicros: nowMicros(deps),
        }),
    );
  };
}
