// The personas file (personas.yaml, PERSONAS_FILE): which customers are which persona, decided from their profile
// attributes (schemas/profile.avsc) by ordered rules, the first match winning, and a fallback persona for customers
// that match no rule or have no profile. Validated as a whole (every problem at once, with its path), and kept in
// step with the file like the rules and the touchpoint catalogue (packages/runtime/src/watched-file.ts): polled, and
// re-read on reload() (SIGHUP). An invalid new file is rejected and logged; the personas in force stay.
// docs/architecture.md §20.6. The query service turns the rules into SQL (services/query/src/personas/sql.ts); the
// evaluator here states the same semantics in TypeScript (tests, the demo).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { watchFile, type FileReload, type WatchedFile } from '@touchstream/runtime/watched-file';
import { parseDocument } from 'yaml';
import { z } from 'zod';

/** A value an attribute may hold (profile.avsc). */
export type AttributeValue = string | number | boolean;

const personaName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a persona name is 1–64 letters, digits, _, . or - (it is a breakdown key and a URL parameter)');
const attributeName = z.string().min(1).max(64);
const scalar = z.union([z.string().min(1).max(256), z.number().refine(Number.isFinite, 'must be a finite number'), z.boolean()]);

const conditionObject = z
  .strictObject({
    equals: scalar.optional(),
    in: z.array(scalar).min(1).max(1000).optional(),
    not_in: z.array(scalar).min(1).max(1000).optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    exists: z.boolean().optional(),
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'a condition needs at least one of equals, in, not_in, gt, gte, lt, lte, exists');

/** `tier: gold` is short for `tier: {equals: gold}`. */
const condition = z.union([scalar.transform((v) => ({ equals: v })), conditionObject]);

const personaSchema = z.strictObject({
  name: personaName,
  description: z.string().min(1).max(2000).optional(),
  /** Every condition must hold (AND); no `when` (or an empty one) matches every customer with a profile. */
  when: z.record(attributeName, condition).optional(),
});

const fileSchema = z.strictObject({
  version: z.union([z.string().min(1), z.number()]).transform(String).optional(),
  fallback: z.union([personaName.transform((name) => ({ name, description: undefined as string | undefined })), z.strictObject({ name: personaName, description: z.string().min(1).max(2000).optional() })]),
  personas: z.array(personaSchema).min(1).max(200),
});

export interface PersonaCondition {
  attribute: string;
  equals?: AttributeValue;
  in?: AttributeValue[];
  not_in?: AttributeValue[];
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  exists?: boolean;
}

export interface PersonaRule {
  name: string;
  description: string | null;
  /** All must hold. */
  conditions: PersonaCondition[];
}

export interface Personas {
  file: string;
  /** "<version>+<first 8 hex of the content's sha256>", or the hash alone. */
  version: string;
  /** In file order: the first whose conditions all hold is the customer's persona. */
  rules: PersonaRule[];
  fallback: { name: string; description: string | null };
}

export class PersonasError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid personas file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PersonasError';
  }
}

