// Derives TypeScript types from the Avro schemas in /schemas, so the event shape is written once.
// `pnpm exec tsx packages/contracts/src/codegen.ts` rewrites generated.ts; a unit test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSchemaFile } from './avro.ts';

type AvroSchema = string | AvroSchema[] | { type: string; name?: string; doc?: string; [k: string]: unknown };

export const CONTRACT_FILES = ['touchpoint.avsc', 'signal.avsc', 'alert.avsc', 'dead-letter.avsc', 'churn-score.avsc', 'profile.avsc'];

const PRIMITIVES: Record<string, string> = {
  null: 'null', boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number',
  bytes: 'Buffer', string: 'string',
};

export function generateTypes(): string {
  const out: string[] = [
    '// GENERATED from /schemas/*.avsc by packages/contracts/src/codegen.ts: do not edit by hand.',
    '// Timestamps (timestamp-micros) are microseconds since the Unix epoch.',
    '',
  ];
  const emitted = new Set<string>();
  const shortName = (name: string) => name.split('.').pop()!;

  const typeOf = (s: AvroSchema): string => {
    if (typeof s === 'string') return PRIMITIVES[s] ?? shortName(s);
    if (Array.isArray(s)) return s.map(typeOf).join(' | ');
    switch (s.type) {
      case 'record': emitRecord(s); return shortName(s.name!);
      case 'enum': emitEnum(s); return shortName(s.name!);
      case 'array': return `Array<${typeOf(s.items as AvroSchema)}>`;
      case 'map': return `Record<string, ${typeOf(s.values as AvroSchema)}>`;
      default: return PRIMITIVES[s.type] ?? shortName(s.type);
    }
  };
  const doc = (d: unknown, indent = '') => (typeof d === 'string' ? [`${indent}/** ${d} */`] : []);
  function emitEnum(s: { name?: string; symbols?: unknown; doc?: unknown }) {
    const name = shortName(s.name!);
    if (emitted.has(name)) return;
    emitted.add(name);
    const symbols = s.symbols as string[];
    out.push(...doc(s.doc), `export type ${name} = ${symbols.map((x) => `'${x}'`).join(' | ')};`);
    out.push(`export const ${name}Values = [${symbols.map((x) => `'${x}'`).join(', ')}] as const;`, '');
  }
  function emitRecord(s: { name?: string; fields?: unknown; doc?: unknown }) {
    const name = shortName(s.name!);
    if (emitted.has(name)) return;
    emitted.add(name);
    const fields = s.fields as Array<{ name: string; type: AvroSchema; doc?: string }>;
    const body = fields.map((f) => [...doc(f.doc, '  '), `  ${f.name}: ${typeOf(f.type)};`].join('\n'));
    out.push(...doc(s.doc), `export interface ${name} {`, ...body, '}', '');
  }
  for (const file of CONTRACT_FILES) typeOf(loadSchemaFile(file) as AvroSchema);
  return out.join('\n');
}

export const generatedTypesPath = fileURLToPath(new URL('./generated.ts', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(generatedTypesPath, generateTypes());
  console.log(`wrote ${generatedTypesPath}`);
}
