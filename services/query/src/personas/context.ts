// The personas in force for a request: the query module keeps PERSONAS_FILE loaded (reloaded on change and SIGHUP);
// routes ask here for its SQL (built once per version of the file) and check a requested persona against it.
import type { Personas } from '@touchstream/contracts/personas';
import { personaNames } from '@touchstream/contracts/personas';
import { ApiError, invalidParameter } from '../shared/errors.ts';
import { personaSql, type PersonaSql } from './sql.ts';

export interface PersonasSource {
  readonly current: Personas;
}

const built = new WeakMap<Personas, PersonaSql>();

function sqlOf(personas: Personas): PersonaSql {
  let sql = built.get(personas);
  if (!sql) built.set(personas, (sql = personaSql(personas)));
  return sql;
}

export const personasNotConfigured = (what: string) =>
  new ApiError(400, 'PERSONAS_NOT_CONFIGURED', `${what} needs personas, and this deployment has none: set PERSONAS_FILE to a personas file (docs/architecture.md §20.6)`);

/**
 * The persona SQL when a request needs it (a persona breakdown or filter), else undefined. Throws 400 when personas are
 * needed but not configured, or when `persona` names none of them.
 */
export function personaSqlFor(source: PersonasSource | undefined, need: { breakdown?: boolean; persona?: string }): PersonaSql | undefined {
  if (!need.breakdown && !need.persona) return undefined;
  if (!source) throw personasNotConfigured(need.breakdown ? 'a persona breakdown' : 'the persona filter');
  const personas = source.current;
  if (need.persona !== undefined && need.persona !== '') {
    const names = personaNames(personas);
    if (!names.includes(need.persona)) throw invalidParameter(`persona ${JSON.stringify(need.persona)} is not in the personas file; it has ${names.join(', ')}`);
  }
  return sqlOf(personas);
}

/** Route querystring property `persona`. */
export const personaProperty = (what: string) =>
  ({
    persona: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: `${what} (a name from the personas file, GET /v1/personas; the fallback persona includes customers without a profile).`,
      examples: ['digital_native'],
    },
  }) as const;
