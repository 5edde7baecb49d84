// POST /v1/funnels and POST /v1/funnels/dropped (see funnels.ts for the semantics).
import { personaProperty, personaSqlFor } from '../personas/context.ts';
import { churnRiskProperty, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { FastifyPluginAsync } from 'fastify';
import { sendCsv, toCsv, wantsCsv } from '../shared/csv.ts';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { defaultAnalysisRangeMicros, parseDurationMicros, resolveRange } from '../shared/range.ts';
import { analysisRangeProperties, authNote, durationProperty, errorResponses, formatParameter, name, tags } from '../shared/schemas.ts';
import {
  funnelBreakdownNames,
  funnelOrderNames,
  histogramBinsSeconds,
  maxFunnelSteps,
  queryDropped,
  queryFunnel,
  type FunnelBreakdown,
  type FunnelOrder,
  type FunnelRequest,
  type FunnelStep,
  type StepMatcher,
} from './funnels.ts';

interface FunnelBody {
  steps: FunnelStep[];
  exclusions?: StepMatcher[];
  order: FunnelOrder;
  window: string;
  breakdown?: FunnelBreakdown;
  from?: string;
  to?: string;
  persona?: string;
  churn_risk?: ChurnRiskBand;
}

const matcherProperties = {
  touchpoint: name('Touchpoint name the event must have.', 'checkout_page'),
  channel: name('Only events on this channel.', 'web'),
  outcome: name('Only events with this outcome.', 'completed'),
  journey: name('Only events of this journey type.', 'retail_checkout'),
} as const;

const bodySchema = {
  type: 'object',
  required: ['steps'],
  additionalProperties: false,
  properties: {
    steps: {
      type: 'array',
      minItems: 2,
      maxItems: maxFunnelSteps,
      description: `2 to ${maxFunnelSteps} steps. Each matches touchpoints by name and optionally channel, outcome and journey; steps may be on different channels. Step 1 cannot be optional.`,
      items: {
        type: 'object',
        required: ['touchpoint'],
        additionalProperties: false,
        properties: {
          ...matcherProperties,
          optional: { type: 'boolean', default: false, description: 'Counted when done, but customers who skip it continue.' },
          label: { type: 'string', maxLength: 256, description: 'Shown instead of the touchpoint name.' },
        },
      },
    },
    exclusions: {
      type: 'array',
      maxItems: 10,
      description: 'Events that end a customer’s funnel: steps after the first exclusion event (after entering) do not count.',
      items: { type: 'object', required: ['touchpoint'], additionalProperties: false, properties: matcherProperties },
    },
    order: { type: 'string', enum: [...funnelOrderNames], default: 'ordered', description: '`ordered`: steps in this order; `unordered`: in any order.' },
    window: durationProperty('Conversion window from entering the funnel:', '7d', '7d'),
    breakdown: { type: 'string', enum: [...funnelBreakdownNames], description: '`channel`: channel of the entry (step 1) event; `first_channel`: channel of the customer’s first touchpoint in the range; `persona`: the customer\'s persona now (docs/architecture.md §20.6); `churn_risk`: the band of the customer\'s newest churn-risk score, `unscored` without one (§22).' },
    ...personaProperty('Only customers of this persona'),
    ...churnRiskProperty('Only customers in this churn-risk band'),
    ...analysisRangeProperties,
  },
  examples: [
    {
      steps: [
        { touchpoint: 'product_page', channel: 'web' },
        { touchpoint: 'cart_page' },
        { touchpoint: 'payment_failed', optional: true },
        { touchpoint: 'order_confirmation_email', channel: 'email' },
      ],
      exclusions: [{ touchpoint: 'contract_cancelled' }],
      order: 'ordered',
      window: '7d',
      breakdown: 'channel',
      from: '2024-05-01T00:00:00Z',
      to: '2024-06-01T00:00:00Z',
    },
  ],
} as const;

const histogramSchema = {
  type: 'array',
  description: `Customers per bin of seconds from the previous required step; bins end at ${histogramBinsSeconds.join(', ')} s and one open bin. Empty for step 1.`,
  items: { type: 'object', properties: { le_seconds: { type: ['number', 'null'] }, customers: { type: 'integer' } } },
} as const;

const stepSchema = {
  type: 'object',
  properties: {
    step: { type: 'integer' },
    label: { type: 'string' },
    touchpoint: { type: 'string' },
    optional: { type: 'boolean' },
    customers: { type: 'integer', description: 'Customers who reached this step.' },
    conversion_from_previous: { type: ['number', 'null'], description: 'customers ÷ customers of the previous required step (0…1).' },
    conversion_from_first: { type: ['number', 'null'], description: 'customers ÷ customers of step 1.' },
    median_seconds_from_previous: { type: ['number', 'null'] },
    p90_seconds_from_previous: { type: ['number', 'null'] },
    median_seconds_from_first: { type: ['number', 'null'] },
    p90_seconds_from_first: { type: ['number', 'null'] },
    histogram_from_previous: histogramSchema,
  },
} as const;

const exampleStep = {
  step: 2, label: 'cart_page', touchpoint: 'cart_page', optional: false, customers: 412, conversion_from_previous: 0.412,
  conversion_from_first: 0.412, median_seconds_from_previous: 95, p90_seconds_from_previous: 1800, median_seconds_from_first: 95,
  p90_seconds_from_first: 1800,
  histogram_from_previous: [{ le_seconds: 60, customers: 120 }, { le_seconds: 300, customers: 200 }, { le_seconds: null, customers: 92 }],
};

const csvQuery = {
  type: 'object',
  properties: { format: formatParameter },
} as const;

const funnelRouteSchema = {
  tags,
  summary: 'Funnel: customers per step, conversion and time to convert',
  description:
    'Ordered: customers enter at their first step-1 event in the range; each required step is the first matching event after the previous required step, within `window` of entering. ' +
    'Optional steps count when done between the previous and the next required step. Unordered: all required steps 1…k within `window` of the first event matching any step, in any order. ' +
    'The first exclusion event after entering ends the customer’s funnel. Conversion and times “from previous” are relative to the previous required step. ' +
    `With \`?format=csv\`: one line per (group, step). ${authNote}`,
  querystring: csvQuery,
  body: bodySchema,
  response: {
    200: {
      description: 'Per step, overall and (with `breakdown`) per group.',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              order: { type: 'string' },
              window_seconds: { type: 'number' },
              steps: { type: 'array', items: stepSchema },
              breakdown: {
                type: ['object', 'null'],
                properties: {
                  by: { type: 'string' },
                  groups: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, steps: { type: 'array', items: stepSchema } } } },
                },
              },
            },
            examples: [{ from: '2024-05-01T00:00:00.000000Z', to: '2024-06-01T00:00:00.000000Z', order: 'ordered', window_seconds: 604800, steps: [exampleStep], breakdown: null }],
          },
        },
        'text/csv': { schema: { type: 'string', description: 'group,step,label,customers,conversion_from_previous,…' } },
      },
    },
    ...errorResponses,
  },
} as const;

