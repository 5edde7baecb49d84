// The one way rows get into ClickHouse (DESIGN §5). Per-insert settings go into the statement's own SETTINGS
// clause and the rows into the request body: chdb/connection turns `clickhouse_settings` into session-level
// SET statements that outlive the query (trap 1: a later plain insert inherited the token and was dropped),
// and a statement-level clause behaves the same on a server.
import { Readable } from 'node:stream';
import { drainStream, type ClickHouseClient } from '@clickhouse/client';
import { rollupsOfTable, writeRollups } from './rollups.ts';

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

const tableNamePattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const dedupTokenPattern = /^[A-Za-z0-9._:-]+$/;

export function assertDedupToken(token: string): void {
  if (token.length === 0 || token.length > 1000 || !dedupTokenPattern.test(token)) {
    throw new Error(`invalid deduplication token ${JSON.stringify(token)}: expected 1-1000 of [A-Za-z0-9._:-]`);
  }
}

/** The SETTINGS of every insert of ours (rows or INSERT … SELECT), with or without a deduplication token. */
export function insertSettings(dedupToken?: string): string[] {
  const settings = [
    // Synchronous: the promise resolves only once the rows are written (chDB enables async_insert by default,
    // and a server profile may too), so a caller may commit Kafka offsets afterwards.
    'async_insert = 0',
    // A batch of backfilled events may span more monthly partitions than the default limit of 100; refusing
    // it would stall the partition forever.
    'throw_on_max_partitions_per_insert_block = 0',
  ];
  if (dedupToken === undefined) {
    // Non-replicated tables with a deduplication window would otherwise drop a plain insert whose data
    // happens to hash like a recent one.
    settings.push('insert_deduplicate = 0');
  } else {
    assertDedupToken(dedupToken);
    settings.push(
      'insert_deduplicate = 1',
      // The pattern already excludes quotes and backslashes; the literal needs no further escaping.
      `insert_deduplication_token = '${dedupToken}'`,
      // Trap 2: without this a retried insert deduplicated in the table still reached its views again (no table
      // of ours has views since migration 006; kept for a view a deployment adds).
      'deduplicate_blocks_in_dependent_materialized_views = 1',
    );
  }
  return settings;
}

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

/**
 * Stores rows in a raw table, then their contribution to each of its rollups (writeRollups), all under the same
 * token. The raw part is committed before any rollup sees the block, so a rollup never holds a block the raw table
 * lacks, and a cut-off store is repaired by writing the raw table's block to the rollups again under its token
 * (migration 006). Every raw write goes through here.
 */
export async function storeRows(client: ClickHouseClient, opts: InsertRowsOptions): Promise<void> {
  await insertRows(client, { ...opts, rawOnly: true });
  await writeRollups(client, opts);
}
