// Customer profile intake (docs/architecture.md §20.6): POST /v1/customers/{customer_id}/profile (one customer's
// attributes) and POST /v1/profiles (a CRM batch: a JSON array or NDJSON of profiles that name their customer).
// Registered inside the ingest plugin, so the write-key check, content types, body limit, back-pressure and error
// handler are those of POST /v1/events; profiles go to profiles.v1 (keyed by customer_id), invalid ones are rejected
// with their reasons and kept in touchpoints.invalid.v1 with the other ingest dead letters, valid ones in the same
// request are written all the same, in one produce request.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { codecs, derivedProfileId, profileInputJsonSchema, type CustomerProfile, type ProfileLimits, type ProfileValidator } from '@touchstream/contracts';
import { mediaKindOf, parseEventsBody, type BodyItem } from './body.ts';
import { deadLetterMessage, type IngestMessage, type PrepareBatchOptions, type RejectedEvent } from './batch.ts';
import { humanBytes } from './schemas.ts';

export interface PreparedProfiles {
  profiles: IngestMessage[];
  deadLetters: IngestMessage[];
  rejected: RejectedEvent[];
  profileIds: string[];
}

export interface PrepareProfilesOptions extends Pick<PrepareBatchOptions, 'source' | 'contentType' | 'nowMs' | 'storedCustomerId' | 'isErased'> {
  validator: ProfileValidator;
  /** The path's customer (single-customer route): the items then must not name one. */
  customerId?: string;
}

/** Valid profiles Avro-encoded and keyed by (stored) customer, invalid ones as dead letters keyed by source. Pure. */
export function prepareProfiles(items: BodyItem[], opts: PrepareProfilesOptions): PreparedProfiles {
  const out: PreparedProfiles = { profiles: [], deadLetters: [], rejected: [], profileIds: [] };
  const reject = (item: BodyItem, errors: string[]) => {
    out.rejected.push({ index: item.index, errors });
    out.deadLetters.push(deadLetterMessage({ source: opts.source, reasons: errors, payload: item.raw, contentType: opts.contentType, requestIndex: item.index, receivedAtMs: opts.nowMs }));
  };
  for (const item of items) {
    if (!item.ok) {
      reject(item, item.errors);
      continue;
    }
    const result = opts.validator.validate(item.value, opts.nowMs, opts.customerId);
    if (!result.ok) {
      reject(item, result.errors);
      continue;
    }
    const stored = opts.storedCustomerId ? opts.storedCustomerId(result.profile.customer_id) : result.profile.customer_id;
    if (opts.isErased?.(stored)) {
      out.rejected.push({
        index: item.index,
        code: 'CUSTOMER_ERASED',
        errors: ['customer_id: this customer was erased and this deployment refuses new data for erased customers (ERASED_CUSTOMER_POLICY=refuse)'],
      });
      continue;
    }
    const profile: CustomerProfile = { ...result.profile, customer_id: stored };
    if (!result.clientId) profile.profile_id = derivedProfileId(opts.source, profile);
    let value: Buffer;
    try {
      value = codecs.profile.encode(profile);
    } catch (err) {
      reject(item, [`profile: cannot be encoded: ${(err as Error).message}`]);
      continue;
    }
    out.profiles.push({ key: profile.customer_id, value, headers: { source: opts.source } });
    out.profileIds.push(profile.profile_id);
  }
  return out;
}

type ProfileResult = { accepted: number; rejected: RejectedEvent[]; profile_ids: string[] };

export interface ProfileRouteDeps {
  limits: { profile: ProfileLimits; maxEventsPerRequest: number; maxBodyBytes: number };
  now: () => number;
  /** Valid profiles to profiles.v1, the rest dead-lettered, in one produce request; undefined once a 503 was sent. */
  deliverProfiles: (reply: FastifyReply, items: BodyItem[], source: string, contentType: string, nowMs: number, customerId?: string) => Promise<ProfileResult | undefined>;
  deadLetterBody: (source: string, reason: string, body: Buffer, contentType: string, nowMs: number) => Promise<void>;
}