/** Parses and validates a personas document (YAML, so JSON too); throws PersonasError listing every problem. */
export function parsePersonas(text: string, file: string): Personas {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new PersonasError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const parsed = fileSchema.safeParse(doc.toJS() ?? {});
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
  if (parsed.success) {
    const seen = new Map<string, number>();
    parsed.data.personas.forEach((p, i) => {
      if (seen.has(p.name)) problems.push(`personas.${i}.name: ${p.name} is already the name of personas.${seen.get(p.name)}; persona names must be unique`);
      else seen.set(p.name, i);
      if (p.name === parsed.data.fallback.name) problems.push(`personas.${i}.name: ${p.name} is the fallback's name; the fallback is for customers that match no rule`);
      for (const [attribute, c] of Object.entries(p.when ?? {}) as Array<[string, Omit<PersonaCondition, 'attribute'>]>) {
        const at = `personas.${i}.when.${attribute}`;
        const low = c.gt ?? c.gte;
        const high = c.lt ?? c.lte;
        if (c.gt !== undefined && c.gte !== undefined) problems.push(`${at}: give gt or gte, not both`);
        if (c.lt !== undefined && c.lte !== undefined) problems.push(`${at}: give lt or lte, not both`);
        if (low !== undefined && high !== undefined && low > high) problems.push(`${at}: the range is empty (${low} above ${high})`);
        if (c.exists === false && Object.keys(c).length > 1) problems.push(`${at}: exists: false cannot be combined with a value condition`);
      }
    });
  }
  if (problems.length || !parsed.success) throw new PersonasError(file, problems);
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
  return {
    file,
    version: parsed.data.version ? `${parsed.data.version}+${hash}` : hash,
    fallback: { name: parsed.data.fallback.name, description: parsed.data.fallback.description ?? null },
    rules: parsed.data.personas.map((p) => ({
      name: p.name,
      description: p.description ?? null,
      conditions: Object.entries(p.when ?? {}).map(([attribute, c]) => ({ attribute, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) })),
    })),
  };
}

/** A value's typed text, as the SQL compares it: `string:gold`, `number:3`, `boolean:true`. */
export function typedText(value: AttributeValue): string {
  return `${typeof value}:${String(value)}`;
}

function holds(c: PersonaCondition, attributes: Readonly<Record<string, AttributeValue>>): boolean {
  const has = Object.hasOwn(attributes, c.attribute);
  if (c.exists !== undefined && c.exists !== has) return false;
  const value = attributes[c.attribute];
  if (c.equals !== undefined && (!has || typedText(value!) !== typedText(c.equals))) return false;
  if (c.in !== undefined && (!has || !c.in.map(typedText).includes(typedText(value!)))) return false;
  // not_in holds for a customer without the attribute, as SQL's NOT IN does for the '' the map then gives.
  if (c.not_in !== undefined && has && c.not_in.map(typedText).includes(typedText(value!))) return false;
  const ranged = [c.gt, c.gte, c.lt, c.lte].some((v) => v !== undefined);
  if (ranged) {
    if (typeof value !== 'number') return false;
    if (c.gt !== undefined && !(value > c.gt)) return false;
    if (c.gte !== undefined && !(value >= c.gte)) return false;
    if (c.lt !== undefined && !(value < c.lt)) return false;
    if (c.lte !== undefined && !(value <= c.lte)) return false;
  }
  return true;
}

/** The persona of a customer with these attributes (undefined: no profile at all); the fallback when no rule matches. */
export function personaOf(personas: Personas, attributes: Readonly<Record<string, AttributeValue>> | undefined): string {
  if (attributes === undefined) return personas.fallback.name;
  return personas.rules.find((r) => r.conditions.every((c) => holds(c, attributes)))?.name ?? personas.fallback.name;
}

/** Every persona name, rules first (in order), the fallback last. */
export function personaNames(personas: Personas): string[] {
  return [...personas.rules.map((r) => r.name), personas.fallback.name];
}

export async function loadPersonasFile(file: string): Promise<Personas> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PersonasError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check PERSONAS_FILE`]);
  }
  return parsePersonas(text, file);
}

export type PersonasReload = FileReload<string>;
export type PersonasWatcher = WatchedFile<Personas, string>;

/** Loads the file once (throws PersonasError when invalid: the process must not start with bad personas). */
export function createPersonasWatcher(options: {
  file: string;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  pollIntervalMs?: number;
  onChange?: (personas: Personas) => void;
}): Promise<PersonasWatcher> {
  return watchFile({
    file: options.file,
    load: loadPersonasFile,
    version: (p) => p.version,
    describeError: (err) => (err instanceof PersonasError ? err.message : `reading the personas file failed: ${(err as Error).message}`),
    onChange: options.onChange,
    log: options.log,
    messages: { reloaded: 'personas reloaded', rejected: 'personas reload rejected; keeping the ones in force' },
    pollIntervalMs: options.pollIntervalMs,
  });
}
