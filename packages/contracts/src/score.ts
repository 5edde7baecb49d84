/**
 * The score as of `nowMicros`, given its value `score` as of `scoreAtMicros`:
 * score · 2^(−(now − score_at) / half_life). Times are epoch microseconds, the half-life is in milliseconds.
 * Never decays backwards: a `nowMicros` before `scoreAtMicros` returns the stored score unchanged.
 */
export function decayedScore(score: number, scoreAtMicros: number, nowMicros: number, halfLifeMs: number): number {
  const elapsedMicros = nowMicros - scoreAtMicros;
  if (elapsedMicros <= 0 || score === 0) return score;
  return score * Math.pow(2, -elapsedMicros / (halfLifeMs * 1000));
}
