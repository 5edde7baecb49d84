import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CatalogueError, parseCatalogue } from './touchpoint-catalogue.ts';

describe('parseCatalogue', () => {
  it('reads entries with durations in ms, optional target and journey, sorted by name; version with content hash', () => {
    const c = parseCatalogue(
      'version: 3\ntouchpoints:\n  z_call: { channel: phone, stage: support, owner: Care, layer: front_stage, description: d, reaction_time: 90s }\n' +
        '  a_page: { channel: web, stage: purchase, owner: Web, layer: front_stage, description: d, journey: checkout }\n',
      'f.yaml',
    );
    expect(c.version).toMatch(/^3\+[0-9a-f]{8}$/);
    expect(c.entries).toEqual([
      { touchpoint: 'a_page', channel: 'web', stage: 'purchase', owner: 'Web', layer: 'front_stage', description: 'd', reaction_time_ms: null, journey: 'checkout' },
      { touchpoint: 'z_call', channel: 'phone', stage: 'support', owner: 'Care', layer: 'front_stage', description: 'd', reaction_time_ms: 90_000, journey: null },
    ]);
  });

  it('reports every problem at once with its path', () => {
    const text = 'touchpoints:\n  a: { channel: web, stage: s, owner: o, layer: middle, description: d, reaction_time: soon, colour: red }\n  b: { channel: web }\n';
    let error: CatalogueError | undefined;
    try {
      parseCatalogue(text, 'bad.yaml');
    } catch (err) {
      error = err as CatalogueError;
    }
    expect(error).toBeInstanceOf(CatalogueError);
    const problems = error!.problems.join('\n');
    expect(problems).toMatch(/touchpoints\.a\.layer: /);
    expect(problems).toMatch(/touchpoints\.a\.reaction_time: expected a duration like 30s/);
    expect(problems).toMatch(/touchpoints\.a: Unrecognized key: "colour"/);
    expect(problems).toMatch(/touchpoints\.b\.stage: /);
    expect(() => parseCatalogue('touchpoints: { a: 1 }\ntouchpoints: {}\n', 'dup.yaml')).toThrow(/not valid YAML/);
  });

  it('the demo catalogue is valid and names every touchpoint of the demo journeys', () => {
    const c = parseCatalogue(readFileSync(new URL('../../../touchpoints/demo.yaml', import.meta.url), 'utf8'), 'demo.yaml');
    const demo = readFileSync(new URL('../../../tools/cli/src/demo/demo.ts', import.meta.url), 'utf8');
    const used = new Set([...demo.matchAll(/touchpoint: '([a-z_]+)'/g)].map((m) => m[1]!));
    const names = new Set(c.entries.map((e) => e.touchpoint));
    expect([...used].filter((t) => !names.has(t))).toEqual([]);
  });
});
