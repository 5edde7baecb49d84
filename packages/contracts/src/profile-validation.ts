// Validation of customer profiles posted over HTTP (POST /v1/customers/{id}/profile, POST /v1/profiles). The JSON
// schema is derived from schemas/profile.avsc as the touchpoint's is from touchpoint.avsc: field names, which are
// required, identifiers (`"identifier": true`, `"identifierKeys": true`) and the attribute values' types come from the
// Avro record; the documented bounds tighten it. docs/architecture.md §20.6.
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { loadSchemaFile } from './avro.ts';
import type { CustomerProfile } from './generated.ts';
import { identifierPattern, identifierProblem, toEpochMicros } from './validation.ts';

export interface ProfileLimits {
  /** Most attributes in one profile update. */
  maxAttributes: number;
  /** Longest attribute name. */
  maxAttributeNameLength: number;
  /** Longest string value (and customer_id, profile_id). */
  maxStringLength: number;
  /** How far in the future updated_at may be (clock skew), in ms. */
  maxFutureSkewMs: number;
}

export const defaultProfileLimits: ProfileLimits = {
  maxAttributes: 100,
  maxAttributeNameLength: 64,
  maxStringLength: 256,
  maxFutureSkewMs: 10 * 60 * 1000,
};

type Json = Record<string, unknown>;
type AvroField = { name: string; type: unknown; doc?: string; identifier?: boolean; identifierKeys?: boolean };

const AVRO_TO_JSON: Record<string, string> = { string: 'string', double: 'number', float: 'number', int: 'integer', long: 'integer', boolean: 'boolean' };
/** Fields the server owns (never taken from the client), and those it fills when the client leaves them out. */
const SERVER_FIELDS = new Set(['received_at']);
const SERVER_FILLED = new Set(['profile_id', 'updated_at']);

/**
 * JSON schema of one profile update. `customerInPath`: the single-customer route takes customer_id from its path, so
 * the body must not carry it.
 */
export function profileInputJsonSchema(limits: ProfileLimits = defaultProfileLimits, customerInPath = false): Json {
  const record = loadSchemaFile('profile.avsc') as unknown as { fields: AvroField[] };
  const properties: Json = {};
  const required: string[] = [];
  for (const f of record.fields) {
    if (SERVER_FIELDS.has(f.name) || (customerInPath && f.name === 'customer_id')) continue;
    const t = f.type as Json | string;
    let schema: Json;
    if (typeof t === 'object' && t.type === 'map') {
      const values = t.values as string[];
      schema = {
        type: 'object',
        minProperties: 1,
        maxProperties: limits.maxAttributes,
        propertyNames: { minLength: 1, maxLength: limits.maxAttributeNameLength, ...(f.identifierKeys ? { pattern: identifierPattern } : {}) },
        additionalProperties: { type: values.map((v) => AVRO_TO_JSON[v] ?? v), maxLength: limits.maxStringLength },
      };
    } else if (typeof t === 'object' && t.logicalType === 'timestamp-micros') {
      schema = { anyOf: [{ type: 'string', minLength: 10, maxLength: 40 }, { type: 'number' }], description: 'ISO-8601 with time zone or epoch milliseconds' };
    } else {
      schema = { type: AVRO_TO_JSON[t as string], minLength: 1, maxLength: limits.maxStringLength, ...(f.identifier ? { pattern: identifierPattern } : {}) };
    }
    properties[f.name] = { ...schema, ...(f.doc ? { description: f.doc } : {}) };
    if (!SERVER_FILLED.has(f.name)) required.push(f.name);
  }
  return { type: 'object', additionalProperties: false, required, properties };
}

export type ProfileValidationResult = { ok: true; profile: CustomerProfile; clientId: boolean } | { ok: false; errors: string[] };

export interface ProfileValidator {
  /** `customerId`: the path's, for the single-customer route (the body then must not name one). */
  validate(input: unknown, nowMs: number, customerId?: string): ProfileValidationResult;
}

