// Raw-data retention: migration 002 gives `touchpoints` a default TTL; the configured number of days replaces it
// at start. Only a TTL that differs is altered, because MODIFY TTL re-evaluates the TTL on existing parts (a
// mutation), which must not run on every restart.
import type { ClickHouseClient } from '@clickhouse/client';

/** Tables holding raw rows (customer ids, per-event detail): they expire after the configured retention. */
export const rawRetentionTables = ['touchpoints', 'fcr_contacts'] as const;

/** The day count of `TTL toDateTime(stored_at) + toIntervalDay(N)` in a table's engine_full, or null without one. */
export function ttlDaysOf(engineFull: string): number | null {
  const m = /\bTTL\s+toDateTime\(stored_at\)\s*\+\s*toIntervalDay\((\d+)\)/.exec(engineFull);
  return m ? Number(m[1]) : null;
}

/** The ALTER statement for a retention of `days` days; exported for tests. */
export function rawTtlStatement(table: string, days: number): string {
  // DDL takes no query parameters; `days` is checked to be a positive safe integer, so the literal is a number.
  if (!Number.isSafeInteger(days) || days < 1) throw new Error(`raw retention must be a positive whole number of days (got ${days})`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
  return `ALTER TABLE ${table} MODIFY TTL toDateTime(stored_at) + toIntervalDay(${days})`;
}

/**
 * Makes the raw touchpoints expire `days` days after they were stored (stored_at, so backfills live as long as fresh
 * rows). Idempotent: returns false (and changes
 * nothing) when the table already has exactly that TTL.
 */
export async function applyRawRetention(client: ClickHouseClient, days: number, table = 'touchpoints'): Promise<boolean> {
  const statement = rawTtlStatement(table, days);
  const rs = await client.query({
    query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}',
    query_params: { table },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ engine_full: string }>();
  if (!row) throw new Error(`table ${table} does not exist; run the migrations first`);
  if (ttlDaysOf(row.engine_full) === days) return false;
  await client.command({ query: statement });
  return true;
}
