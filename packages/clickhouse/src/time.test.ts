import { describe, expect, it } from 'vitest';
import { dateTime64FromMicros, microsFromDateTime64 } from './time.ts';

describe('DateTime64 text ⇄ epoch microseconds', () => {
  it('keeps every microsecond', () => {
    expect(dateTime64FromMicros(1_735_689_601_123_456)).toBe('2025-01-01 00:00:01.123456');
    expect(dateTime64FromMicros(1_735_689_601_000_001)).toBe('2025-01-01 00:00:01.000001');
    expect(dateTime64FromMicros(0)).toBe('1970-01-01 00:00:00.000000');
  });

  it('floors before the epoch, so the fraction stays positive', () => {
    expect(dateTime64FromMicros(-1)).toBe('1969-12-31 23:59:59.999999');
  });

  it('round-trips, including the shorter precisions ClickHouse returns', () => {
    for (const micros of [1_735_689_601_123_456, 0, -1, 1_700_000_000_000_000]) {
      expect(microsFromDateTime64(dateTime64FromMicros(micros))).toBe(micros);
    }
    expect(microsFromDateTime64('2025-01-01 00:00:01.123')).toBe(1_735_689_601_123_000);
    expect(microsFromDateTime64('2025-01-01 00:00:01')).toBe(1_735_689_601_000_000);
  });

  it('rejects what is not a timestamp', () => {
    expect(() => dateTime64FromMicros(1.5)).toThrow(RangeError);
    expect(() => microsFromDateTime64('yesterday')).toThrow(RangeError);
  });
});