const tags = ['ingest'];
const errorProperties = {
  code: { type: 'string', description: 'Stable machine-readable error code.' },
  message: { type: 'string', description: 'What went wrong and how to fix it, for humans.' },
} as const;
const resultProperties = {
  accepted: { type: 'integer', description: 'Profiles written to profiles.v1 (acknowledged by all in-sync replicas).' },
  rejected: {
    type: 'array',
    description: 'One entry per rejected profile; each is also kept in the dead-letter topic touchpoints.invalid.v1.',
    items: {
      type: 'object',
      required: ['index', 'errors'],
      properties: {
        index: { type: 'integer', description: 'Position in the request: array index, or NDJSON line number − 1 (0 on the single-customer route).' },
        errors: { type: 'array', items: { type: 'string' } },
        code: { type: 'string', enum: ['CUSTOMER_ERASED'] },
      },
    },
  },
  profile_ids: { type: 'array', items: { type: 'string' }, description: 'profile_id of each accepted profile, in request order (derived from the source and content when not given).' },
} as const;
const errorResponse = { type: 'object', required: ['code', 'message'], properties: { ...errorProperties, ...resultProperties, position: { type: 'integer' }, line: { type: 'integer' }, column: { type: 'integer' }, limit: { type: 'integer' } } } as const;
const retryAfterHeader = { 'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying the same request.' } } as const;

function responses(what: string) {
  return {
    202: { description: `Accepted: every valid ${what} is in Kafka; see \`rejected\` for the others.`, type: 'object', required: ['accepted', 'rejected', 'profile_ids'], properties: resultProperties },
    400: { description: '`INVALID_JSON`, `EMPTY_BATCH`, or `NO_VALID_PROFILES` (with `rejected`; dead-lettered).', ...errorResponse },
    401: { description: 'No write key.', type: 'object', required: ['code', 'message'], properties: errorProperties },
    409: { description: 'Every profile is for an erased customer and ERASED_CUSTOMER_POLICY=refuse (`CUSTOMER_ERASED`).', ...errorResponse },
    413: { description: '`BODY_TOO_LARGE` or `TOO_MANY_PROFILES`: split the request.', ...errorResponse },
    415: { description: 'The Content-Type is not accepted.', type: 'object', required: ['code', 'message'], properties: { ...errorProperties, supported: { type: 'array', items: { type: 'string' } } } },
    503: { description: 'Kafka did not acknowledge in time; retry with the same body (a profile with a profile_id or an updated_at is counted once).', type: 'object', required: ['code', 'message'], properties: errorProperties, headers: retryAfterHeader },
  };
}

const sampleAttributes = { tier: 'gold', tenure_months: 38, segment: 'consumer', paperless: true, churn_flag: null };

