// The one way rows get into ClickHouse (DESIGN §5). Per-insert settings go into the statement's own SETTINGS
// clause and the rows into the request body: chdb/connection turns `clickhouse_settings` into session-level
// SET statements that outlive the query (trap 1: a later plain insert inherited the token and was dropped),
// and a statement-level clause behaves the same on a server.
import { Readable } from 'node:stream';
import { drainStream, type ClickHouseClient } from '@clickhouse/client';

export interface InsertRowsOptions {
  /** Table name, optionally database-qualified. */
  table: string;
  /** Objects keyed by column name; omitted columns take their defaults. Sent as JSONEachRow. */
  rows: readonly object[];
  /**
   * Makes the insert idempotent: a retry with the same token is stored once, in the table and in every
   * materialized view fed from it. Derive it from the data's origin (e.g. topic:partition:first-last offsets).
   * Without a token nothing is deduplicated, so two identical plain inserts store the rows twice.
   */
  dedupToken?: string;
  /**
   * Required to insert into a raw table whose views read a feed (touchpoints, signals: migration 005): such an
   * insert stores rows that no rollup counts, which is only right before 005 exists (upgrade tests) or when the
   * feed is written separately. Everything else goes through storeRows.
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

/** The INSERT statement (without data) for a table and optional token; exported for tests. */
export function insertStatement(table: string, dedupToken?: string): string {
  if (!tableNamePattern.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
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
      // Trap 2: without this a retried insert deduplicated in the table still reached its views again.
      'deduplicate_blocks_in_dependent_materialized_views = 1',
    );
  }
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
  if (!opts.rawOnly && feedTableOf(opts.table) !== undefined) {
    // A plain insert here would be counted by no rollup: a mistake that shows only as figures that disagree.
    throw new Error(`insertRows into ${opts.table} would feed none of its views: use storeRows (or say rawOnly: true)`);
  }
  const query = insertStatement(opts.table, opts.dedupToken);
  if (opts.rows.length === 0) return;
  const result = await client.exec({ query, values: Readable.from([Buffer.from(jsonEachRowBody(opts.rows))]) });
  // The response body is empty for an INSERT, but on a server it must be consumed to free the socket.
  await drainStream(result.stream);
}

/** Raw tables whose materialized views run on a feed table instead (migration 005), by raw table name. */
export const viewFeeds: Readonly<Record<string, string>> = { touchpoints: 'touchpoints_feed', signals: 'signals_feed' };

/** The feed table of a raw table (keeping a database qualifier), or undefined for a table without views. */
export function feedTableOf(table: string): string | undefined {
  const dot = table.lastIndexOf('.');
  const feed = viewFeeds[table.slice(dot + 1)];
  return feed === undefined ? undefined : table.slice(0, dot + 1) + feed;
}

/**
 * Stores rows in a raw table, then runs its views on them (feedViews), under the same token. The raw part is
 * committed before any view sees the block, so a view never holds a block the raw table lacks, and a cut-off
 * store is repaired by feeding the raw table's block again (migration 005). Every raw write goes through here.
 */
export async function storeRows(client: ClickHouseClient, opts: InsertRowsOptions): Promise<void> {
  await insertRows(client, { ...opts, rawOnly: true });
  await feedViews(client, opts);
}

/**
 * Inserts rows into a raw table's feed only: its views aggregate them, the raw table is not touched. With the
 * token of the raw insert that stored them, views that already have the block deduplicate it.
 */
export async function feedViews(client: ClickHouseClient, opts: InsertRowsOptions): Promise<void> {
  const feed = feedTableOf(opts.table);
  if (feed !== undefined) await insertRows(client, { ...opts, table: feed });
}