function describe(err: ErrorObject): string {
  const at = err.instancePath ? err.instancePath.slice(1).replaceAll('/', '.') : '';
  const prefix = at ? `${at}: ` : '';
  const propertyName = (err as ErrorObject & { propertyName?: string }).propertyName;
  if (err.keyword === 'pattern' && err.params.pattern === identifierPattern) {
    const text = propertyName ?? String(err.data);
    return `${propertyName !== undefined ? `${at} key ${JSON.stringify(text)}: ` : prefix}${identifierProblem(text) ?? 'must be printable text'}`;
  }
  switch (err.keyword) {
    case 'required': return `${prefix ? prefix.slice(0, -2) + '.' : ''}${err.params.missingProperty}: is required`;
    case 'additionalProperties': return `${prefix ? prefix.slice(0, -2) + '.' : ''}${err.params.additionalProperty}: unknown field`;
    case 'anyOf': return `${prefix}must be an ISO-8601 timestamp with time zone or epoch milliseconds`;
    case 'type': return `${prefix}must be ${at.startsWith('attributes.') ? 'a string, a number, a boolean or null (null removes the attribute)' : (Array.isArray(err.params.type) ? err.params.type : [err.params.type]).join(' or ')}`;
    case 'minProperties': return `${prefix}must name at least one attribute`;
    case 'maxProperties': return `${prefix}has more than ${err.params.limit} attributes`;
    default: return `${prefix}${err.message}`;
  }
}

/** JSON with keys sorted at every level. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The profile_id of an update posted without one: a name-based UUID (version 8) of the write key's source, the
 * customer, updated_at and the attributes. As for touchpoints (§2): a retry of the same update after a 503 is the
 * same update. Without an updated_at the server's clock sets it, so only updates that carry one are retried as one.
 */
export function derivedProfileId(source: string, profile: Pick<CustomerProfile, 'customer_id' | 'updated_at' | 'attributes'>): string {
  const digest = createHash('sha256')
    .update(`touchstream.profile_id.v1\0${source}\0${canonicalJson({ customer_id: profile.customer_id, updated_at: profile.updated_at, attributes: profile.attributes })}`)
    .digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function createProfileValidator(limits: ProfileLimits = defaultProfileLimits): ProfileValidator {
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  const withCustomer = ajv.compile(profileInputJsonSchema(limits, false));
  const inPath = ajv.compile(profileInputJsonSchema(limits, true));
  return {
    validate(input, nowMs, customerId) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, errors: ['profile: must be a JSON object'] };
      const check = customerId === undefined ? withCustomer : inPath;
      const errors: string[] = [];
      if (customerId !== undefined) {
        if (customerId.length === 0 || customerId.length > limits.maxStringLength) errors.push(`customer_id: must be 1..${limits.maxStringLength} characters`);
        const problem = identifierProblem(customerId);
        if (problem) errors.push(`customer_id: ${problem}`);
      }
      if (!check(input)) {
        const all = check.errors ?? [];
        const anyOfPaths = new Set(all.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
        const kept = all.filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath)).filter((e) => e.keyword !== 'propertyNames');
        // A number is not checked against maxLength, a string is: the one "type" message per value is enough.
        errors.push(...new Set(kept.map(describe)));
        return { ok: false, errors };
      }
      const raw = input as Json;
      let updatedAt = nowMs * 1000;
      if (raw.updated_at !== undefined && raw.updated_at !== null) {
        const micros = toEpochMicros(raw.updated_at as string | number);
        if (micros === undefined) errors.push('updated_at: must be an ISO-8601 timestamp with time zone (e.g. 2026-01-31T09:30:00Z) or epoch milliseconds');
        else if (micros > (nowMs + limits.maxFutureSkewMs) * 1000) errors.push(`updated_at: is more than ${Math.round(limits.maxFutureSkewMs / 1000)} s in the future; check the sender's clock`);
        else if (micros < 0) errors.push('updated_at: is before 1970');
        else updatedAt = micros;
      }
      const attributes: CustomerProfile['attributes'] = {};
      for (const [name, value] of Object.entries(raw.attributes as Json)) {
        if (typeof value === 'number' && !Number.isFinite(value)) errors.push(`attributes.${name}: must be a finite number`);
        attributes[name] = value as string | number | boolean | null;
      }
      if (errors.length) return { ok: false, errors };
      const customer = customerId ?? (raw.customer_id as string);
      const profile: CustomerProfile = { profile_id: '', customer_id: customer, updated_at: updatedAt, received_at: nowMs * 1000, attributes };
      const clientId = typeof raw.profile_id === 'string';
      profile.profile_id = clientId ? (raw.profile_id as string) : '';
      return { ok: true, profile, clientId };
    },
  };
}

/** An attribute value as stored and compared (ClickHouse `value`): numbers as JavaScript prints them, booleans as true/false. */
export function attributeText(value: string | number | boolean): string {
  return typeof value === 'string' ? value : String(value);
}
