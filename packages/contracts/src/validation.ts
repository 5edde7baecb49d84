// Validation of touchpoints posted over HTTP. The JSON schema is derived from schemas/touchpoint.avsc
// (field names, types, enums, optionality, and which fields are identifiers: `"identifier": true` on a field,
// `"identifierKeys": true` on a map), then tightened with the documented bounds; semantic checks that JSON schema
// cannot express (event-time skew, survey score ranges per kind) follow.
import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { loadSchemaFile } from './avro.ts';
import type { TouchpointEvent, SurveyKind } from './generated.ts';

export interface TouchpointLimits {
  /** Longest accepted string value (ids, names, reasons). */
  maxStringLength: number;
  /** Most attributes per event. */
  maxAttributes: number;
  /** Longest attribute value. */
  maxAttributeValueLength: number;
  /** How far in the future occurred_at may be (clock skew), in ms. */
  maxFutureSkewMs: number;
  /** Longest `text` (a chat or email message, a transcript snippet): longer than a name, still bounded. */
  maxTextLength: number;
}

export const defaultTouchpointLimits: TouchpointLimits = {
  maxStringLength: 256,
  maxAttributes: 50,
  maxAttributeValueLength: 1024,
  maxFutureSkewMs: 10 * 60 * 1000,
  maxTextLength: 4000,
};

export const SURVEY_SCORE_RANGE: Record<SurveyKind, [number, number]> = {
  NPS: [0, 10],
  CSAT: [1, 5],
  CES: [1, 7],
};

type Json = Record<string, unknown>;
type AvroField = { name: string; type: unknown; default?: unknown; doc?: string; identifier?: boolean; identifierKeys?: boolean };

/**
 * What an identifier (channel, touchpoint, journey, stage, reason, attribute keys) must not contain: control
 * characters (C0, DEL, C1), lone surrogates, line/paragraph separators and the bidirectional marks and
 * overrides (U+061C, U+200E/F, U+202A–202E, U+2066–2069) that make a name display as something else
 * (docs/architecture.md §15). Identifiers are grouped, filtered and shown on dashboards: they must be plain text.
 */
const NOT_PRINTABLE = '\\p{Cc}\\p{Cs}\\u2028\\u2029\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069';
export const identifierPattern = `^[^${NOT_PRINTABLE}]*$`;
const notPrintable = new RegExp(`[${NOT_PRINTABLE}]`, 'u');
const notPrintableGlobal = new RegExp(`[${NOT_PRINTABLE}]`, 'gu');

/** Why a text is not a valid identifier ("contains …"), or undefined when it is plain printable text. */
export function identifierProblem(text: string): string | undefined {
  const m = notPrintable.exec(text);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const kind = /\p{Cc}/u.test(m[0]) ? 'the control character' : /\p{Cs}/u.test(m[0]) ? 'the lone surrogate' : code === 0x2028 || code === 0x2029 ? 'the line separator' : 'the bidirectional mark';
  const position = [...text.slice(0, m.index)].length;
  return `contains ${kind} ${hex} at position ${position}; identifiers must be printable text without control characters or bidirectional marks`;
}

/** Fields the server owns: never taken from the client. */
const SERVER_FIELDS = new Set(['received_at']);
/** Fields the client may omit although Avro has no default for them (the server fills them). */
const SERVER_FILLED = new Set(['event_id']);

function jsonSchemaOfAvro(type: unknown, limits: TouchpointLimits): Json {
  if (typeof type === 'string') {
    switch (type) {
      case 'string': return { type: 'string', minLength: 1, maxLength: limits.maxStringLength };
      case 'int': case 'long': return { type: 'integer' };
      case 'float': case 'double': return { type: 'number' };
      case 'boolean': return { type: 'boolean' };
      default: throw new Error(`no JSON schema for Avro type ${type}`);
    }
  }
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length !== 1) throw new Error('only [null, T] unions are supported in the touchpoint schema');
    const inner = jsonSchemaOfAvro(nonNull[0], limits);
    return { ...inner, nullable: true };
  }
  const t = type as Json;
  if (t.logicalType === 'timestamp-micros') {
    return {
      anyOf: [{ type: 'string', minLength: 10, maxLength: 40 }, { type: 'number' }],
      description: 'ISO-8601 with time zone (up to microsecond precision) or epoch milliseconds',
    };
  }
  switch (t.type) {
    case 'enum': return { type: 'string', enum: t.symbols };
    case 'map': return {
      type: 'object',
      maxProperties: limits.maxAttributes,
      propertyNames: { maxLength: 64, minLength: 1 },
      additionalProperties: { type: 'string', maxLength: limits.maxAttributeValueLength },
    };
    case 'record': {
      const fields = (t.fields as AvroField[]).filter((f) => !SERVER_FIELDS.has(f.name));
      const properties: Json = {};
      for (const f of fields) {
        const schema = jsonSchemaOfAvro(f.type, limits);
        if (f.identifier) schema.pattern = identifierPattern;
        if (f.identifierKeys) schema.propertyNames = { ...(schema.propertyNames as Json), pattern: identifierPattern };
        properties[f.name] = { ...schema, ...(f.doc ? { description: f.doc } : {}) };
      }
      return {
        type: 'object',
        additionalProperties: false,
        required: fields.filter((f) => f.default === undefined && !SERVER_FILLED.has(f.name)).map((f) => f.name),
        properties,
      };
    }
    default: return jsonSchemaOfAvro(t.type, limits);
  }
}

