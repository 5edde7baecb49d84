import { describe, expect, it } from 'vitest';
import { cellStatus, heatmapInterval, parseHeatmapTargets } from './heatmap.ts';
import { parseIsoToMicros } from '../shared/time.ts';

const t = (iso: string) => parseIsoToMicros(iso)!;

describe('heat map cell status', () => {
  it('higher is better: ok at or above the target, warn down to warn, bad below', () => {
    const nps = { direction: 'higher_is_better' as const, target: 30, warn: 0 };
    expect([35, 30, 29.9, 0, -0.1, null].map((v) => cellStatus(v, nps))).toEqual(['ok', 'ok', 'warn', 'warn', 'bad', 'no_data']);
  });

  it('lower is better: mirrored', () => {
    const wait = { direction: 'lower_is_better' as const, target: 60_000, warn: 120_000 };
    expect([0, 60_000, 60_001, 120_000, 120_001].map((v) => cellStatus(v, wait))).toEqual(['ok', 'ok', 'warn', 'warn', 'bad']);
  });

  it('parses targets with and without warn (10% band on the worse side)', () => {
    expect(parseHeatmapTargets('nps:40, abandonment_rate:0.1, fcr:0.9:0.85')).toEqual({
      targets: { nps: { target: 40, warn: 36 }, abandonment_rate: { target: 0.1, warn: 0.11 }, fcr: { target: 0.9, warn: 0.85 } },
      problems: [],
    });
    expect(parseHeatmapTargets('nps:1:2:3').problems).toEqual(['"nps:1:2:3" is not metric:target or metric:target:warn with numbers']);
    expect(parseHeatmapTargets('').targets).toEqual({});
  });
});

describe('heatmapInterval', () => {
  it('reads the coarsest rollup that covers the range exactly, coarser when the range is too long', () => {
    expect(heatmapInterval(t('2024-05-01'), t('2024-05-08'))).toBe('day');
    expect(heatmapInterval(t('2024-05-01T10:00Z'), t('2024-05-01T12:00Z'))).toBe('hour');
    expect(heatmapInterval(t('2024-05-01T10:07Z'), t('2024-05-01T12:00Z'))).toBe('minute');
    // 30 days of minutes is over the 7-day minute limit: hours (widened); a year of hours is over 93 days: days.
    expect(heatmapInterval(t('2024-05-01T10:07:30Z'), t('2024-05-31T10:07:30Z'))).toBe('hour');
    expect(heatmapInterval(t('2024-01-01T10:07Z'), t('2024-12-31T10:07Z'))).toBe('day');
  });
});