export function profileRoutes(deps: ProfileRouteDeps): FastifyPluginAsync {
  const { limits } = deps;
  const single = profileInputJsonSchema(limits.profile, true);
  const named = profileInputJsonSchema(limits.profile, false);

  /** The answer for a parsed request, from what was delivered. */
  function answer(reply: FastifyReply, result: ProfileResult, count: number) {
    if (result.accepted === 0 && result.rejected.length > 0 && result.rejected.every((r) => r.code === 'CUSTOMER_ERASED')) {
      return reply.code(409).send({ code: 'CUSTOMER_ERASED', message: 'every profile of the request is for an erased customer; this deployment refuses them (ERASED_CUSTOMER_POLICY=refuse)', ...result });
    }
    if (result.accepted === 0) return reply.code(400).send({ code: 'NO_VALID_PROFILES', message: `none of the ${count} profiles is valid; see rejected`, ...result });
    return reply.code(202).send(result);
  }

  return async function routes(app) {
    app.post<{ Params: { customer_id: string } }>(
      '/v1/customers/:customer_id/profile',
      {
        schema: {
          tags,
          summary: "Set a customer's profile attributes",
          description: [
            'Writes one profile update to Kafka (`profiles.v1`, keyed by `customer_id`); the sink keeps it in ClickHouse (`customer_profiles`: one row per customer and attribute, the latest `updated_at` winning). Requires a write key.',
            'The update is partial: attributes not named keep their values; `null` removes one. Values are strings, numbers or booleans. Personas are decided from these attributes at query time (`GET /v1/personas`).',
            '`updated_at` (ISO-8601 or epoch ms) is when the values became true — default: when ingest received them. Give it (or a `profile_id`) to make a retry count once.',
          ].join('\n\n'),
          params: { type: 'object', required: ['customer_id'], properties: { customer_id: { type: 'string', minLength: 1, maxLength: limits.profile.maxStringLength } } },
          body: { ...single, examples: [{ attributes: sampleAttributes, updated_at: '2026-01-31T09:30:00Z' }] },
          response: responses('profile'),
        },
        config: { role: 'write' },
        bodyLimit: limits.maxBodyBytes,
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        const source = request.caller!.name;
        const body = request.body as unknown;
        const nowMs = deps.now();
        const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!Buffer.isBuffer(body) || body.length === 0 || mediaKindOf(request.headers['content-type']) !== 'json') {
          return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'send the profile as a JSON object: {"attributes": {...}, "updated_at": "..."}' });
        }
        const parsed = parseEventsBody(body, 'json', { maxEvents: 1 });
        if (parsed.kind === 'invalid-json') {
          const reason = `the body is not valid JSON: ${parsed.message}`;
          await deps.deadLetterBody(source, reason, body, contentType, nowMs);
          return reply.code(400).send({ code: 'INVALID_JSON', message: reason, ...(parsed.position !== undefined ? { position: parsed.position, line: parsed.line, column: parsed.column } : {}) });
        }
        if (parsed.kind !== 'items' || body.toString('utf8').trimStart().startsWith('[')) {
          return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'send one profile as a JSON object {"attributes": {...}}; for many customers use POST /v1/profiles' });
        }
        const item = parsed.items[0]!;
        const result = await deps.deliverProfiles(reply, [item], source, contentType, nowMs, request.params.customer_id);
        if (!result) return reply;
        return answer(reply, result, 1);
      },
    );

    app.post(
      '/v1/profiles',
      {
        schema: {
          tags,
          summary: 'Post customer profiles in bulk (a CRM batch: JSON array or NDJSON)',
          description: [
            `Up to ${limits.maxEventsPerRequest} profiles per request (at most ${humanBytes(limits.maxBodyBytes)}), each \`{customer_id, attributes, updated_at?, profile_id?}\`, as a JSON array or NDJSON. Requires a write key.`,
            'Each profile is validated on its own: valid ones go to `profiles.v1`, invalid ones are listed in `rejected` with their reasons and kept in `touchpoints.invalid.v1`. `./touchstream profiles import <file.csv|ndjson>` sends a file through this route.',
          ].join('\n\n'),
          body: {
            content: {
              'application/json': { schema: { oneOf: [named, { type: 'array', minItems: 1, maxItems: limits.maxEventsPerRequest, items: named }], examples: [[{ customer_id: 'cust-42', attributes: sampleAttributes }]] } },
              'application/x-ndjson': { schema: { type: 'string', description: 'One profile object per line; blank lines are ignored.' } },
            },
          },
          response: responses('profile'),
        },
        config: { role: 'write' },
        bodyLimit: limits.maxBodyBytes,
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        const source = request.caller!.name;
        const kind = mediaKindOf(request.headers['content-type']);
        const body = request.body;
        if (!kind || !Buffer.isBuffer(body) || body.length === 0) {
          return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'the request has no body; send profiles as a JSON array or NDJSON' });
        }
        const contentType = request.headers['content-type']!.split(';')[0]!.trim().toLowerCase();
        const nowMs = deps.now();
        const parsed = parseEventsBody(body, kind, { maxEvents: limits.maxEventsPerRequest });
        switch (parsed.kind) {
          case 'empty':
            return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'the request contains no profiles' });
          case 'too-many-events':
            return reply.code(413).send({ code: 'TOO_MANY_PROFILES', message: `the request has ${parsed.count} profiles; at most ${parsed.limit} are accepted per request, so split it`, limit: parsed.limit });
          case 'invalid-json': {
            const reason = `the body is not valid JSON: ${parsed.message}`;
            await deps.deadLetterBody(source, reason, body, contentType, nowMs);
            return reply.code(400).send({ code: 'INVALID_JSON', message: reason, ...(parsed.position !== undefined ? { position: parsed.position, line: parsed.line, column: parsed.column } : {}) });
          }
          case 'items': {
            const result = await deps.deliverProfiles(reply, parsed.items, source, contentType, nowMs);
            if (!result) return reply;
            return answer(reply, result, parsed.items.length);
          }
        }
      },
    );
  };
}
