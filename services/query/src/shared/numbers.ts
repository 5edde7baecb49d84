// Numbers as they come from ClickHouse rows: UInt64/Int64 arrive quoted from a server and as numbers from chDB;
// the counts here fit a double exactly.

type ClickHouseNumber = number | string | null | undefined;

/** A count or sum; 0 when absent. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** A mean, variance or other figure that may be absent or not finite (NaN, ±inf): null then. */
export function finiteOrNull(v: ClickHouseNumber): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Rounds derived figures so 1/3 reads 0.333333 rather than 0.33333333333333331; null stays null (so does NaN). */
export const round = (v: number | null, digits = 6): number | null =>
  v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits));
