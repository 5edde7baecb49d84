// The one way rows get into ClickHouse (docs/architecture.md §5). Per-insert settings go into the statement's own SETTINGS
// clause and the rows into the request body: chdb/connection turns `clickhouse_settings` into session-level
// SET statements that outlive the query (trap 1: a later plain insert inherited the token and was dropped),
// and a statement-level clause behaves the same on a server.
import { Readable } from 'node:stream';
import { drainStream, type ClickHouseClient } from '@clickhouse/client';
import { rollupsOfTable } from './rollups.ts';
import { insertSettings } from './settings.ts';

export { assertDedupToken, insertSettings } from './settings.ts';

export interface InsertRowsOptions {
  /** Table name, optionally database-qualified. */
  table: string;
  /** Objects keyed by column name; omitted columns take their defaults. Sent as JSONEachRow. */
  rows: readonly object[];
  /**
   * Makes the insert idempotent: a retry with the same token is stored once (and, through storeRows, once in every
   * rollup). Derive it from the data's origin (e.g. topic:partition:first-last offsets).
   * Without a token nothing is deduplicated, so two identical plain inserts store the rows twice.
   */
  dedupToken?: string;
  /**
   * Required to insert into a raw table that has rollups (touchpoints, signals): such an insert stores rows that no
   * rollup counts, which is only right when the rollups are written separately (storeRows, writeRollups) or before
   * migration 006 (upgrade tests, where views still count them). Everything else goes through storeRows.
   */
  rawOnly?: boolean;
}

export const tableNamePattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** The INSERT statement (without data) for a table and optional token; exported for tests. */
export function insertStatement(table: string, dedupToken?: string): string {
  if (!tableNamePattern.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
  const settings = insertSettings(dedupToken);
  return `INSERT INTO ${table} SETTINGS ${settings.join(', ')} FORMAT JSONEachRow`;
}

/** JSONEachRow body: one JSON object per line. */
export function jsonEachRowBody(rows: readonly object[]): string {
  let body = '';
  for (const row of rows) body += JSON.stringify(row) + '\n';
  return body;
}

/** Inserts the rows in one statement; resolves once ClickHouse has written them (or recognised a duplicate). */
export async function insertRows(client: ClickHouseClient, opts: InsertRowsOptions): Promise<void> {
  if (!opts.rawOnly && rollupsOfTable(opts.table).length > 0) {
    // A plain insert here would be counted by no rollup: a mistake that shows only as figures that disagree.
    throw new Error(`insertRows into ${opts.table} would reach none of its rollups: use storeRows (or say rawOnly: true)`);
  }
  const query = insertStatement(opts.table, opts.dedupToken);
  if (opts.rows.length === 0) return;
  const result = await client.exec({ query, values: Readable.from([Buffer.from(jsonEachRowBody(opts.rows))]) });
  // The response body is empty for an INSERT, but on a server it must be consumed to free the socket.
  await drainStream(result.stream);
}
