import { describe, expect, it } from 'vitest';
import { generateChurnHistory } from './generator.ts';

describe('the churn history generator', () => {
  const opts = { customers: 300, days: 120, seed: 5, endMs: Date.UTC(2026, 0, 1), prefix: 'g' };

  it('is the same for a seed, ordered by event time, and ends each churner with one cancellation', () => {
    const a = generateChurnHistory(opts);
    expect(generateChurnHistory(opts).events).toEqual(a.events);
    expect(a.events.every((e, i) => i === 0 || a.events[i - 1]!.occurred_at <= e.occurred_at)).toBe(true);
    expect(a.events.every((e) => e.occurred_at <= opts.endMs * 1000)).toBe(true);
    const cancellations = a.events.filter((e) => e.reason === 'cancellation');
    expect(cancellations).toHaveLength(a.churned);
    expect(new Set(cancellations.map((e) => e.customer_id)).size).toBe(a.churned);
    // Nothing of a customer after their cancellation.
    for (const c of cancellations) expect(a.events.filter((e) => e.customer_id === c.customer_id).at(-1)).toBe(c);
    expect(a.churned / a.customers).toBeGreaterThan(0.1);
    expect(a.churned / a.customers).toBeLessThan(0.6);
  });

  it('makes loyal complainers — many complaints, long tenure — leave less often than the others', () => {
    const g = generateChurnHistory({ ...opts, customers: 1500 });
    const byCustomer = new Map<string, { complaints: number; churned: boolean }>();
    for (const e of g.events) {
      const c = byCustomer.get(e.customer_id) ?? { complaints: 0, churned: false };
      if (e.reason === 'complaint') c.complaints++;
      if (e.reason === 'cancellation') c.churned = true;
      byCustomer.set(e.customer_id, c);
    }
    const rate = (xs: Array<{ churned: boolean }>) => xs.filter((x) => x.churned).length / xs.length;
    const complainers = [...byCustomer.values()].filter((c) => c.complaints >= 3);
    const others = [...byCustomer.values()].filter((c) => c.complaints === 0);
    expect(complainers.length).toBeGreaterThan(50);
    expect(rate(complainers)).toBeLessThan(rate(others));
  });
});
