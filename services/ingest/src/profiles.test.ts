import { describe, expect, it } from 'vitest';
import { codecs, createProfileValidator } from '@touchstream/contracts';
import type { BodyItem } from './body.ts';
import { prepareProfiles } from './profiles.ts';

const item = (index: number, value: unknown): BodyItem => ({ index, ok: true, value, raw: Buffer.from(JSON.stringify(value)) });
const nowMs = Date.parse('2026-03-01T00:00:00Z');
const opts = { validator: createProfileValidator(), source: 'crm', contentType: 'application/json', nowMs };

describe('prepareProfiles', () => {
  it('encodes the valid profiles keyed by customer, dead-letters the invalid ones with their reasons, keeps the order', () => {
    const batch = prepareProfiles(
      [
        item(0, { customer_id: 'c1', attributes: { tier: 'gold' }, updated_at: '2026-01-01T00:00:00Z' }),
        item(1, { customer_id: 'c2', attributes: { tier: ['x'] } }),
        { index: 2, ok: false, errors: ['line 3: not JSON'], raw: Buffer.from('{') },
        item(3, { customer_id: 'c3', profile_id: 'crm-77', attributes: { age: 70, vip: false } }),
      ],
      opts,
    );
    expect(batch.profiles.map((m) => m.key)).toEqual(['c1', 'c3']);
    const first = codecs.profile.decode(batch.profiles[0]!.value);
    expect(first).toMatchObject({ customer_id: 'c1', updated_at: Date.parse('2026-01-01T00:00:00Z') * 1000, received_at: nowMs * 1000, attributes: { tier: 'gold' } });
    expect(batch.profileIds).toEqual([first.profile_id, 'crm-77']);
    expect(batch.rejected).toEqual([
      { index: 1, errors: ['attributes.tier: must be a string, a number, a boolean or null (null removes the attribute)'] },
      { index: 2, errors: ['line 3: not JSON'] },
    ]);
    const deadLetters = batch.deadLetters.map((m) => codecs.deadLetter.decode(m.value));
    expect(deadLetters.map((d) => [d.request_index, d.stage, d.source, d.reasons.length])).toEqual([[1, 'ingest', 'crm', 1], [2, 'ingest', 'crm', 1]]);
  });

  it('derives the same profile_id for a retried update, pseudonymises, and refuses erased customers', () => {
    const update = item(0, { customer_id: 'c1', attributes: { tier: 'gold' }, updated_at: '2026-01-01T00:00:00Z' });
    const a = prepareProfiles([update], opts);
    const b = prepareProfiles([update], { ...opts, nowMs: nowMs + 5000 });
    expect(a.profileIds).toEqual(b.profileIds);
    const hidden = prepareProfiles([update], { ...opts, storedCustomerId: (id) => `p_${id}`, isErased: (id) => id === 'p_c1' });
    expect(hidden.profiles).toEqual([]);
    expect(hidden.deadLetters).toEqual([]);
    expect(hidden.rejected).toEqual([{ index: 0, code: 'CUSTOMER_ERASED', errors: [expect.stringMatching(/erased/)] }]);
    const pseudonymised = prepareProfiles([update], { ...opts, storedCustomerId: (id) => `p_${id}` });
    expect(pseudonymised.profiles[0]!.key).toBe('p_c1');
  });
});
