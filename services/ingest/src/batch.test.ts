import { describe, expect, it } from 'vitest';
import { codecs, createTouchpointValidator } from '@touchstream/contracts';
import { parseEventsBody } from './body.ts';
import { deadLetterMessage, derivedEventId, prepareBatch } from './batch.ts';

const nowMs = Date.parse('2026-01-31T10:00:00Z');
const validator = createTouchpointValidator();
const event = (fields: Record<string, unknown> = {}) => ({
  customer_id: 'cust-1',
  occurred_at: '2026-01-31T09:59:00.123456Z',
  channel: 'ivr',
  touchpoint: 'billing_inquiry_call',
  initiator: 'customer',
  ...fields,
});

function prepare(body: string, media: 'json' | 'ndjson' = 'json') {
  const parsed = parseEventsBody(Buffer.from(body), media, { maxEvents: 100 });
  if (parsed.kind !== 'items') throw new Error(`not items: ${parsed.kind}`);
  return prepareBatch(parsed.items, { validator, source: 'web', contentType: `application/${media === 'json' ? 'json' : 'x-ndjson'}`, nowMs });
}

describe('prepareBatch', () => {
  it('dead-letters an event whose identifiers hold control characters or bidi marks, with the reason, and keeps the rest', () => {
    const batch = prepare(JSON.stringify([event({ channel: '\u0000\u0000\u0000' }), event({ customer_id: 'cust-ok' }), event({ reason: 'refund\u202E' })]));
    expect(batch.touchpoints.map((m) => m.key)).toEqual(['cust-ok']);
    expect(batch.rejected).toEqual([
      { index: 0, errors: [expect.stringMatching(/^channel: contains the control character U\+0000 at position 0/)] },
      { index: 2, errors: [expect.stringMatching(/^reason: contains the bidirectional mark U\+202E at position 6/)] },
    ]);
    const kept = batch.deadLetters.map((m) => codecs.deadLetter.decode(m.value));
    expect(kept.map((d) => d.reasons[0])).toEqual([expect.stringMatching(/U\+0000/), expect.stringMatching(/U\+202E/)]);
  });

  it('encodes valid events keyed by customer and dead-letters the rest keyed by source', () => {
    const body = JSON.stringify([
      event({ event_id: 'e-1' }),
      event({ customer_id: undefined, initiator: 'robot' }),
      event({ customer_id: 'cust-2' }),
      'not an object',
    ]);
    const batch = prepare(body);

    expect(batch.touchpoints.map((m) => m.key)).toEqual(['cust-1', 'cust-2']);
    expect(batch.touchpoints[0]!.headers).toEqual({ source: 'web' });
    const first = codecs.touchpoint.decode(batch.touchpoints[0]!.value);
    expect(first).toMatchObject({ event_id: 'e-1', customer_id: 'cust-1', occurred_at: Date.parse('2026-01-31T09:59:00.123Z') * 1000 + 456, received_at: nowMs * 1000 });
    // event_id is assigned when absent (derived from the source and the event), and reported back in request order.
    const second = codecs.touchpoint.decode(batch.touchpoints[1]!.value);
    expect(second.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(batch.eventIds).toEqual(['e-1', second.event_id]);

    expect(batch.rejected).toEqual([
      { index: 1, errors: expect.arrayContaining(['customer_id: is required', 'initiator: must be one of customer, company']) },
      { index: 3, errors: ['event: must be a JSON object'] },
    ]);
    expect(batch.deadLetters.map((m) => m.key)).toEqual(['web', 'web']);
    const deadLetter = codecs.deadLetter.decode(batch.deadLetters[0]!.value);
    expect(deadLetter).toMatchObject({
      source: 'web',
      stage: 'ingest',
      content_type: 'application/json',
      request_index: 1,
      received_at: nowMs * 1000,
      origin_topic: null,
    });
    expect(deadLetter.reasons).toEqual(batch.rejected[0]!.errors);
    expect(JSON.parse(deadLetter.payload.toString())).toEqual(JSON.parse(body)[1]);
    expect(batch.deadLetters[0]!.headers).toEqual({ stage: 'ingest', source: 'web' });
  });

  it('dead-letters malformed NDJSON lines with the line as payload', () => {
    const batch = prepare(`${JSON.stringify(event())}\n{"customer_id": \n\n${JSON.stringify(event({ wait_ms: -1 }))}\n`, 'ndjson');
    expect(batch.touchpoints).toHaveLength(1);
    expect(batch.rejected.map((r) => r.index)).toEqual([1, 3]);
    expect(batch.rejected[0]!.errors[0]).toMatch(/^line 2: invalid JSON/);
    expect(batch.rejected[1]!.errors).toEqual(['wait_ms: must be >= 0']);
    const deadLetter = codecs.deadLetter.decode(batch.deadLetters[0]!.value);
    expect(deadLetter.payload.toString()).toBe('{"customer_id": ');
    expect(deadLetter.content_type).toBe('application/x-ndjson');
  });

  it('rejects events whose clock is too far ahead', () => {
    const batch = prepare(JSON.stringify(event({ occurred_at: nowMs + 60 * 60 * 1000 })));
    expect(batch.touchpoints).toHaveLength(0);
    expect(batch.rejected[0]!.errors[0]).toMatch(/in the future/);
  });
});

describe('the event_id of an event posted without one', () => {
  const idOf = (body: unknown, opts: { source?: string; nowMs?: number } = {}) => {
    const parsed = parseEventsBody(Buffer.from(JSON.stringify(body)), 'json', { maxEvents: 100 });
    if (parsed.kind !== 'items') throw new Error(parsed.kind);
    const batch = prepareBatch(parsed.items, { validator, source: opts.source ?? 'web', contentType: 'application/json', nowMs: opts.nowMs ?? nowMs });
    return batch.eventIds;
  };

  it('is the same when the same event is posted again (a retry after a 503), whatever the key order, spelling of the time or arrival time', () => {
    const first = idOf(event({ attributes: { a: '1', b: '2' } }));
    const retried = idOf(
      { initiator: 'customer', touchpoint: 'billing_inquiry_call', channel: 'ivr', occurred_at: '2026-01-31T10:59:00.123456+01:00', customer_id: 'cust-1', attributes: { b: '2', a: '1' } },
      { nowMs: nowMs + 30_000 },
    );
    expect(retried).toEqual(first);
    expect(first[0]).toBe(derivedEventId('web', codecs.touchpoint.decode(prepare(JSON.stringify(event({ attributes: { a: '1', b: '2' } }))).touchpoints[0]!.value)));
  });

  it('differs when any field, or the source, differs', () => {
    const base = idOf(event())[0];
    const variants = [
      idOf(event({ occurred_at: '2026-01-31T09:59:00.123457Z' })),
      idOf(event({ customer_id: 'cust-2' })),
      idOf(event({ outcome: 'completed' })),
      idOf(event({ attributes: { k: 'v' } })),
      idOf(event({ journey: 'billing' })),
      idOf(event({ text: 'Still not fixed.' })),
      idOf(event(), { source: 'ivr' }),
    ].map((ids) => ids[0]);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('leaves out a null text, so an event without text keeps the id it had before the field existed', () => {
    const decoded = codecs.touchpoint.decode(prepare(JSON.stringify(event())).touchpoints[0]!.value);
    const { text: _text, ...withoutText } = decoded;
    expect(derivedEventId('web', decoded)).toBe(derivedEventId('web', withoutText as typeof decoded));
  });

  it("is the client's own when given", () => {
    expect(idOf([event({ event_id: 'mine-1' }), event()])).toEqual(['mine-1', idOf(event())[0]]);
  });
});

describe('deadLetterMessage', () => {
  it('round-trips through the dead-letter codec', () => {
    const message = deadLetterMessage({
      source: 'ivr',
      reasons: ['the body is not valid JSON'],
      payload: Buffer.from('{oops'),
      contentType: 'application/json',
      requestIndex: null,
      receivedAtMs: nowMs,
    });
    expect(message.key).toBe('ivr');
    expect(codecs.deadLetter.decode(message.value)).toMatchObject({
      source: 'ivr',
      stage: 'ingest',
      payload: Buffer.from('{oops'),
      reasons: ['the body is not valid JSON'],
      request_index: null,
      received_at: nowMs * 1000,
    });
  });
});

describe('prepareBatch with privacy settings (docs/architecture.md §14)', () => {
  const items = (events: object[]) => {
    const parsed = parseEventsBody(Buffer.from(JSON.stringify(events)), 'json', { maxEvents: 100 });
    if (parsed.kind !== 'items') throw new Error(`not items: ${parsed.kind}`);
    return parsed.items;
  };

  it('replaces customer_id by its pseudonym before encoding: the raw id reaches neither the key nor the value', () => {
    const batch = prepareBatch(items([event({ customer_id: 'alice@example.com' })]), {
      validator, source: 'web', contentType: 'application/json', nowMs,
      storedCustomerId: (id) => `p_${id.length}`,
    });
    expect(batch.touchpoints[0]!.key).toBe('p_17');
    expect(batch.touchpoints[0]!.value.includes(Buffer.from('alice@example.com'))).toBe(false);
    expect(codecs.touchpoint.decode(batch.touchpoints[0]!.value).customer_id).toBe('p_17');
  });

  it('refuses events of erased customers with CUSTOMER_ERASED, without a dead letter, and keeps the others', () => {
    const batch = prepareBatch(items([event({ customer_id: 'gone' }), event({ customer_id: 'here' })]), {
      validator, source: 'web', contentType: 'application/json', nowMs,
      isErased: (id) => id === 'gone',
    });
    expect(batch.touchpoints.map((m) => m.key)).toEqual(['here']);
    expect(batch.rejected).toEqual([{ index: 0, code: 'CUSTOMER_ERASED', errors: [expect.stringMatching(/erased/)] }]);
    expect(batch.deadLetters).toEqual([]);
  });
});