const droppedRouteSchema = {
  tags,
  summary: 'Customers who dropped at a funnel step, and what they did next',
  description: `Same body as POST /v1/funnels. Customers who reached the previous required step but not step \`step\`, ordered by customer id and paginated, each with the first touchpoint after their last reached step; and the top next touchpoints over all of them. With \`?format=csv\`: the page of customers. ${authNote}`,
  querystring: {
    type: 'object',
    required: ['step'],
    properties: {
      step: { type: 'integer', minimum: 2, maximum: maxFunnelSteps, description: 'The step (1-based) they did not reach.', examples: [3] },
      limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
      offset: { type: 'integer', minimum: 0, maximum: 100_000, default: 0, description: 'Customers to skip (at most 100,000: narrow the range to go deeper).' },
      top: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'How many next touchpoints to list.' },
      format: csvQuery.properties.format,
    },
  },
  body: bodySchema,
  response: {
    200: {
      description: 'One page of dropped customers and the top next touchpoints.',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              step: { type: 'integer' },
              label: { type: 'string' },
              total: { type: 'integer', description: 'Dropped customers in all.' },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
              customers: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    customer_id: { type: 'string' },
                    last_step_at: { type: 'string', description: 'When they reached their last step.' },
                    next_touchpoint: { type: ['string', 'null'], description: 'Their first touchpoint after that; null if none in the range.' },
                    next_channel: { type: ['string', 'null'] },
                    next_at: { type: ['string', 'null'] },
                  },
                },
              },
              next_touchpoints: {
                type: 'array',
                items: { type: 'object', properties: { touchpoint: { type: ['string', 'null'] }, channel: { type: ['string', 'null'] }, customers: { type: 'integer' } } },
              },
            },
            examples: [
              {
                step: 3, label: 'payment_page', total: 2, limit: 100, offset: 0,
                customers: [{ customer_id: 'cust-7', last_step_at: '2024-05-02T10:00:00.000000Z', next_touchpoint: 'support_call', next_channel: 'phone', next_at: '2024-05-02T10:20:00.000000Z' }],
                next_touchpoints: [{ touchpoint: 'support_call', channel: 'phone', customers: 1 }, { touchpoint: null, channel: null, customers: 1 }],
              },
            ],
          },
        },
        'text/csv': { schema: { type: 'string', description: 'customer_id,last_step_at,next_touchpoint,next_channel,next_at' } },
      },
    },
    ...errorResponses,
  },
} as const;

