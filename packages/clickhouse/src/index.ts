export { createClickHouse, type ClickHouseClient, type ClickHouseOptions, type EmbeddedClickHouseOptions, type ServerClickHouseOptions } from './client.ts';
export { insertRows, storeRows, insertStatement, jsonEachRowBody, assertDedupToken, type InsertRowsOptions } from './insert.ts';
export { writeRollups, rollUpStoredRows, rollupsOf, rollupsOfTable, rollupStatement, stringLiteral, type Rollup, type WriteRollupsOptions } from './rollups.ts';
export {
  migrate,
  appliedMigrations,
  loadMigrations,
  splitStatements,
  defaultMigrationsDir,
  type Migration,
  type MigrateOptions,
  type MigrationLog,
} from './migrate.ts';
export { dateTime64FromMicros, microsFromDateTime64 } from './time.ts';
export { tableNames } from './tables.ts';
export { applyRawRetention, rawRetentionTables, rawTtlStatement, ttlDaysOf } from './retention.ts';
export type { SignalColumns, TouchpointColumns } from './columns.ts';
