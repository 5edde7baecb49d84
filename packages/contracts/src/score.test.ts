import { describe, expect, it } from 'vitest';
import { decayedScore } from './score.ts';

const HOUR_MS = 3600_000;
const T = 1_780_000_000_000_000; // epoch micros

describe('decayedScore', () => {
  it('halves every half-life', () => {
    expect(decayedScore(8, T, T + HOUR_MS * 1000, HOUR_MS)).toBe(4);
    expect(decayedScore(8, T, T + 3 * HOUR_MS * 1000, HOUR_MS)).toBe(1);
  });

  it('decays continuously between half-lives', () => {
    expect(decayedScore(4, T, T + (HOUR_MS * 1000) / 2, HOUR_MS)).toBeCloseTo(4 / Math.SQRT2, 12);
  });

  it('is unchanged at the score time and never decays backwards', () => {
    expect(decayedScore(5, T, T, HOUR_MS)).toBe(5);
    expect(decayedScore(5, T, T - HOUR_MS * 1000, HOUR_MS)).toBe(5);
  });

  it('keeps zero at zero', () => {
    expect(decayedScore(0, T, T + 10 * HOUR_MS * 1000, HOUR_MS)).toBe(0);
  });
});
