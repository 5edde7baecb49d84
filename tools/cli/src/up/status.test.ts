import { describe, expect, it } from 'vitest';
import { lagStatusLine, lagTrend } from './status.ts';

const reading = (at: number, processor: number[], sink: number[]) => ({
  at,
  partitions: [
    ...processor.map((lag, partition) => ({ groupId: 'touchstream-processor', topic: 'touchpoints.v1', partition, lag })),
    ...sink.map((lag, partition) => ({ groupId: 'touchstream-sink', topic: 'touchpoints.v1', partition, lag })),
  ],
});

describe('lagTrend', () => {
  it('calls small or slow changes steady, and says which way a real change goes', () => {
    expect(lagTrend(0, 300, 10)).toBe('steady');
    expect(lagTrend(0, 1000, 60)).toBe('steady'); // 17 records/s
    expect(lagTrend(0, 10_000, 10)).toBe('growing');
    expect(lagTrend(10_000, 0, 10)).toBe('shrinking');
  });
});

describe('lagStatusLine', () => {
  it('sums partitions per group and shows the trend over the window', () => {
    const line = lagStatusLine([reading(0, [0, 0], [100, 100]), reading(10_000, [0, 0], [15_000, 10_200])]);
    expect(line).toBe('lag  processor 0 · sink 25,200 ↑ growing (+2,500/s)');
  });

  it('says nothing before the first reading', () => {
    expect(lagStatusLine([])).toBeUndefined();
  });
});
