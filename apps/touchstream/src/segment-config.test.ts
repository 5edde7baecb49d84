import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSegmentMapping } from '@touchstream/ingest';
import { loadConfig } from './config.ts';
import { loadSegmentMapping } from './segment-config.ts';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', WRITE_KEYS: 'k-0123456789=web', TOUCHSTREAM_TARGET: 'ingest' };
const file = (text: string) => {
  const p = path.join(mkdtempSync(path.join(os.tmpdir(), 'segment-map-')), 'mapping.yaml');
  writeFileSync(p, text);
  return p;
};

describe('SEGMENT_MAPPING_FILE', () => {
  it('is optional: without it the built-in mapping applies', () => {
    expect(loadSegmentMapping({}).mapping).toBe(defaultSegmentMapping);
  });

  it('reads a YAML mapping over the defaults', () => {
    const { mapping, problems } = loadSegmentMapping({ SEGMENT_MAPPING_FILE: file('events:\n  Order Completed: order_completed\nunmapped_events: reject\n') });
    expect(problems).toEqual([]);
    expect(mapping).toMatchObject({ events: { 'Order Completed': { touchpoint: 'order_completed' } }, unmappedEvents: 'reject', page: { touchpoint: 'page_view' } });
  });

  it('is checked at start with the rest of the configuration, each problem named', () => {
    const bad = file('unmapped_events: drop\nchannel: { rules: [{ path: context.library.name, channel: web }] }\n');
    expect(() => loadConfig({ ...base, SEGMENT_MAPPING_FILE: bad })).toThrow(/SEGMENT_MAPPING_FILE.*unmapped_events/s);
    expect(() => loadConfig({ ...base, SEGMENT_MAPPING_FILE: bad })).toThrow(/channel\.rules\.0: give exactly one of equals, prefix or exists/);
    expect(() => loadConfig({ ...base, SEGMENT_MAPPING_FILE: '/nonexistent/mapping.yaml' })).toThrow(/cannot read \/nonexistent\/mapping.yaml/);
    // Only ingest reads it.
    expect(() => loadConfig({ ...base, TOUCHSTREAM_TARGET: 'processor', REDIS_URL: 'redis://x:1', SEGMENT_MAPPING_FILE: bad })).not.toThrow();
  });
});

describe('the README', () => {
  it('shows the built-in Segment mapping as it is', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**The mapping**'));
    const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const { mapping, problems } = loadSegmentMapping({ SEGMENT_MAPPING_FILE: file(yamlBlock) });
    expect(problems).toEqual([]);
    expect(mapping).toEqual(defaultSegmentMapping);
    expect(parse(yamlBlock)).toBeTruthy();
  });
});
