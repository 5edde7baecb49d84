// GET /v1/personas: the personas file in force, each persona with its rules and how many customers it has now
// (docs/architecture.md §20.6).
import type { FastifyPluginAsync } from 'fastify';
import type { QueryDeps } from '../shared/deps.ts';
import { authNote, errorResponses, tags } from '../shared/schemas.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';
import { personasNotConfigured, personaSqlFor } from './context.ts';

const scalar = { type: ['string', 'number', 'boolean'] } as const;
const conditionSchema = {
  type: 'object',
  required: ['attribute'],
  description: 'One condition on one attribute; every given operator must hold.',
  properties: {
    attribute: { type: 'string' },
    equals: scalar,
    in: { type: 'array', items: scalar },
    not_in: { type: 'array', items: scalar, description: 'Also holds when the customer has no such attribute.' },
    gt: { type: 'number' },
    gte: { type: 'number' },
    lt: { type: 'number' },
    lte: { type: 'number' },
    exists: { type: 'boolean' },
  },
} as const;

const personasRouteSchema = {
  tags,
  summary: 'Personas: the rules in force and how many customers each has',
  description:
    'The personas file (PERSONAS_FILE) in force: the personas in rule order (the first whose conditions all hold is the customer\'s persona), then the fallback, for customers that match no rule or have no profile. ' +
    '`customers` counts customers with a profile as of now; the fallback also counts `customers_without_profile` (customers with touchpoints and no profile). ' +
    `Personas are decided at query time from the latest profile attributes, so a changed file applies at once to every analysis. ${authNote}`,
  response: {
    200: {
      description: 'The personas.',
      type: 'object',
      required: ['file', 'version', 'personas', 'fallback', 'customers_with_profile', 'customers_without_profile'],
      properties: {
        file: { type: 'string' },
        version: { type: 'string', description: '`<version>+<first 8 hex of the file\'s sha256>`, or the hash alone.' },
        personas: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'description', 'rank', 'conditions', 'customers'],
            properties: {
              name: { type: 'string' },
              description: { type: ['string', 'null'] },
              rank: { type: 'integer', description: 'Position in the rules (1 = tried first).' },
              conditions: { type: 'array', items: conditionSchema, description: 'All must hold; none: every customer with a profile that reached this rule.' },
              customers: { type: 'integer', description: 'Customers with a profile that have this persona.' },
            },
          },
        },
        fallback: {
          type: 'object',
          required: ['name', 'description', 'customers', 'customers_without_profile'],
          properties: {
            name: { type: 'string' },
            description: { type: ['string', 'null'] },
            customers: { type: 'integer', description: 'Customers with a profile that match no rule.' },
            customers_without_profile: { type: 'integer', description: 'Customers with touchpoints but no profile (also the fallback).' },
          },
        },
        customers_with_profile: { type: 'integer' },
        customers_without_profile: { type: 'integer' },
      },
      examples: [
        {
          file: '/etc/touchstream/personas.yaml', version: 'demo-1+3f2a9c1d',
          personas: [{ name: 'premium_loyalist', description: 'Long-tenured gold and platinum customers.', rank: 1, conditions: [{ attribute: 'tier', in: ['gold', 'platinum'] }, { attribute: 'tenure_months', gte: 24 }], customers: 12 }],
          fallback: { name: 'unclassified', description: null, customers: 3, customers_without_profile: 40 },
          customers_with_profile: 15, customers_without_profile: 40,
        },
      ],
    },
    ...errorResponses,
  },
} as const;

