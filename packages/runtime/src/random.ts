// One seeded pseudo-random generator for everything the project generates or samples reproducibly: demo traffic,
// benchmark and quality data, the churn generator, training's sampling. mulberry32: small and fast, statistically
// fine for test data (not for anything secret). The same seed gives the same sequence, which the measured figures in
// the README rely on.
export type Rng = () => number;

/** A generator of numbers in [0, 1) from a 32-bit seed. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
