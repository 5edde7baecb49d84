// The Segment mapping (docs/architecture.md §16): a YAML or JSON document in SEGMENT_MAPPING_FILE, validated at
// start with the rest of the configuration; without the variable, the built-in default mapping applies.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { defaultSegmentMapping, parseSegmentMapping, type SegmentMapping } from '@touchstream/ingest';

export function loadSegmentMapping(c: { SEGMENT_MAPPING_FILE?: string }): { mapping?: SegmentMapping; problems: string[] } {
  if (!c.SEGMENT_MAPPING_FILE) return { mapping: defaultSegmentMapping, problems: [] };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(c.SEGMENT_MAPPING_FILE, 'utf8'));
  } catch (err) {
    return { problems: [`cannot read ${c.SEGMENT_MAPPING_FILE}: ${(err as Error).message}`] };
  }
  const parsed = parseSegmentMapping(doc);
  return parsed.ok ? { mapping: parsed.mapping, problems: [] } : { problems: parsed.problems.map((p) => `${c.SEGMENT_MAPPING_FILE}: ${p}`) };
}
