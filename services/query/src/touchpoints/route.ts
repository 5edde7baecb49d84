// GET /v1/touchpoints: the touchpoint inventory (catalogue merged with the data, reaction-time compliance).
import type { FastifyPluginAsync } from 'fastify';
import { nowMicros, type QueryDeps } from '../shared/deps.ts';
import { defaultAnalysisRangeMicros, resolveRange } from '../shared/range.ts';
import { analysisRangeProperties, authNote, errorResponses, isoTimestamp, nullableNumber, nullableString, tags } from '../shared/schemas.ts';
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
  };
}
