// Markov-chain attribution: the first-order chain of the observed transitions between channels or touchpoints,
// (start) → … → (conversion) | (null), and each state's removal effect. Free of I/O so the arithmetic is
// unit-tested by hand.
export const startState = '(start)';
export const conversionState = '(conversion)';
export const nullState = '(null)';

/** Observed transitions: counts of from → to over all paths (converting and not). */
export type Transitions = Map<string, Map<string, number>>;

export function addTransition(transitions: Transitions, from: string, to: string, count: number): void {
  let row = transitions.get(from);
  if (!row) transitions.set(from, (row = new Map()));
  row.set(to, (row.get(to) ?? 0) + count);
}

/**
 * Probability of reaching (conversion) from (start) in the first-order chain estimated from the transition counts.
 * `removed` states become dead ends (as if every transition into them went to (null)). Solves the absorbing chain's
 * linear system x_s = Σ_t P(s→t)·x_t with x_conversion = 1, x_null = 0 by Gaussian elimination.
 */
export function conversionProbability(transitions: Transitions, removed: ReadonlySet<string> = new Set()): number {
  const transient = [...new Set([startState, ...transitions.keys()])].filter(
    (s) => s !== conversionState && s !== nullState && !removed.has(s),
  );
  const index = new Map(transient.map((s, i) => [s, i]));
  const n = transient.length;
  // (I − Q) x = r, with r_s = P(s → conversion).
  const m = Array.from({ length: n }, (_, i) => {
    const row = new Array<number>(n + 1).fill(0);
    row[i] = 1;
    return row;
  });
  for (const [s, i] of index) {
    const out = transitions.get(s);
    if (!out) continue;
    let total = 0;
    for (const c of out.values()) total += c;
    if (total === 0) continue;
    for (const [t, c] of out) {
      const p = c / total;
      if (t === conversionState) m[i]![n]! += p;
      else if (index.has(t)) m[i]![index.get(t)!]! -= p;
      // (null) and removed states contribute 0.
    }
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-12) continue; // a closed loop with no way out: probability stays 0
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  const s = index.get(startState)!;
  return Math.abs(m[s]![s]!) < 1e-12 ? 0 : m[s]![n]! / m[s]![s]!;
}

/** Removal effect of each state: 1 − P(conversion without it) / P(conversion). */
export function removalEffects(transitions: Transitions): { base: number; effects: Map<string, number> } {
  const base = conversionProbability(transitions);
  const states = new Set<string>();
  for (const [from, row] of transitions) {
    states.add(from);
    for (const to of row.keys()) states.add(to);
  }
  const effects = new Map<string, number>();
  for (const s of states) {
    if (s === startState || s === conversionState || s === nullState) continue;
    effects.set(s, base > 0 ? 1 - conversionProbability(transitions, new Set([s])) / base : 0);
  }
  return { base, effects };
}
