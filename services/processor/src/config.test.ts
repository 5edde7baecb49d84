import { describe, expect, it } from 'vitest';
import { defaultScoringConfig, resolveScoringConfig } from './config.ts';

describe('resolveScoringConfig', () => {
  it('returns the defaults', () => {
    expect(resolveScoringConfig()).toEqual(defaultScoringConfig);
    expect(defaultScoringConfig.levelThresholds).toEqual({ watch: 3, at_risk: 6, critical: 10 });
  });

  it('merges single weights and thresholds into the defaults', () => {
    const c = resolveScoringConfig({ halfLifeMs: 1000, weights: { repeat_contact: 5 }, levelThresholds: { critical: 20 } });
    expect(c.halfLifeMs).toBe(1000);
    expect(c.weights).toEqual({ survey_detractor: 3, negative_sentiment: 2, repeat_contact: 5 });
    expect(c.levelThresholds).toEqual({ watch: 3, at_risk: 6, critical: 20 });
  });

  it('rejects meaningless values', () => {
    expect(() => resolveScoringConfig({ halfLifeMs: 0 })).toThrow(/halfLifeMs/);
    expect(() => resolveScoringConfig({ levelThresholds: { at_risk: 2 } })).toThrow(/levelThresholds/);
    expect(() => resolveScoringConfig({ levelExitRatio: 1.5 })).toThrow(/levelExitRatio/);
    expect(() => resolveScoringConfig({ weights: { negative_sentiment: -1 } })).toThrow(/negative_sentiment/);
  });
});