const customerProfileRouteSchema = {
  tags,
  summary: "One customer's profile attributes and persona",
  description:
    'The latest value of each attribute (as stored in `customer_profiles`, removed ones left out) with when it was set, and the customer\'s persona under the personas file in force (null without PERSONAS_FILE). ' +
    `A customer without a profile has no attributes and the fallback persona. The id is the stored one (as the journey route takes it). ${authNote}`,
  params: { type: 'object', required: ['customer_id'], properties: { customer_id: { type: 'string', minLength: 1, maxLength: 256 } } },
  response: {
    200: {
      description: 'The profile.',
      type: 'object',
      required: ['customer_id', 'persona', 'attributes'],
      properties: {
        customer_id: { type: 'string' },
        persona: { type: ['string', 'null'], description: 'Null when no personas file is configured.' },
        attributes: {
          type: 'array',
          items: {
            type: 'object',
            required: ['attribute', 'value', 'updated_at'],
            properties: { attribute: { type: 'string' }, value: { type: ['string', 'number', 'boolean'] }, updated_at: { type: 'string' } },
          },
        },
      },
      examples: [{ customer_id: 'cust-42', persona: 'loyal_shopper', attributes: [{ attribute: 'loyalty_tier', value: 'gold', updated_at: '2026-01-31T09:30:00.000000Z' }] }],
    },
    ...errorResponses,
  },
} as const;

/** A stored value back in its kind. */
function typedValue(kind: string, text: string): string | number | boolean {
  if (kind === 'number') return Number(text);
  if (kind === 'boolean') return text === 'true';
  return text;
}

export function personaRoutes(deps: QueryDeps): FastifyPluginAsync {
  return async function routes(app) {
    app.get<{ Params: { customer_id: string } }>('/v1/customers/:customer_id/profile', { schema: customerProfileRouteSchema, config: { role: 'read' } }, async (request) => {
      const id = request.params.customer_id;
      const sql = deps.personas ? personaSqlFor(deps.personas, { breakdown: true }) : undefined;
      const rs = await deps.clickhouse.query({
        query: `SELECT attribute, kind, value, toUnixTimestamp64Micro(updated_at) AS updated_us${sql ? `, ${sql.expression('customer_id')} AS persona` : ''}
FROM customer_profiles FINAL WHERE customer_id = {id:String} AND kind != 'unset' ORDER BY attribute ${querySettingsSql}`,
        query_params: { id, ...sql?.params },
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ attribute: string; kind: string; value: string; updated_us: string | number; persona?: string }>();
      return {
        customer_id: id,
        // Without a profile, the fallback (as every analysis counts the customer).
        persona: rows[0]?.persona ?? sql?.fallback ?? null,
        attributes: rows.map((r) => ({ attribute: r.attribute, value: typedValue(r.kind, r.value), updated_at: microsToIso(Number(r.updated_us)) })),
      };
    });

    app.get('/v1/personas', { schema: personasRouteSchema, config: { role: 'read' } }, async () => {
      if (!deps.personas) throw personasNotConfigured('GET /v1/personas');
      const personas = deps.personas.current;
      const sql = personaSqlFor(deps.personas, { breakdown: true })!;
      const [counts, without] = await Promise.all([
        deps.clickhouse
          .query({ query: `SELECT persona, count() AS customers FROM (${sql.customersSql}) GROUP BY persona ${querySettingsSql}`, query_params: sql.params, format: 'JSONEachRow' })
          .then((r) => r.json<{ persona: string; customers: string | number }>()),
        deps.clickhouse
          .query({
            query: `SELECT uniqExact(customer_id) AS n FROM customer_activity_1d WHERE customer_id NOT IN (SELECT customer_id FROM customer_profiles) ${querySettingsSql}`,
            format: 'JSONEachRow',
          })
          .then((r) => r.json<{ n: string | number }>()),
      ]);
      const countOf = new Map(counts.map((c) => [c.persona, Number(c.customers)]));
      const withoutProfile = Number(without[0]?.n ?? 0);
      return {
        file: personas.file,
        version: personas.version,
        personas: personas.rules.map((rule, i) => ({
          name: rule.name,
          description: rule.description,
          rank: i + 1,
          conditions: rule.conditions,
          customers: countOf.get(rule.name) ?? 0,
        })),
        fallback: { ...personas.fallback, customers: countOf.get(personas.fallback.name) ?? 0, customers_without_profile: withoutProfile },
        customers_with_profile: [...countOf.values()].reduce((a, b) => a + b, 0),
        customers_without_profile: withoutProfile,
      };
    });
  };
}
