import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.ts';
import { parseDurationMicros, toCsv } from './common.ts';

describe('parseDurationMicros', () => {
  it('reads s, m, h, d', () => {
    expect(parseDurationMicros('window', '90s')).toBe(90_000_000);
    expect(parseDurationMicros('window', '30m')).toBe(1_800_000_000);
    expect(parseDurationMicros('window', '12h')).toBe(43_200_000_000);
    expect(parseDurationMicros('window', '7d')).toBe(604_800_000_000);
  });

  it('400 naming the parameter for anything else or too long', () => {
    for (const bad of ['7w', '0d', '-1d', '1.5h', 'd', '']) {
      expect(() => parseDurationMicros('lookback', bad)).toThrow(ApiError);
      expect(() => parseDurationMicros('lookback', bad)).toThrow(/lookback must be/);
    }
    expect(() => parseDurationMicros('lookback', '400d')).toThrow(/at most 366 days/);
  });
});

describe('toCsv', () => {
  it('quotes fields with commas, quotes and line breaks; null is empty', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'say "hi"'], [null, 'two\nlines'], [1.5, true]])).toBe(
      'a,b\r\n"x,y","say ""hi"""\r\n,"two\nlines"\r\n1.5,true\r\n',
    );
  });
});