function funnelRequest(body: FunnelBody, deps: QueryDeps): FunnelRequest {
  const { fromMicros, toMicros } = resolveRange(body, nowMicros(deps), defaultAnalysisRangeMicros);
  return {
    steps: body.steps,
    exclusions: body.exclusions ?? [],
    order: body.order,
    windowMicros: parseDurationMicros('window', body.window),
    breakdown: body.breakdown,
    fromMicros,
    toMicros,
    persona: body.persona,
    churnRisk: body.churn_risk,
    personas: personaSqlFor(deps.personas, { breakdown: body.breakdown === 'persona', persona: body.persona }),
  };
}

export function funnelRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: FunnelBody; Querystring: { format?: 'json' | 'csv' } }>('/v1/funnels', { schema: funnelRouteSchema, config: { role: 'read' } }, async (request, reply) => {
      const result = await queryFunnel(deps.clickhouse, funnelRequest(request.body, deps));
      if (!wantsCsv(request)) return result;
      const groups = [{ key: '', steps: result.steps }, ...(result.breakdown?.groups ?? [])];
      const rows = groups.flatMap((g) =>
        g.steps.map((s) => [g.key, s.step, s.label, s.touchpoint, s.optional, s.customers, s.conversion_from_previous, s.conversion_from_first,
          s.median_seconds_from_previous, s.p90_seconds_from_previous, s.median_seconds_from_first, s.p90_seconds_from_first]),
      );
      return sendCsv(
        reply,
        toCsv(['group', 'step', 'label', 'touchpoint', 'optional', 'customers', 'conversion_from_previous', 'conversion_from_first',
          'median_seconds_from_previous', 'p90_seconds_from_previous', 'median_seconds_from_first', 'p90_seconds_from_first'], rows),
      );
    });

    app.post<{ Body: FunnelBody; Querystring: { step: number; limit: number; offset: number; top: number; format?: 'json' | 'csv' } }>(
      '/v1/funnels/dropped',
      { schema: droppedRouteSchema, config: { role: 'read' } },
      async (request, reply) => {
        const { step, limit, offset, top } = request.query;
        const result = await queryDropped(deps.clickhouse, funnelRequest(request.body, deps), { step, limit, offset, top });
        if (!wantsCsv(request)) return result;
        return sendCsv(
          reply,
          toCsv(['customer_id', 'last_step_at', 'next_touchpoint', 'next_channel', 'next_at'],
            result.customers.map((c) => [c.customer_id, c.last_step_at, c.next_touchpoint, c.next_channel, c.next_at])),
        );
      },
    );
  };
}
