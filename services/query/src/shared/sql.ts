// SQL pieces every family's statements share.

// A statement-level SETTINGS clause on every query: a per-query `clickhouse_settings` would become a session-wide
// SET on chDB (docs/architecture.md §5, trap 1). An analyst's request must not be able to occupy ClickHouse indefinitely.
const queryTimeoutSeconds = 30;
export const querySettingsSql = `SETTINGS max_execution_time = ${queryTimeoutSeconds}`;

/**
 * The distinct values of a fixed column over the analysis range widened back by `lookbackParam` (a {name:Int64}
 * of microseconds), as one array of strings. Drivers and attribution carry each row's position in such a list
 * (`transform` on a LowCardinality column maps its dictionary, not every row) and turn positions back into strings
 * after grouping. SELECT DISTINCT then groupArray costs about half of groupUniqArray.
 */
export function distinctValuesSql(column: string, table: 'touchpoints' | 'signals', lookbackParam: string): string {
  return `(SELECT groupArray(toString(v)) FROM (SELECT DISTINCT ${column} AS v
    FROM ${table}
    WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64} - {${lookbackParam}:Int64}, 'UTC')
      AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')))`;
}
