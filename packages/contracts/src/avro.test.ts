import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { codecs, createCodec, rabinFingerprint, SchemaError, type TouchpointEvent } from './index.ts';
import { generateTypes, generatedTypesPath } from './codegen.ts';

export const sampleTouchpoint: TouchpointEvent = {
  event_id: 'e-1',
  customer_id: 'c-1',
  occurred_at: 1_790_000_000_123_456,
  received_at: 1_790_000_000_200_000,
  channel: 'phone',
  touchpoint: 'billing_inquiry_call',
  initiator: 'customer',
  journey: 'billing_support',
  stage: 'support',
  reason: 'billing_dispute',
  outcome: 'unresolved',
  duration_ms: 420_000,
  wait_ms: 600_000,
  sentiment: -0.75,
  survey: { kind: 'NPS', score: 3, comment: 'called twice' },
  agent_id: 'agent-7',
  session_id: null,
  attributes: { plan: 'unlimited' },
  text: 'I have called twice about this bill',
};

describe('Avro codecs', () => {
  it('round-trips a touchpoint with sub-millisecond event time', () => {
    const buf = codecs.touchpoint.encode(sampleTouchpoint);
    expect(buf.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(codecs.touchpoint.decode(buf)).toEqual(sampleTouchpoint);
  });

  it('computes the CRC-64-AVRO fingerprint of the specification', () => {
    // Fingerprint of the canonical form `"int"` (Avro spec test vector: 0x7275d51a3f395c8f).
    expect(rabinFingerprint('"int"').toString(16)).toBe('7275d51a3f395c8f');
  });

  it('rejects bytes that are not single-object encoded, and unknown writer schemas', () => {
    expect(() => codecs.touchpoint.decode(Buffer.from('{"json": true}'))).toThrow(SchemaError);
    const other = createCodec<{ x: number }>({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] });
    expect(() => codecs.touchpoint.decode(other.encode({ x: 1 }))).toThrow(/unknown writer schema/);
  });

  it('reads records of a newer writer schema with an added optional field, and the reverse', () => {
    const v1 = { type: 'record', name: 'T', namespace: 'x', fields: [{ name: 'id', type: 'string' }] } as const;
    const v2 = { ...v1, fields: [...v1.fields, { name: 'note', type: ['null', 'string'], default: null }] } as const;
    const reader1 = createCodec<{ id: string }>(v1 as never, [v2 as never]);
    const reader2 = createCodec<{ id: string; note: string | null }>(v2 as never, [v1 as never]);
    const written2 = createCodec<{ id: string; note: string | null }>(v2 as never).encode({ id: 'a', note: 'n' });
    const written1 = createCodec<{ id: string }>(v1 as never).encode({ id: 'b' });
    expect(reader1.decode(written2)).toEqual({ id: 'a' });
    expect(reader2.decode(written1)).toEqual({ id: 'b', note: null });
  });

  it('keeps generated.ts in step with the schemas (run packages/contracts/src/codegen.ts after editing schemas/)', () => {
    expect(readFileSync(generatedTypesPath, 'utf8')).toBe(generateTypes());
  });
});
