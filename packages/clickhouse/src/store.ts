// How a batch gets into a raw table and its rollups (migration 006; issue 13 for the staging). The batch is parsed
// once into a staging table (Memory engine, private to this write), and every table is written from it with an
// INSERT … SELECT under the batch's deduplication token: first the raw table, then each rollup. The raw part is
// committed before any rollup sees the block, so a rollup never holds a block the raw table lacks, and a store cut off
// anywhere is repaired by writing the raw table's block to the rollups again under its token (the sink's storedBlock).
//
// Why a staging table: each rollup used to parse the batch again from a JSON literal in its own statement; seven
// parses per batch bounded the sink near 4k rows/s. The rows reach ClickHouse as JSONCompactEachRow (no key names:
// less than half the bytes of JSONEachRow) in the request body, the same on chDB and a server.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { drainStream, type ClickHouseClient } from '@clickhouse/client';
import { tableNamePattern } from './insert.ts';
import { rollupColumns, rollupStatements, rollupsOfTable } from './rollups.ts';
import { insertSettings } from './settings.ts';

/** Prefix of every staging table: dropStaleStages finds what a killed writer left behind by it. */
export const stagePrefix = 'ts_stage_';

async function run(client: ClickHouseClient, query: string, body?: string): Promise<void> {
  const result = await client.exec({ query, ...(body === undefined ? {} : { values: Readable.from([Buffer.from(body)]) }) });
  // The response body is empty, but on a server it must be consumed to free the socket.
  await drainStream(result.stream);
}

/** A batch held once in memory, with the raw table's columns; written from with storeStaged / rollUpStaged. */
export interface StagedRows {
  /** The raw table the rows belong to (optionally database-qualified). */
  table: string;
  /** The staging table's (qualified like `table`). */
  name: string;
  /** Replaces the staged rows (e.g. after dropping copies that are already stored). */
  replace(rows: readonly object[]): Promise<void>;
  /** Drops the staging table; idempotent, never throws. */
  drop(): Promise<void>;
}

/**
 * Parses `rows` (objects keyed by the raw table's column names; missing ones take their defaults, stored_at is the
 * staging time) into a new staging table shaped like `table`. Drop it when done (storeRows does).
 */
export async function stageRows(client: ClickHouseClient, table: string, rows: readonly object[]): Promise<StagedRows> {
  if (!tableNamePattern.test(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
  const columns = (await rollupColumns(client, table)).get(table)!;
  // stored_at takes its default (the time of this write), as the raw insert of one statement gave it.
  const names = columns.map((c) => c.name).filter((n) => n !== 'stored_at');
  const qualifier = table.slice(0, table.lastIndexOf('.') + 1);
  const name = `${qualifier}${stagePrefix}${randomBytes(8).toString('hex')}`;
  const insertInto = `INSERT INTO ${name} (${names.map((n) => `\`${n}\``).join(', ')}) SETTINGS async_insert = 0, insert_deduplicate = 0 FORMAT JSONCompactEachRow`;
  const fill = async (batch: readonly object[]) => {
    if (batch.length === 0) return;
    let body = '';
    for (const row of batch) {
      const r = row as Record<string, unknown>;
      // null for a missing column: input_format_null_as_default turns it into the column's default.
      body += JSON.stringify(names.map((n) => r[n] ?? null)) + '\n';
    }
    await run(client, insertInto, body);
  };
  await run(client, `CREATE TABLE ${name} ENGINE = Memory AS ${table}`);
  let dropped = false;
  const staged: StagedRows = {
    table,
    name,
    async replace(next) {
      await run(client, `TRUNCATE TABLE ${name}`);
      await fill(next);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await run(client, `DROP TABLE IF EXISTS ${name} SYNC`).catch(() => undefined);
    },
  };
  try {
    await fill(rows);
  } catch (err) {
    await staged.drop();
    throw err;
  }
  return staged;
}

/** Writes the staged rows' contribution to every rollup of their raw table, each under `dedupToken`. */
export async function rollUpStaged(client: ClickHouseClient, staged: StagedRows, dedupToken?: string): Promise<void> {
  if (rollupsOfTable(staged.table).length === 0) return;
  for (const query of await rollupStatements(client, staged.table, staged.name, dedupToken)) await run(client, query);
}

/** Writes the staged rows to their raw table, then to each of its rollups, all under `dedupToken`. */
export async function storeStaged(client: ClickHouseClient, staged: StagedRows, dedupToken?: string): Promise<void> {
  const columns = (await rollupColumns(client, staged.table)).get(staged.table)!.map((c) => `\`${c.name}\``).join(', ');
  const settings = insertSettings(dedupToken);
  // One thread: the output's cut into blocks (each block's token includes its number) is the same on every retry.
  if (dedupToken !== undefined) settings.push('max_threads = 1');
  await run(client, `INSERT INTO ${staged.table} SETTINGS ${settings.join(', ')} SELECT ${columns} FROM ${staged.name}`);
  await rollUpStaged(client, staged, dedupToken);
}

export interface StoreRowsOptions {
  /** The raw table (touchpoints, signals, alerts; optionally database-qualified). */
  table: string;
  /** Objects keyed by column name; omitted columns take their defaults. */
  rows: readonly object[];
  /**
   * Makes the write idempotent: a retry with the same token is stored once in the raw table and every rollup.
   * Derive it from the data's origin (e.g. topic:partition:first-last offsets). Without a token nothing is
   * deduplicated, so two identical plain writes store the rows twice.
   */
  dedupToken?: string;
}

/** Stores rows in a raw table and then in each of its rollups, under one token. Every raw write goes through here. */
export async function storeRows(client: ClickHouseClient, opts: StoreRowsOptions): Promise<void> {
  if (opts.rows.length === 0) return;
  const staged = await stageRows(client, opts.table, opts.rows);
  try {
    await storeStaged(client, staged, opts.dedupToken);
  } finally {
    await staged.drop();
  }
}

/**
 * Writes rows' contribution to every rollup of their raw table (not the raw table), each under `dedupToken`: a rollup
 * that has the block deduplicates it, one that lacks it takes it. Idempotent with a token: after a store cut off
 * anywhere, running it again with the raw table's block completes it.
 */
export async function writeRollups(client: ClickHouseClient, opts: StoreRowsOptions): Promise<void> {
  if (rollupsOfTable(opts.table).length === 0 || opts.rows.length === 0) return;
  const staged = await stageRows(client, opts.table, opts.rows);
  try {
    await rollUpStaged(client, staged, opts.dedupToken);
  } finally {
    await staged.drop();
  }
}

/**
 * Drops staging tables left by writers that were killed mid-write (older than `olderThanSeconds`; a live write takes
 * seconds). Returns how many. Safe while other writers run: their tables are younger.
 */
export async function dropStaleStages(client: ClickHouseClient, olderThanSeconds = 600): Promise<number> {
  const rs = await client.query({
    query:
      `SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, {prefix:String}) ` +
      `AND engine = 'Memory' AND metadata_modification_time < now() - {age:UInt32}`,
    query_params: { prefix: stagePrefix, age: olderThanSeconds },
    format: 'JSONEachRow',
  });
  const stale = (await rs.json<{ name: string }>()).map((r) => r.name).filter((n) => tableNamePattern.test(n));
  for (const name of stale) await run(client, `DROP TABLE IF EXISTS ${name} SYNC`).catch(() => undefined);
  return stale.length;
}
