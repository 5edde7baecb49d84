import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { parseDurationMicros } from './range.ts';

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
