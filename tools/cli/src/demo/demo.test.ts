// The demo's profiles against the demo's personas file: every persona of personas/demo.yaml has customers in a run
// of the demo generator, so `./touchstream up` shows each in the persona breakdowns.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePersonas, personaNames, personaOf } from '@touchstream/contracts/personas';
import { createProfileValidator } from '@touchstream/contracts';
import { demoProfile, JOURNEYS, seededRng } from './demo.ts';

describe('demo profiles', () => {
  const personas = parsePersonas(readFileSync(new URL('../../../../personas/demo.yaml', import.meta.url), 'utf8'), 'personas/demo.yaml');

  it('give every persona of personas/demo.yaml customers, and are valid profiles', () => {
    const rng = seededRng(7);
    const validator = createProfileValidator();
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      for (const kind of Object.keys(JOURNEYS) as Array<keyof typeof JOURNEYS>) {
        const attributes = demoProfile(kind, rng);
        expect(validator.validate({ customer_id: `c${i}`, attributes }, Date.now())).toMatchObject({ ok: true });
        const persona = personaOf(personas, attributes);
        counts.set(persona, (counts.get(persona) ?? 0) + 1);
      }
    }
    for (const name of personaNames(personas)) expect(counts.get(name) ?? 0, name).toBeGreaterThan(10);
  });
});
