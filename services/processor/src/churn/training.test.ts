// The labels of the scoring points, by hand: churn within the horizon is 1, later churn 0, the churn event and what
// follows are no points, a point whose horizon outruns the history without churn is left out; the split is by customer.
import { describe, expect, it } from 'vitest';
import { isHeldOut, labelledPoints, type CustomerHistory, type TrainingOptions } from './training.ts';

const DAY = 86_400_000_000;
const opts: TrainingOptions = {
  halfLifeMs: 72 * 3_600_000,
  sentimentCount: 3,
  outcome: { reasons: ['cancellation'], touchpoints: ['contract_cancelled'] },
  horizonMs: 30 * 86_400_000,
  historyEndMicros: 100 * DAY,
  source: 'test',
};
const tp = (id: string, day: number, extra: { reason?: string; touchpoint?: string } = {}) => ({
  event_id: id, occurred_at: day * DAY, sentiment: null, touchpoint: extra.touchpoint ?? 'call', reason: extra.reason ?? null,
});
const all = () => 0; // keeps the given order: every point drawn

describe('labelled scoring points', () => {
  it('label churn within the horizon 1, later churn 0, and stop at the churn event', () => {
    const h: CustomerHistory = {
      customer_id: 'c1',
      touchpoints: [tp('a', 0), tp('b', 10), tp('c', 40), tp('x', 45, { reason: 'cancellation' }), tp('d', 50)],
      signals: [],
    };
    const points = labelledPoints(h, opts, 10, all);
    expect(points.map((p) => [p.features[0], p.label])).toEqual([[1, 0], [2, 0], [3, 1]]);
  });

  it('leave out points whose outcome is not known yet, and count a churn touchpoint name too', () => {
    const stays: CustomerHistory = { customer_id: 'c2', touchpoints: [tp('a', 50), tp('b', 80)], signals: [] };
    expect(labelledPoints(stays, opts, 10, all).map((p) => p.label)).toEqual([0]);
    const leaves: CustomerHistory = { customer_id: 'c3', touchpoints: [tp('a', 80), tp('x', 95, { touchpoint: 'contract_cancelled' })], signals: [] };
    expect(labelledPoints(leaves, opts, 10, all).map((p) => p.label)).toEqual([1]);
  });

  it('hold out customers by a stable hash of id and seed', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `cust-${i}`);
    const held = ids.filter((id) => isHeldOut(id, 17, 0.3)).length;
    expect(held).toBeGreaterThan(250);
    expect(held).toBeLessThan(350);
    expect(ids.map((id) => isHeldOut(id, 17, 0.3))).toEqual(ids.map((id) => isHeldOut(id, 17, 0.3)));
  });
});
