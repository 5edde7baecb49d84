import { describe, expect, it } from 'vitest';
import { locateJsonSyntaxError, mediaKindOf, parseEventsBody, parseJsonText, type BodyItem, type ParsedBody } from './body.ts';

const json = (text: string, maxEvents = 10) => parseEventsBody(Buffer.from(text), 'json', { maxEvents });
const ndjson = (text: string, maxEvents = 10) => parseEventsBody(Buffer.from(text), 'ndjson', { maxEvents });

function itemsOf(parsed: ParsedBody): BodyItem[] {
  if (parsed.kind !== 'items') throw new Error(`expected items, got ${JSON.stringify(parsed)}`);
  return parsed.items;
}

describe('mediaKindOf', () => {
  it('reads the media type, ignoring parameters and case', () => {
    expect(mediaKindOf('application/json')).toBe('json');
    expect(mediaKindOf('Application/JSON; charset=utf-8')).toBe('json');
    expect(mediaKindOf('application/x-ndjson')).toBe('ndjson');
    expect(mediaKindOf('application/ndjson;charset=UTF-8')).toBe('ndjson');
    expect(mediaKindOf('text/plain')).toBeUndefined();
    expect(mediaKindOf(undefined)).toBeUndefined();
  });
});

describe('a JSON body', () => {
  it('is one event when it is an object, with the body as its raw bytes', () => {
    const body = '{ "customer_id": "c1" }';
    const [item] = itemsOf(json(body));
    expect(item).toMatchObject({ index: 0, ok: true, value: { customer_id: 'c1' } });
    expect(item!.raw.toString()).toBe(body);
  });

  it('is one event per item when it is an array, each keeping its own JSON', () => {
    const items = itemsOf(json('[ {"a": 1}, 42, {"b": "x"} ]'));
    expect(items.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(items.map((i) => i.raw.toString())).toEqual(['{"a":1}', '42', '{"b":"x"}']);
    // Non-objects are items too: the validator rejects them with a reason.
    expect(items[1]).toMatchObject({ ok: true, value: 42 });
  });

  it('with no events is empty', () => {
    expect(json('[]')).toEqual({ kind: 'empty' });
    expect(json('  \n')).toEqual({ kind: 'empty' });
  });

  it('with more events than allowed is refused as a whole', () => {
    expect(json('[{},{},{}]', 2)).toEqual({ kind: 'too-many-events', count: 3, limit: 2 });
    expect(itemsOf(json('[{},{}]', 2))).toHaveLength(2);
  });

  it('that does not parse says where, also when V8 does not', () => {
    const missingColon = json('{"a" 1}');
    expect(missingColon).toMatchObject({ kind: 'invalid-json', position: 5, line: 1, column: 6 });
    // V8 reports "Unexpected token ']', "[1,2,]" is not valid JSON" without a position.
    expect(json('[1,2,]')).toMatchObject({ kind: 'invalid-json', position: 5, line: 1, column: 6 });
    expect(json('[\n  {"a": 1},\n  {"b": tru}\n]')).toMatchObject({ kind: 'invalid-json', line: 3, column: 9 });
    const truncated = json('{"a": [1, 2');
    expect(truncated).toMatchObject({ kind: 'invalid-json', position: 11, line: 1, column: 12 });
  });

  it('refuses __proto__ and constructor.prototype keys per event without polluting anything', () => {
    const items = itemsOf(
      json('[{"customer_id":"c1","__proto__":{"polluted":true}}, {"attributes":{"constructor":{"prototype":{"polluted":true}}}}, {"ok":1}]'),
    );
    expect(items[0]).toMatchObject({ ok: false, errors: [expect.stringMatching(/__proto__/)] });
    expect(items[1]).toMatchObject({ ok: false, errors: [expect.stringMatching(/constructor\.prototype/)] });
    expect(items[2]).toMatchObject({ ok: true });
    // The dead letter keeps what was sent.
    expect(items[0]!.raw.toString()).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const [single] = itemsOf(json('{"__proto__": {"x": 1}}'));
    expect(single).toMatchObject({ index: 0, ok: false });
  });

  it('rejects an event nested too deeply with a reason instead of overflowing the stack', () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const items = itemsOf(json(`[${deep(100_000)}, {"ok":1}, ${'['.repeat(100_000)}${']'.repeat(100_000)}, ${deep(10)}]`));
    expect(items.map((i) => i.ok)).toEqual([false, true, false, true]);
    expect(items[0]).toMatchObject({ errors: [expect.stringMatching(/nested more than 64 levels/)] });
    const [single] = itemsOf(json(deep(100_000)));
    expect(single).toMatchObject({ ok: false, errors: [expect.stringMatching(/nested more than/)] });
    expect(single!.raw.length).toBeGreaterThan(100_000);
  });
});

describe('an NDJSON body', () => {
  it('is one event per non-blank line, indexed by line number − 1, with each line as raw bytes', () => {
    const items = itemsOf(ndjson('{"a":1}\r\n\n   \n{"b":2}\n'));
    expect(items.map((i) => [i.index, i.raw.toString()])).toEqual([
      [0, '{"a":1}'],
      [3, '{"b":2}'],
    ]);
  });

  it('rejects a malformed line alone, saying which line and where', () => {
    const items = itemsOf(ndjson('{"a":1}\n{"b": nope}\n{"c":3}'));
    expect(items.map((i) => i.ok)).toEqual([true, false, true]);
    expect(items[1]).toMatchObject({ index: 1, errors: [expect.stringMatching(/^line 2: invalid JSON at column 7: /)] });
    expect(items[1]!.raw.toString()).toBe('{"b": nope}');
  });

  it('counts events before parsing them', () => {
    expect(ndjson('{}\n{}\n\n{}\n', 2)).toEqual({ kind: 'too-many-events', count: 3, limit: 2 });
    expect(ndjson('\n\n')).toEqual({ kind: 'empty' });
  });

  it('refuses a line with __proto__', () => {
    const [item] = itemsOf(ndjson('{"__proto__":{"x":1}}'));
    expect(item).toMatchObject({ ok: false, errors: [expect.stringMatching(/__proto__/)] });
  });
});

describe('locateJsonSyntaxError', () => {
  const valid = ['{}', '[]', ' 1 ', '"x"', 'null', '{"a":[1,-2.5e3,{"b":null}],"c":"\\u00e9\\n"}', '[[[[]]]]', 'true', '-0'];
  const invalid: Array<[string, number]> = [
    ['', 0],
    ['{', 1],
    ['{"a":1,}', 7],
    ['[1 2]', 3],
    ['01', 1],
    ['"abc', 4],
    ['"\\x"', 2],
    ['"\\u12g4"', 5],
    ['"\\u12', 5],
    ['{"a":1}}', 7],
    ["{'a':1}", 1],
    ['[NaN]', 1],
    ['"tab\there"', 4],
  ];

  it('finds nothing in valid JSON', () => {
    for (const text of valid) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(locateJsonSyntaxError(text), text).toBeUndefined();
    }
  });

  it('finds the offset JSON.parse stumbles at', () => {
    for (const [text, position] of invalid) {
      expect(() => JSON.parse(text)).toThrow();
      expect(locateJsonSyntaxError(text), text).toBe(position);
    }
  });

  it('copes with deep nesting', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(199_999);
    expect(locateJsonSyntaxError(deep)).toBe(deep.length);
    expect(parseJsonText(deep)).toMatchObject({ ok: false });
  });
});