/** JSON schema of one touchpoint as posted to POST /v1/events (also used in the OpenAPI document). */
export function touchpointInputJsonSchema(limits: TouchpointLimits = defaultTouchpointLimits): Json {
  const schema = jsonSchemaOfAvro(loadSchemaFile('touchpoint.avsc'), limits);
  const text = (schema.properties as Record<string, Json>).text!;
  (schema.properties as Record<string, Json>).text = { ...text, maxLength: limits.maxTextLength };
  return schema;
}

export type ValidationResult =
  | { ok: true; event: TouchpointEvent }
  | { ok: false; errors: string[] };

function describe(err: ErrorObject): string {
  const at = err.instancePath ? err.instancePath.slice(1).replaceAll('/', '.') : '';
  const prefix = at ? `${at}: ` : '';
  if (err.keyword === 'pattern' && err.params.pattern === identifierPattern) {
    // An attribute key (propertyNames) or an identifier field's value.
    const text = (err as ErrorObject & { propertyName?: string }).propertyName ?? String(err.data);
    const what = (err as ErrorObject & { propertyName?: string }).propertyName !== undefined ? `${prefix.slice(0, -2)} key ${JSON.stringify(text.replace(notPrintableGlobal, '\uFFFD'))}: ` : prefix;
    return `${what}${identifierProblem(text) ?? 'must be printable text'}`;
  }
  switch (err.keyword) {
    case 'required': return `${prefix ? prefix.slice(0, -2) + '.' : ''}${err.params.missingProperty}: is required`;
    case 'additionalProperties': return `${prefix ? prefix.slice(0, -2) + '.' : ''}${err.params.additionalProperty}: unknown field`;
    case 'enum': return `${prefix}must be one of ${(err.params.allowedValues as string[]).join(', ')}`;
    case 'anyOf': return `${prefix}must be an ISO-8601 timestamp with time zone or epoch milliseconds`;
    default: return `${prefix}${err.message}`;
  }
}

const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 timestamp or epoch milliseconds to epoch microseconds, keeping sub-millisecond digits. */
export function toEpochMicros(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? Math.round(value * 1000) : undefined;
  }
  const m = ISO_TIMESTAMP.exec(value);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return seconds * 1000 + Number(fraction);
}

export interface TouchpointValidator {
  validate(input: unknown, nowMs: number): ValidationResult;
}

export function createTouchpointValidator(limits: TouchpointLimits = defaultTouchpointLimits): TouchpointValidator {
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  const check = ajv.compile(touchpointInputJsonSchema(limits));
  return {
    validate(input: unknown, nowMs: number): ValidationResult {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        return { ok: false, errors: ['event: must be a JSON object'] };
      }
      if (!check(input)) {
        // For an anyOf (the timestamp), one message about the field beats one per alternative tried.
        const all = check.errors ?? [];
        const anyOfPaths = new Set(all.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
        const errors = all.filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath));
        // propertyNames also reports a generic "property name must be valid" after the precise error.
        return { ok: false, errors: [...new Set(errors.filter((e) => e.keyword !== 'propertyNames').map(describe))] };
      }
      const raw = input as Json;
      const errors: string[] = [];
      const occurredAt = toEpochMicros(raw.occurred_at as string | number);
      if (occurredAt === undefined) {
        errors.push('occurred_at: must be an ISO-8601 timestamp with time zone (e.g. 2026-01-31T09:30:00.123Z) or epoch milliseconds');
      } else if (occurredAt > (nowMs + limits.maxFutureSkewMs) * 1000) {
        errors.push(`occurred_at: is more than ${Math.round(limits.maxFutureSkewMs / 1000)} s in the future; check the sender's clock`);
      } else if (occurredAt < 0) {
        errors.push('occurred_at: is before 1970');
      }
      const sentiment = raw.sentiment as number | null | undefined;
      if (sentiment != null && (sentiment < -1 || sentiment > 1)) errors.push('sentiment: must be between -1 and 1');
      for (const f of ['duration_ms', 'wait_ms'] as const) {
        const v = raw[f] as number | null | undefined;
        if (v != null && v < 0) errors.push(`${f}: must be >= 0`);
      }
      const survey = raw.survey as { kind: SurveyKind; score: number; comment?: string | null } | null | undefined;
      if (survey) {
        const [min, max] = SURVEY_SCORE_RANGE[survey.kind];
        if (survey.score < min || survey.score > max) errors.push(`survey.score: ${survey.kind} scores are ${min}..${max}`);
      }
      if (errors.length) return { ok: false, errors };
      const event: TouchpointEvent = {
        event_id: (raw.event_id as string | undefined) ?? randomUUID(),
        customer_id: raw.customer_id as string,
        occurred_at: occurredAt!,
        received_at: nowMs * 1000,
        channel: raw.channel as string,
        touchpoint: raw.touchpoint as string,
        initiator: raw.initiator as TouchpointEvent['initiator'],
        journey: (raw.journey as string | null | undefined) ?? null,
        stage: (raw.stage as string | null | undefined) ?? null,
        reason: (raw.reason as string | null | undefined) ?? null,
        outcome: (raw.outcome as TouchpointEvent['outcome'] | undefined) ?? null,
        duration_ms: (raw.duration_ms as number | null | undefined) ?? null,
        wait_ms: (raw.wait_ms as number | null | undefined) ?? null,
        sentiment: sentiment ?? null,
        survey: survey ? { kind: survey.kind, score: survey.score, comment: survey.comment ?? null } : null,
        agent_id: (raw.agent_id as string | null | undefined) ?? null,
        session_id: (raw.session_id as string | null | undefined) ?? null,
        attributes: { ...((raw.attributes as Record<string, string> | null | undefined) ?? {}) },
        text: (raw.text as string | null | undefined) ?? null,
      };
      return { ok: true, event };
    },
  };
}
