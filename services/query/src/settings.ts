// A statement-level SETTINGS clause on every query: a per-query `clickhouse_settings` would become a session-wide
// SET on chDB (docs/architecture.md §5, trap 1). An analyst's request must not be able to occupy ClickHouse indefinitely.
export const queryTimeoutSeconds = 30;
export const querySettingsSql = `SETTINGS max_execution_time = ${queryTimeoutSeconds}`;
