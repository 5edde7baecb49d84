import { describe, expect, it } from 'vitest';
import { defaultScoringConfig, resolveScoringConfig } from './config.ts';

describe('resolveScoringConfig', () => {
  it('returns the defaults', () => {
    expect(resolveScoringConfig()).toEqual(defaultScoringConfig);
    expect(defaultScoringConfig.levelThresholds).toEqual({ watch: 3, at_risk: 6, critical: 10 });
  });

  it('merges single weights and thresholds into the defaults', () => {
    const c = resolveScoringConfig({ halfLifeMs: 1000, signals: { repeat_contact: { weight: 5 } }, levelThresholds: { critical: 20 } });
    expect(c.halfLifeMs).toBe(1000);
    expect(c.signals.repeat_contact).toEqual({ enabled: true, weight: 5, window: 7 * 24 * 3600_000 });
    expect(c.signals.survey_detractor.weight).toBe(3);
    expect(c.levelThresholds).toEqual({ watch: 3, at_risk: 6, critical: 20 });
  });

  it('rejects meaningless values', () => {
    expect(() => resolveScoringConfig({ halfLifeMs: 0 })).toThrow(/halfLifeMs/);
    expect(() => resolveScoringConfig({ levelThresholds: { at_risk: 2 } })).toThrow(/levelThresholds/);
    expect(() => resolveScoringConfig({ levelExitRatio: 1.5 })).toThrow(/levelExitRatio/);
    expect(() => resolveScoringConfig({ signals: { negative_sentiment: { weight: -1 } } })).toThrow(/negative_sentiment/);
  });
});
