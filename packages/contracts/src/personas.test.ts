import { describe, expect, it } from 'vitest';
import { parsePersonas, personaNames, personaOf, PersonasError } from './personas.ts';
import { createProfileValidator, derivedProfileId } from './profile-validation.ts';

const file = `
version: 3
fallback: { name: mainstream }
personas:
  - name: premium
    description: Long-tenured gold customers.
    when:
      tier: { in: [gold, platinum] }
      tenure_months: { gte: 24 }
  - name: digital
    when: { preferred_channel: web, age: { lt: 35 } }
  - name: no_newsletter
    when: { newsletter: { not_in: [true] }, segment: { exists: true } }
`;

describe('personas file', () => {
  const personas = parsePersonas(file, 'p.yaml');

  it('keeps the rules in order, shorthand equals expanded, the version with the content hash', () => {
    expect(personas.version).toMatch(/^3\+[0-9a-f]{8}$/);
    expect(personaNames(personas)).toEqual(['premium', 'digital', 'no_newsletter', 'mainstream']);
    expect(personas.rules[1]!.conditions).toEqual([{ attribute: 'preferred_channel', equals: 'web' }, { attribute: 'age', lt: 35 }]);
  });

  it('first match wins; the kind of a value counts; no profile is the fallback', () => {
    expect(personaOf(personas, { tier: 'gold', tenure_months: 30, preferred_channel: 'web', age: 20 })).toBe('premium');
    expect(personaOf(personas, { tier: 'gold', tenure_months: 12, preferred_channel: 'web', age: 20 })).toBe('digital');
    // "20" is a string: a range needs a number.
    expect(personaOf(personas, { preferred_channel: 'web', age: '20' })).toBe('mainstream');
    // not_in holds without the attribute; exists needs it.
    expect(personaOf(personas, { segment: 'smb' })).toBe('no_newsletter');
    expect(personaOf(personas, { segment: 'smb', newsletter: true })).toBe('mainstream');
    expect(personaOf(personas, {})).toBe('mainstream');
    expect(personaOf(personas, undefined)).toBe('mainstream');
  });

  it('reports every problem at once, with its path', () => {
    const bad = `
fallback: premium
personas:
  - name: premium
    when: { age: { gte: 50, lt: 30 }, tier: {} }
  - name: premium
    when: { x: { gt: 1, gte: 2 }, y: { in: [] } }
  - name: "has space"
`;
    let error: PersonasError | undefined;
    try {
      parsePersonas(bad, 'bad.yaml');
    } catch (err) {
      error = err as PersonasError;
    }
    expect(error).toBeInstanceOf(PersonasError);
    expect(error!.problems.join('\n')).toMatch(/personas\.0\.when\.tier/);
    expect(error!.problems.join('\n')).toMatch(/personas\.1\.when\.y/);
    expect(error!.problems.join('\n')).toMatch(/personas\.2\.name/);
    // The semantic checks run once the shape is valid.
    const semantic = `
fallback: premium
personas:
  - name: premium
    when: { age: { gte: 50, lt: 30 } }
  - name: premium
    when: { x: { gt: 1, gte: 2 } }
`;
    expect(() => parsePersonas(semantic, 's.yaml')).toThrow(/fallback's name[\s\S]*range is empty[\s\S]*already the name of personas\.0[\s\S]*gt or gte/);
  });
});

describe('profile validation', () => {
  const validator = createProfileValidator();
  const now = Date.parse('2026-03-01T00:00:00Z');

  it('takes a flat map of strings, numbers, booleans and null; updated_at defaults to now', () => {
    const result = validator.validate({ attributes: { tier: 'gold', tenure_months: 38, paperless: true, churn_flag: null } }, now, 'cust-42');
    expect(result).toEqual({
      ok: true,
      clientId: false,
      profile: { profile_id: '', customer_id: 'cust-42', updated_at: now * 1000, received_at: now * 1000, attributes: { tier: 'gold', tenure_months: 38, paperless: true, churn_flag: null } },
    });
  });

  it('rejects with one precise reason per problem', () => {
    const result = validator.validate({ customer_id: 'c', attributes: { tier: { nested: 1 }, 'bad\u0007key': 1 }, updated_at: '2027-01-01T00:00:00Z', colour: 'x' }, now);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      'colour: unknown field',
      'attributes key "bad\\u0007key": contains the control character U+0007 at position 3; identifiers must be printable text without control characters or bidirectional marks',
      'attributes.tier: must be a string, a number, a boolean or null (null removes the attribute)',
    ]);
    const future = validator.validate({ customer_id: 'c', attributes: { a: 1 }, updated_at: '2027-01-01T00:00:00Z' }, now);
    expect(!future.ok && future.errors).toEqual(["updated_at: is more than 600 s in the future; check the sender's clock"]);
    expect(validator.validate({ attributes: { a: 1 } }, now)).toEqual({ ok: false, errors: ['customer_id: is required'] });
    expect(validator.validate({ customer_id: 'c', attributes: {} }, now)).toEqual({ ok: false, errors: ['attributes: must name at least one attribute'] });
  });

  it('derives the same profile_id for the same update, another for another', () => {
    const p = { customer_id: 'c', updated_at: 1, attributes: { b: 1, a: 'x' } };
    expect(derivedProfileId('crm', p)).toBe(derivedProfileId('crm', { ...p, attributes: { a: 'x', b: 1 } }));
    expect(derivedProfileId('crm', p)).not.toBe(derivedProfileId('crm', { ...p, updated_at: 2 }));
    expect(derivedProfileId('crm', p)).not.toBe(derivedProfileId('web', p));
  });
});
