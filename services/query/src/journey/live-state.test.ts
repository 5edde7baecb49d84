import { describe, expect, it } from 'vitest';
import { liveStateFromHash } from './journey.ts';

describe('the live state of the journey', () => {
  it('carries the churn-risk score and band the processor remembered, null before any', () => {
    const hash = { events: '3', score: '2', score_at: '1714564800000000', level: 'none' };
    expect(liveStateFromHash(hash, 1714564800000000, 72 * 3_600_000)!.churn_risk).toBeNull();
    const scored = liveStateFromHash({ ...hash, churn_score: '0.62', churn_band: 'high', churn_model: '20261204T173123Z-e8010204' }, 1714564800000000, 72 * 3_600_000)!;
    expect(scored.churn_risk).toEqual({ score: 0.62, band: 'high', model_version: '20261204T173123Z-e8010204' });
  });
});
