import { describe, expect, it } from 'vitest';
import { loadSchemaFile } from './avro.ts';
import { createTouchpointValidator, identifierPattern, identifierProblem, toEpochMicros, touchpointInputJsonSchema } from './index.ts';

const now = Date.parse('2026-11-23T12:00:00Z');
const validator = createTouchpointValidator();
const base = {
  customer_id: 'c-1',
  occurred_at: '2026-11-23T11:59:00.123456Z',
  channel: 'web',
  touchpoint: 'checkout_page',
  initiator: 'customer',
};

const errorsOf = (input: unknown) => {
  const r = validator.validate(input, now);
  return r.ok ? [] : r.errors;
};

describe('touchpoint validation', () => {
  it('accepts a minimal event, assigns event_id and received_at, keeps microseconds', () => {
    const r = validator.validate(base, now);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.event.received_at).toBe(now * 1000);
    expect(r.event.occurred_at).toBe(Date.parse('2026-11-23T11:59:00.123Z') * 1000 + 456);
    expect(r.event.journey).toBeNull();
    expect(r.event.attributes).toEqual({});
  });

  it('keeps a client event_id (idempotency key)', () => {
    const r = validator.validate({ ...base, event_id: 'client-1' }, now);
    expect(r.ok && r.event.event_id).toBe('client-1');
  });

  it('names each missing, mistyped or unknown field', () => {
    const { customer_id: _, ...missing } = base;
    expect(errorsOf(missing)).toEqual(['customer_id: is required']);
    expect(errorsOf({ ...base, duration_ms: 'long' })).toEqual(['duration_ms: must be integer']);
    expect(errorsOf({ ...base, initiator: 'robot' })).toEqual(['initiator: must be one of customer, company']);
    expect(errorsOf({ ...base, customerId: 'x' })).toEqual(['customerId: unknown field']);
    expect(errorsOf({ ...base, survey: { kind: 'NPS' } })).toEqual(['survey.score: is required']);
    expect(errorsOf([base])).toEqual(['event: must be a JSON object']);
    expect(errorsOf(null)).toEqual(['event: must be a JSON object']);
  });

  it('rejects event times too far in the future but accepts old ones (backfill)', () => {
    expect(errorsOf({ ...base, occurred_at: '2026-11-23T12:09:59Z' })).toEqual([]);
    expect(errorsOf({ ...base, occurred_at: '2026-11-23T12:10:01Z' })[0]).toMatch(/in the future/);
    expect(errorsOf({ ...base, occurred_at: '2025-01-01T00:00:00Z' })).toEqual([]);
    expect(errorsOf({ ...base, occurred_at: 'yesterday' })[0]).toMatch(/ISO-8601/);
    expect(errorsOf({ ...base, occurred_at: '2026-11-23T11:00:00' })[0]).toMatch(/time zone/);
  });

  it('checks survey scores per kind and sentiment bounds', () => {
    expect(errorsOf({ ...base, survey: { kind: 'NPS', score: 10 } })).toEqual([]);
    expect(errorsOf({ ...base, survey: { kind: 'NPS', score: 11 } })).toEqual(['survey.score: NPS scores are 0..10']);
    expect(errorsOf({ ...base, survey: { kind: 'CSAT', score: 0 } })).toEqual(['survey.score: CSAT scores are 1..5']);
    expect(errorsOf({ ...base, sentiment: -1.5 })).toEqual(['sentiment: must be between -1 and 1']);
  });

  it('bounds strings and attributes', () => {
    expect(errorsOf({ ...base, customer_id: 'x'.repeat(257) })[0]).toMatch(/customer_id: must NOT have more than 256 characters/);
    const attributes = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(errorsOf({ ...base, attributes })[0]).toMatch(/attributes: must NOT have more than 50 properties/);
  });

  it('parses epoch milliseconds and ISO offsets', () => {
    expect(toEpochMicros(1_700_000_000_000)).toBe(1_700_000_000_000_000);
    expect(toEpochMicros('2026-01-01T01:00:00+01:00')).toBe(Date.parse('2026-01-01T00:00:00Z') * 1000);
    expect(toEpochMicros(Number.NaN)).toBeUndefined();
  });

  it('derives the HTTP JSON schema from the Avro schema', () => {
    const schema = touchpointInputJsonSchema() as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toEqual(['customer_id', 'occurred_at', 'channel', 'touchpoint', 'initiator']);
    expect(Object.keys(schema.properties)).not.toContain('received_at');
    expect(Object.keys(schema.properties)).toContain('survey');
  });
});

describe('identifiers are printable text', () => {
  it('rejects control characters and bidirectional marks with the character and its position', () => {
    expect(errorsOf({ ...base, channel: 'we\u0000b' })).toEqual([
      'channel: contains the control character U+0000 at position 2; identifiers must be printable text without control characters or bidirectional marks',
    ]);
    expect(errorsOf({ ...base, journey: '\u202Egnillib' })[0]).toMatch(/^journey: contains the bidirectional mark U\+202E at position 0/);
    expect(errorsOf({ ...base, touchpoint: 'a\u200Fb' })[0]).toMatch(/^touchpoint: .*U\+200F/);
    expect(errorsOf({ ...base, stage: 'x\u2066y' })[0]).toMatch(/^stage: .*U\+2066/);
    expect(errorsOf({ ...base, reason: 'tab\there' })[0]).toMatch(/^reason: contains the control character U\+0009 at position 3/);
    expect(errorsOf({ ...base, channel: 'x\u0085' })[0]).toMatch(/U\+0085/); // C1 control
    expect(errorsOf({ ...base, attributes: { 'plan\u0007': 'gold' } })).toEqual([
      'attributes key "plan\uFFFD": contains the control character U+0007 at position 4; identifiers must be printable text without control characters or bidirectional marks',
    ]);
  });

  it('accepts any printable text, accents, scripts and emoji included, and null optional identifiers', () => {
    const ok = { ...base, channel: 'téléphone', touchpoint: 'استفسار_فاتورة', journey: '請求 サポート', stage: 'support 🚀', reason: null, attributes: { 'plan tier': 'a\u0000b' } };
    expect(errorsOf(ok)).toEqual([]); // attribute values are free text, only keys are identifiers
  });

  it('keeps identifiers bounded in length', () => {
    expect(errorsOf({ ...base, channel: 'x'.repeat(257) })).toEqual(['channel: must NOT have more than 256 characters']);
    expect(errorsOf({ ...base, attributes: { ['k'.repeat(65)]: 'v' } })[0]).toMatch(/must NOT have more than 64 characters/);
  });

  it('takes which fields are identifiers from schemas/touchpoint.avsc, and shows the rule in the OpenAPI schema', () => {
    const fields = (loadSchemaFile('touchpoint.avsc') as { fields: Array<{ name: string; identifier?: boolean; identifierKeys?: boolean }> }).fields;
    expect(fields.filter((f) => f.identifier).map((f) => f.name)).toEqual(['channel', 'touchpoint', 'journey', 'stage', 'reason']);
    expect(fields.filter((f) => f.identifierKeys).map((f) => f.name)).toEqual(['attributes']);
    const schema = touchpointInputJsonSchema() as { properties: Record<string, { pattern?: string; propertyNames?: { pattern?: string } }> };
    expect(schema.properties.channel!.pattern).toBe(identifierPattern);
    expect(schema.properties.attributes!.propertyNames!.pattern).toBe(identifierPattern);
    expect(schema.properties.customer_id!.pattern).toBeUndefined();
    expect(identifierProblem('plain')).toBeUndefined();
  });
});
