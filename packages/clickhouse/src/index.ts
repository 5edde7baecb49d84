export { createClickHouse, type ClickHouseClient, type ClickHouseOptions, type EmbeddedClickHouseOptions, type ServerClickHouseOptions } from './client.ts';
export { insertRows, insertStatement, jsonEachRowBody, assertDedupToken, type InsertRowsOptions } from './insert.ts';
export { storeRows, writeRollups, stageRows, storeStaged, dropStaleStages, type StagedRows, type StoreRowsOptions } from './store.ts';
export { rollUpStoredRows, rollupsOf, rollupsOfTable, rollupStatement, stringLiteral, touchpointMeasuresSql, type Rollup } from './rollups.ts';
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
