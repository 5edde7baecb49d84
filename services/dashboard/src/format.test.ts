import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain browser ES module without types
import { heatmapCellText, tileDelta } from '../public/format.js';

describe('tileDelta', () => {
  it('colours a change by whether the figure is better higher or lower', () => {
    // NPS 30 → 36: +20 %, higher is better → good. Wait 60 s → 90 s: +50 %, lower is better → bad.
    expect(tileDelta(36, 30, true)).toEqual({ text: '▲ 20.0 % vs previous period', tone: 'good' });
    expect(tileDelta(90_000, 60_000, false)).toEqual({ text: '▲ 50.0 % vs previous period', tone: 'bad' });
    expect(tileDelta(40_000, 60_000, false).tone).toBe('good');
    // A negative previous value: NPS −20 → −10 is an improvement of 50 %.
    expect(tileDelta(-10, -20, true)).toEqual({ text: '▲ 50.0 % vs previous period', tone: 'good' });
  });

  it('stays neutral for volumes, tiny moves, and when there is nothing to compare', () => {
    expect(tileDelta(120, 100, null).tone).toBe('flat');
    expect(tileDelta(100.4, 100, true).tone).toBe('flat');
    expect(tileDelta(5, null, true)).toEqual({ text: '', tone: 'flat' });
    expect(tileDelta(5, 0, true)).toEqual({ text: '', tone: 'flat' });
  });
});

describe('heatmapCellText', () => {
  it('says the value against its target', () => {
    expect(heatmapCellText('nps', { value: 12.34567, target: 30, warn: 0, direction: 'higher_is_better', status: 'warn' })).toBe(
      'nps: 12.346 · target at least 30 (warn 0) · warn',
    );
    expect(heatmapCellText('avg_wait_ms', { value: null, target: 60000, warn: 120000, direction: 'lower_is_better', status: 'no_data' })).toBe(
      'avg_wait_ms: no data · target at most 60000 (warn 120000) · no data',
    );
  });
});
