// The rollups of the raw tables, written by the sink itself: one INSERT … SELECT per rollup and batch, each under
// the batch's deduplication token (migration 006). Until 005 materialized views computed them from the raw insert
// (or a feed); a view's deduplication of a re-sent block proved unreliable in the running pipeline (a rollup held a
// repaired block twice while its siblings held it once, with and without a crash), and ClickHouse does not promise
// that views and their source agree after a failed insert. Now every rollup is a table of its own that deduplicates a
// retried insert by the token alone, exactly like the raw table: a rollup either has the batch or takes it.
//
// The rows reach every SELECT from a staging table that holds the batch once (store.ts): parsed once, read seven times
// from memory. Until issue 13 each rollup parsed the batch again from a JSON literal (≈ 4k rows/s for the sink).
import { drainStream, type ClickHouseClient } from '@clickhouse/client';
import { insertSettings } from './settings.ts';

export interface Rollup {
  /** The table the rollup is stored in. */
  table: string;
  /** The SELECT that computes its rows; `{source}` stands for the rows (a raw table or a `format(…)` of a batch). */
  select: string;
}

const outcomeMeasures = ['started', 'completed', 'failed', 'abandoned', 'escalated', 'transferred', 'resolved', 'unresolved']
  .map((o) => `sumState(toUInt64(outcome = '${o}')) AS outcome_${o}`)
  .join(',\n    ');

const surveyMeasures = `sumState(toUInt64(survey_kind = 'NPS')) AS nps_responses,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9)) AS nps_promoters,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)) AS nps_detractors,
    sumState(toUInt64(survey_kind = 'CSAT')) AS csat_responses,
    sumState(toUInt64(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4)) AS csat_satisfied,
    sumState(toInt64(if(survey_kind = 'CSAT', ifNull(survey_score, 0), 0))) AS csat_score_sum,
    sumState(toUInt64(survey_kind = 'CES')) AS ces_responses,
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum`;

const timeAndSurveyMeasures = `sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    ${surveyMeasures}`;

const touchpointMeasures = `
    countState() AS events,
    uniqState(customer_id) AS customers,
    ${outcomeMeasures},
    avgState(duration_ms) AS duration_avg,
    ${timeAndSurveyMeasures},
    uniqIfState((customer_id, journey), journey != '') AS journeys,
    uniqIfState((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed`;

/** The -State measures of touchpoint_agg_*, over raw touchpoint columns: the query API computes the same states from the raw table (persona breakdown, §20.6). */
export const touchpointMeasuresSql = touchpointMeasures;

// kpi_agg_*: no duration_avg column, and HyperLogLog distinct counts (migration 004).
const kpiMeasures = `
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    ${outcomeMeasures},
    ${timeAndSurveyMeasures},
    uniqCombined64IfState(15)((customer_id, journey), journey != '') AS journeys,
    uniqCombined64IfState(15)((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed`;

const bucketOf = { '1m': 'toStartOfMinute', '1h': 'toStartOfHour', '1d': 'toStartOfDay' } as const;

function touchpointAgg(grain: keyof typeof bucketOf): Rollup {
  return {
    table: `touchpoint_agg_${grain}`,
    select: `SELECT
    ${bucketOf[grain]}(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel, touchpoint, journey, stage, initiator,${touchpointMeasures}
FROM {source}
GROUP BY bucket, channel, touchpoint, journey, stage, initiator`,
  };
}

function kpiAgg(grain: '1h' | '1d'): Rollup {
  return {
    table: `kpi_agg_${grain}`,
    select: `SELECT
    ${bucketOf[grain]}(toDateTime(occurred_at, 'UTC')) AS bucket,
    dimension_key.1 AS dimension,
    dimension_key.2 AS key,${kpiMeasures}
FROM {source}
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
GROUP BY bucket, dimension, key`,
  };
}

function signalAgg(grain: keyof typeof bucketOf): Rollup {
  return {
    table: `signal_agg_${grain}`,
    select: `SELECT
    ${bucketOf[grain]}(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel, touchpoint, journey, stage, type,
    countState() AS signals,
    uniqState(customer_id) AS customers,
    sumState(weight) AS weight_sum
FROM {source}
GROUP BY bucket, channel, touchpoint, journey, stage, type`,
  };
}

/** Every rollup of each raw table that has any, by raw table name: what the views of 001–005 computed. */
export const rollupsOf: Readonly<Record<string, readonly Rollup[]>> = {
  touchpoints: [
    touchpointAgg('1m'),
    touchpointAgg('1h'),
    touchpointAgg('1d'),
    kpiAgg('1h'),
    kpiAgg('1d'),
    {
      table: 'customer_activity_1d',
      select: `SELECT customer_id, toDate(occurred_at, 'UTC') AS day, toUInt64(count()) AS events
FROM {source}
GROUP BY customer_id, day`,
    },
    {
      table: 'fcr_contacts',
      select: `SELECT cityHash64(customer_id, reason) AS contact_key, customer_id, reason, occurred_at, event_id, channel, touchpoint, journey, stage, stored_at
FROM {source}
WHERE initiator = 'customer' AND reason != ''`,
    },
  ],
  signals: [signalAgg('1m'), signalAgg('1h'), signalAgg('1d')],
  // One row per customer × attribute of each update (migration 010, docs/architecture.md §20.6).
  profile_updates: [
    {
      table: 'customer_profiles',
      select: `SELECT customer_id, entry.1 AS attribute, entry.2 AS value, entry.3 AS kind, updated_at, profile_id, stored_at
FROM {source}
ARRAY JOIN arrayZip(attribute_names, attribute_values, attribute_kinds) AS entry`,
    },
  ],
};

