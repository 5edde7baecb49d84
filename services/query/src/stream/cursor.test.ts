import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { matchesStreamFilter, RecentIds } from './route.ts';

describe('stream cursor (SSE event id)', () => {
  it('round-trips, sorted by partition', () => {
    const id = encodeCursor(new Map([[2, 7], [0, 15], [1, 0]]));
    expect(id).toBe('0:15,1:0,2:7');
    expect(decodeCursor(id)).toEqual(new Map([[0, 15], [1, 0], [2, 7]]));
  });

  it('refuses what it did not send', () => {
    for (const bad of ['', 'yesterday', '0:1,', '0:-1', '0:1.5', 'a:1', `0:${'9'.repeat(17)}`, '0:9007199254740993']) {
      expect(decodeCursor(bad), bad).toBeUndefined();
    }
  });
});

describe('stream filter', () => {
  const alert = { alert_id: 'a', customer_id: 'c', level: 'at_risk', score: 6, score_before: 2, at: '', triggered_by: 'e', journey: 'billing', channel: 'phone', signals: [], rules_version: null };
  it('keeps the minimum level and above and matches journey, channel and customer exactly', () => {
    expect(matchesStreamFilter(alert, {})).toBe(true);
    expect(matchesStreamFilter(alert, { minLevel: 'watch' })).toBe(true);
    expect(matchesStreamFilter(alert, { minLevel: 'at_risk' })).toBe(true);
    expect(matchesStreamFilter(alert, { minLevel: 'critical' })).toBe(false);
    expect(matchesStreamFilter(alert, { journey: 'billing', channel: 'phone', customerId: 'c' })).toBe(true);
    expect(matchesStreamFilter(alert, { journey: 'checkout' })).toBe(false);
    expect(matchesStreamFilter(alert, { channel: 'chat' })).toBe(false);
    expect(matchesStreamFilter(alert, { customerId: 'd' })).toBe(false);
    expect(matchesStreamFilter({ ...alert, journey: null }, { journey: 'billing' })).toBe(false);
  });

  it('tells customer alerts from KPI deviation alerts (triggered_by kpi_anomaly)', () => {
    const kpi = { ...alert, customer_id: 'kpi:channel=phone', triggered_by: 'kpi_anomaly', journey: null };
    expect([matchesStreamFilter(alert, { kind: 'customer' }), matchesStreamFilter(alert, { kind: 'kpi' })]).toEqual([true, false]);
    expect([matchesStreamFilter(kpi, { kind: 'customer' }), matchesStreamFilter(kpi, { kind: 'kpi' })]).toEqual([false, true]);
    expect(matchesStreamFilter(kpi, { kind: 'kpi', channel: 'phone' })).toBe(true);
  });
});

describe('RecentIds', () => {
  it('says whether an id is new, and forgets the oldest beyond its capacity', () => {
    const recent = new RecentIds(2);
    expect([recent.add('a'), recent.add('a'), recent.add('b'), recent.add('c')]).toEqual([true, false, true, true]);
    // 'a' was evicted by 'c'; 'b' and 'c' are still known.
    expect([recent.add('b'), recent.add('c'), recent.add('a')]).toEqual([false, false, true]);
  });
});
