import { describe, expect, it } from 'vitest';
import { microsToIso, parseIsoToMicros } from './time.ts';

describe('time handling', () => {
  it('parses ISO-8601 to epoch micros keeping sub-millisecond digits', () => {
    expect(parseIsoToMicros('2024-05-01T12:00:00.123456Z')).toBe(Date.UTC(2024, 4, 1, 12) * 1000 + 123456);
    expect(parseIsoToMicros('2024-05-01T14:00:00.5+02:00')).toBe(Date.UTC(2024, 4, 1, 12) * 1000 + 500000);
    expect(parseIsoToMicros('2024-05-01')).toBe(Date.UTC(2024, 4, 1) * 1000);
    expect(parseIsoToMicros('2024-05-01T12:00')).toBe(Date.UTC(2024, 4, 1, 12) * 1000);
    for (const bad of ['', 'now', '2024-5-1', '2024-05-01T25:00:00Z', '2024-02-30', '1714564800']) {
      expect(parseIsoToMicros(bad), bad).toBeUndefined();
    }
  });

  it('formats epoch micros with six fraction digits', () => {
    expect(microsToIso(Date.UTC(2024, 4, 1, 12) * 1000 + 7)).toBe('2024-05-01T12:00:00.000007Z');
    expect(microsToIso(Date.UTC(2024, 4, 1, 12) * 1000 + 123456)).toBe('2024-05-01T12:00:00.123456Z');
  });
});
