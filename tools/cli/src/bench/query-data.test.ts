import { describe, expect, it } from 'vitest';
import { benchCustomer, benchEpochEndMicros, benchSpanDays } from './query-data.ts';

describe('benchmark data', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(benchCustomer(7, 42)).toEqual(benchCustomer(7, 42));
    expect(benchCustomer(7, 42)).not.toEqual(benchCustomer(7, 43));
  });

  it('journeys are in time order, inside the 90 days, with unique event ids', () => {
    const start = benchEpochEndMicros - benchSpanDays * 86_400_000_000;
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const { touchpoints, signals } = benchCustomer(i, 1);
      for (let j = 0; j < touchpoints.length; j++) {
        const e = touchpoints[j]!;
        expect(e.occurred_us).toBeGreaterThanOrEqual(start);
        expect(e.occurred_us).toBeLessThan(benchEpochEndMicros);
        if (j > 0) expect(e.occurred_us).toBeGreaterThan(touchpoints[j - 1]!.occurred_us);
        expect(ids.has(e.event_id)).toBe(false);
        ids.add(e.event_id);
      }
      for (const s of signals) expect(touchpoints.some((e) => e.event_id === s.event_id)).toBe(true);
    }
  });

  it('has the outcomes the analyses look for', () => {
    const all = Array.from({ length: 3000 }, (_, i) => benchCustomer(i, 42).touchpoints).flat();
    const names = new Set(all.map((e) => e.touchpoint));
    for (const tp of ['order_placed', 'contract_cancelled', 'payment_failed', 'verification_completed', 'nps_survey']) expect(names.has(tp), tp).toBe(true);
    expect(all.some((e) => e.outcome === 'abandoned')).toBe(true);
  });
});