/** The rollups of a raw table (a database qualifier is kept on their tables); empty for a table without any. */
export function rollupsOfTable(table: string): Rollup[] {
  const dot = table.lastIndexOf('.');
  const qualifier = table.slice(0, dot + 1);
  return (rollupsOf[table.slice(dot + 1)] ?? []).map((r) => ({ table: qualifier + r.table, select: r.select }));
}

/** A ClickHouse string literal (backslash escapes, as the server's parser reads them). */
export function stringLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The INSERT … SELECT of one rollup over `source`; exported for tests. INSERT … SELECT matches columns by position,
 * so the rollup's query is wrapped in one that picks the table's own `columns` by name, in the table's order (a view
 * matched them by name; the order of a table's columns is not the same everywhere: ALTER ADD COLUMN appends).
 */
export function rollupStatement(rollup: Rollup, source: string, columns: readonly string[], dedupToken?: string): string {
  const settings = insertSettings(dedupToken);
  // The token of each inserted block includes its number in the SELECT's output; one thread makes the output's cut
  // into blocks the same on every retry of the same rows.
  if (dedupToken !== undefined) settings.push('max_threads = 1');
  const picked = columns.map((c) => `\`${c}\``).join(', ');
  return `INSERT INTO ${rollup.table} SETTINGS ${settings.join(', ')}\nSELECT ${picked} FROM (\n${rollup.select.replace('{source}', () => source)}\n)`;
}

interface Column {
  table: string;
  name: string;
}

/** The stored columns (no MATERIALIZED, no ALIAS) of the given tables of one database, in each table's order. */
async function storedColumns(client: ClickHouseClient, tables: readonly string[]): Promise<Map<string, Column[]>> {
  const qualified = tables.map((t) => ({ table: t, dot: t.lastIndexOf('.') }));
  const database = qualified[0]!.dot < 0 ? 'currentDatabase()' : '{database:String}';
  const rs = await client.query({
    query:
      `SELECT table, name FROM system.columns ` +
      `WHERE database = ${database} AND table IN {tables:Array(String)} AND default_kind IN ('', 'DEFAULT') ORDER BY table, position`,
    format: 'JSONEachRow',
    query_params: { database: tables[0]!.slice(0, Math.max(qualified[0]!.dot, 0)), tables: qualified.map((q) => q.table.slice(q.dot + 1)) },
  });
  const byTable = new Map<string, Column[]>();
  for (const column of await rs.json<Column>()) byTable.set(column.table, [...(byTable.get(column.table) ?? []), column]);
  const result = new Map<string, Column[]>();
  for (const { table, dot } of qualified) {
    const columns = byTable.get(table.slice(dot + 1));
    if (!columns) throw new Error(`table ${table} not found: run the migrations first`);
    result.set(table, columns);
  }
  return result;
}

// The columns of a raw table and its rollups, read once per client: the schema only changes through migrations,
// which run at start before anything is stored (a failed read is not kept, so it is tried again).
const columnsByClient = new WeakMap<ClickHouseClient, Map<string, Promise<Map<string, Column[]>>>>();

export function rollupColumns(client: ClickHouseClient, table: string): Promise<Map<string, Column[]>> {
  let byTable = columnsByClient.get(client);
  if (!byTable) columnsByClient.set(client, (byTable = new Map()));
  let columns = byTable.get(table);
  if (!columns) {
    columns = storedColumns(client, [table, ...rollupsOfTable(table).map((r) => r.table)]);
    byTable.set(table, columns);
    columns.catch(() => byTable.delete(table));
  }
  return columns;
}

/** The statements that write a raw table's rollups from `source` (a table or subquery with the raw table's columns). */
export async function rollupStatements(client: ClickHouseClient, table: string, source: string, dedupToken?: string): Promise<string[]> {
  const columns = await rollupColumns(client, table);
  return rollupsOfTable(table).map((r) => rollupStatement(r, source, columns.get(r.table)!.map((c) => c.name), dedupToken));
}

/**
 * Computes every rollup of a raw table from the rows it holds whose event time lies in [from, to), without token.
 * Only for rows that no rollup has counted yet (the benchmark's data, stored raw-only): others would count twice.
 * A day at a time keeps the aggregation's memory small.
 */
export async function rollUpStoredRows(client: ClickHouseClient, table: string, range: { from: string; to: string }): Promise<void> {
  const source = `(SELECT * FROM ${table} WHERE occurred_at >= toDateTime64(${stringLiteral(range.from)}, 6, 'UTC') AND occurred_at < toDateTime64(${stringLiteral(range.to)}, 6, 'UTC'))`;
  for (const query of await rollupStatements(client, table, source)) {
    const result = await client.exec({ query });
    await drainStream(result.stream);
  }
}
