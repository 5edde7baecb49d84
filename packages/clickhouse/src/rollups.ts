// The rollups of the raw tables, written by the sink itself: one INSERT … SELECT per rollup and batch, each under
// the batch's deduplication token (migration 006). Until 005 materialized views computed them from the raw insert
// (or a feed); a view's deduplication of a re-sent block proved unreliable in the running pipeline (a rollup held a
// repaired block twice while its siblings held it once, with and without a crash), and ClickHouse does not promise
// that views and their source agree after a failed insert. Now every rollup is a table of its own that deduplicates a
// retried insert by the token alone, exactly like the raw table: a rollup either has the batch or takes it.
//
// The rows reach the SELECT as a JSONEachRow literal read by the `format` table function with the raw table's
// columns as structure (defaults included: stored_at is the insert's time, as a view saw it). A literal, not a query
// parameter: a server takes parameters in the URL, which a batch would overflow; a literal goes in the POST body.
import { drainStream, type ClickHouseClient } from '@clickhouse/client';
import { assertDedupToken } from './insert.ts';

export interface Rollup {
  /** The table the rollup is stored in. */
  table: string;
  /** The SELECT that computes its rows; `{source}` stands for the rows (a raw table or a `format(…)` of a batch). */
  select: string;
}

const touchpointMeasures = `
    countState() AS events,
    uniqState(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
    avgState(duration_ms) AS duration_avg,
    sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    ${surveyMeasures()},
    uniqIfState((customer_id, journey), journey != '') AS journeys,
    uniqIfState((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed`;

function surveyMeasures(): string {
  return `sumState(toUInt64(survey_kind = 'NPS')) AS nps_responses,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9)) AS nps_promoters,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)) AS nps_detractors,
    sumState(toUInt64(survey_kind = 'CSAT')) AS csat_responses,
    sumState(toUInt64(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4)) AS csat_satisfied,
    sumState(toInt64(if(survey_kind = 'CSAT', ifNull(survey_score, 0), 0))) AS csat_score_sum,
    sumState(toUInt64(survey_kind = 'CES')) AS ces_responses,
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum`;
}

// kpi_agg_*: no duration_avg column, and HyperLogLog distinct counts (migration 004).
const kpiMeasures = `
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
    sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    ${surveyMeasures()},
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

// A batch's rows are one literal in the statement: the parser's default limit (256 KiB) would refuse large
// batches. Passed as a setting of the request (URL on a server; a session SET on chDB, harmless to keep).
const maxQuerySize = 1 << 30;

/** The INSERT … SELECT of one rollup over `source`; exported for tests. */
export function rollupStatement(rollup: Rollup, source: string, dedupToken?: string): string {
  const settings = ['async_insert = 0', 'throw_on_max_partitions_per_insert_block = 0'];
  if (dedupToken === undefined) {
    settings.push('insert_deduplicate = 0');
  } else {
    assertDedupToken(dedupToken);
    settings.push(
      'insert_deduplicate = 1',
      `insert_deduplication_token = '${dedupToken}'`,
      // The token of each inserted block includes its number in the SELECT's output; one thread makes the output's
      // cut into blocks the same on every retry of the same rows.
      'max_threads = 1',
    );
  }
  return `INSERT INTO ${rollup.table} SETTINGS ${settings.join(', ')}\n${rollup.select.replace('{source}', () => source)}`;
}

/** `name type [DEFAULT expr], …` of a table's stored columns, as the structure argument of `format`. */
async function columnsStructure(client: ClickHouseClient, table: string): Promise<string> {
  const dot = table.lastIndexOf('.');
  const database = dot < 0 ? 'currentDatabase()' : '{database:String}';
  const rs = await client.query({
    query:
      `SELECT name, type, default_kind, default_expression FROM system.columns ` +
      `WHERE database = ${database} AND table = {table:String} AND default_kind IN ('', 'DEFAULT') ORDER BY position`,
    format: 'JSONEachRow',
    query_params: { database: table.slice(0, Math.max(dot, 0)), table: table.slice(dot + 1) },
  });
  const columns = await rs.json<{ name: string; type: string; default_kind: string; default_expression: string }>();
  if (columns.length === 0) throw new Error(`table ${table} not found: run the migrations first`);
  return columns.map((c) => `${c.name} ${c.type}${c.default_kind === 'DEFAULT' ? ` DEFAULT ${c.default_expression}` : ''}`).join(', ');
}

export interface WriteRollupsOptions {
  /** The raw table the rows belong to (touchpoints or signals, optionally database-qualified). */
  table: string;
  /** The raw rows, as stored (or as storedBlock read them back); JSONEachRow objects. */
  rows: readonly object[];
  /** The token of the raw insert that stored them: a rollup that has the block deduplicates it, one that lacks it takes it. */
  dedupToken?: string;
}

/**
 * Writes the rows' contribution to every rollup of their raw table, one INSERT … SELECT per rollup, each under the
 * raw insert's token. Idempotent with a token: after a store cut off anywhere, running it again completes it.
 */
export async function writeRollups(client: ClickHouseClient, opts: WriteRollupsOptions): Promise<void> {
  const rollups = rollupsOfTable(opts.table);
  if (rollups.length === 0 || opts.rows.length === 0) return;
  let body = '';
  for (const row of opts.rows) body += JSON.stringify(row) + '\n';
  const source = `format(JSONEachRow, ${stringLiteral(await columnsStructure(client, opts.table))}, ${stringLiteral(body)})`;
  for (const rollup of rollups) {
    const result = await client.exec({ query: rollupStatement(rollup, source, opts.dedupToken), clickhouse_settings: { max_query_size: String(maxQuerySize) } });
    await drainStream(result.stream);
  }
}

/**
 * Computes every rollup of a raw table from the rows it holds whose event time lies in [from, to), without token.
 * Only for rows that no rollup has counted yet (the benchmark's data, stored raw-only): others would count twice.
 * A day at a time keeps the aggregation's memory small.
 */
export async function rollUpStoredRows(client: ClickHouseClient, table: string, range: { from: string; to: string }): Promise<void> {
  const source = `(SELECT * FROM ${table} WHERE occurred_at >= toDateTime64(${stringLiteral(range.from)}, 6, 'UTC') AND occurred_at < toDateTime64(${stringLiteral(range.to)}, 6, 'UTC'))`;
  for (const rollup of rollupsOfTable(table)) {
    const result = await client.exec({ query: rollupStatement(rollup, source) });
    await drainStream(result.stream);
  }
}
