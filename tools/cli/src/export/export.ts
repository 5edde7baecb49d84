// Incremental BI extracts (docs/architecture.md §16): raw touchpoints, hourly KPI rollups and KPI totals written as
// CSV or Parquet files into a destination directory, with a cursor kept in that directory, so a scheduled run
// writes only what is new.
//
// The cursor is on `stored_at` (when the sink inserted the row: ClickHouse's now64 at insert), not on event time.
// So a late event — one whose occurred_at is hours or days old — is exported by the first run after it was stored,
// and the hourly rollup rows of every hour it touched are written again with their corrected values. A run reads
// `stored_at` in (cursor, server now − settle]: the settle margin leaves out inserts that may still be becoming
// visible, which the next run then takes (the margin is the only lag an extract has).
//
// ClickHouse writes the files itself (`FORMAT CSVWithNames` / `FORMAT Parquet` through the client's exec stream),
// on a server and on embedded chDB alike; nothing is converted in Node.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ClickHouseClient } from '@touchstream/clickhouse';

export const EXPORT_DATASETS = ['touchpoints', 'rollups', 'kpis'] as const;
export type ExportDataset = (typeof EXPORT_DATASETS)[number];
export type ExportFormat = 'csv' | 'parquet';

/** The destination's state file: the cursor and what was written with it. */
export const STATE_FILE = '.touchstream-export.json';

export interface ExportState {
  version: 1;
  format: ExportFormat;
  /** stored_at (UTC, ms precision) up to which rows were exported; null before the first run. */
  cursor: string | null;
  runs: number;
}

export interface ExportOptions {
  client: ClickHouseClient;
  /** Destination directory: files go to <dir>/<dataset>/, the cursor to <dir>/.touchstream-export.json. */
  dir: string;
  format: ExportFormat;
  datasets?: readonly ExportDataset[];
  /** Rows stored in the last this many seconds wait for the next run. Default 30. */
  settleSeconds?: number;
  /** Told before and after each step, for a progress bar. */
  onProgress?: (done: number, total: number, step: string) => void;
}

export interface ExportedFile {
  dataset: ExportDataset;
  path: string;
  rows: number;
}

export interface ExportResult {
  from: string | null;
  to: string;
  /** New touchpoints in the window (0: nothing was written). */
  newTouchpoints: number;
  files: ExportedFile[];
}

const TOUCHPOINT_COLUMNS = `event_id, customer_id, occurred_at, received_at, stored_at, channel, touchpoint, initiator, journey, stage,
  reason, outcome, duration_ms, wait_ms, sentiment, survey_kind, survey_score, survey_comment, agent_id, session_id,
  toJSONString(attributes) AS attributes`;

/** The window's rows: stored after the cursor, up to the run's upper bound. */
const WINDOW = `stored_at > {from:DateTime64(3, 'UTC')} AND stored_at <= {to:DateTime64(3, 'UTC')}`;

/**
 * KPI columns from the kpi_agg_* states (the same measures as GET /v1/kpis). The output names are the state
 * columns' own, so every export query runs with `prefer_column_name_to_alias = 1` (otherwise `sumMerge(nps_responses)`
 * after `… AS nps_responses` would read the alias).
 */
const KPI_MEASURES = `countMerge(events) AS events,
  uniqCombined64Merge(15)(customers) AS unique_customers,
  sumMerge(outcome_started) AS outcome_started, sumMerge(outcome_completed) AS outcome_completed,
  sumMerge(outcome_failed) AS outcome_failed, sumMerge(outcome_abandoned) AS outcome_abandoned,
  sumMerge(outcome_escalated) AS outcome_escalated, sumMerge(outcome_transferred) AS outcome_transferred,
  sumMerge(outcome_resolved) AS outcome_resolved, sumMerge(outcome_unresolved) AS outcome_unresolved,
  if(countMerge(duration_count) = 0, NULL, sumMerge(duration_sum) / countMerge(duration_count)) AS duration_avg_ms,
  avgMerge(wait_avg) AS wait_avg_ms,
  quantilesMerge(0.5, 0.9)(wait_quantiles)[1] AS wait_p50_ms,
  quantilesMerge(0.5, 0.9)(wait_quantiles)[2] AS wait_p90_ms,
  avgMerge(sentiment_avg) AS sentiment_avg,
  sumMerge(nps_responses) AS nps_responses,
  if(sumMerge(nps_responses) = 0, NULL, 100 * (sumMerge(nps_promoters) - sumMerge(nps_detractors)) / sumMerge(nps_responses)) AS nps,
  sumMerge(csat_responses) AS csat_responses,
  if(sumMerge(csat_responses) = 0, NULL, 100 * sumMerge(csat_satisfied) / sumMerge(csat_responses)) AS csat_pct,
  sumMerge(ces_responses) AS ces_responses,
  if(sumMerge(ces_responses) = 0, NULL, sumMerge(ces_score_sum) / sumMerge(ces_responses)) AS ces_avg,
  uniqCombined64IfMerge(15)(journeys) AS journeys,
  uniqCombined64IfMerge(15)(journeys_completed) AS journeys_completed`;

/** Every dataset's query for one window; `{from}`/`{to}` are the window, `{as_of}` the run's upper bound. */
export const EXPORT_QUERIES: Record<ExportDataset, string> = {
  touchpoints: `SELECT ${TOUCHPOINT_COLUMNS} FROM touchpoints WHERE ${WINDOW} ORDER BY stored_at, event_id`,
  // Every hour bucket any new row falls in — however old its event time — written again whole: the BI side
  // replaces rows with the same (bucket, dimension, key), so a late event corrects its hour.
  rollups: `SELECT bucket, dimension, key, ${KPI_MEASURES}
    FROM kpi_agg_1h
    WHERE bucket IN (SELECT DISTINCT toStartOfHour(occurred_at) FROM touchpoints WHERE ${WINDOW})
    GROUP BY bucket, dimension, key
    ORDER BY bucket, dimension, key`,
  // Totals over all time, everyone (dimension ''), as of this run: one row per run, the latest is current.
  kpis: `SELECT {to:DateTime64(3, 'UTC')} AS as_of, ${KPI_MEASURES} FROM kpi_agg_1d WHERE dimension = ''`,
};

const SETTINGS = 'SETTINGS prefer_column_name_to_alias = 1';

const FORMATS: Record<ExportFormat, { clickhouse: string; extension: string }> = {
  csv: { clickhouse: 'CSVWithNames', extension: 'csv' },
  parquet: { clickhouse: 'Parquet', extension: 'parquet' },
};

export async function readExportState(dir: string): Promise<ExportState | null> {
  try {
    const state = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as ExportState;
    if (state.version !== 1 || (state.cursor !== null && typeof state.cursor !== 'string')) throw new Error('unknown state version or cursor');
    return state;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path.join(dir, STATE_FILE)} cannot be read (${(err as Error).message}); remove it to export everything again`);
  }
}

async function writeStateAtomically(dir: string, state: ExportState): Promise<void> {
  const file = path.join(dir, STATE_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

async function scalar<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params });
  const [row] = await rs.json<{ v: T }>();
  return row!.v;
}

/** `2026-01-31 09:30:00.123` (ClickHouse's text form, UTC) → a file-name-safe `20260131T093000123Z`. */
const fileStamp = (dateTime: string) => dateTime.replace(/[-: ]/g, (c) => (c === ' ' ? 'T' : '')).replace('.', '') + 'Z';

/**
 * One incremental run. The cursor moves only after every file of the run is complete (each is written under a
 * temporary name and renamed), so a run that fails is simply run again: it writes the same window.
 */
export async function runExport(opts: ExportOptions): Promise<ExportResult> {
  const datasets = opts.datasets ?? EXPORT_DATASETS;
  const settle = opts.settleSeconds ?? 30;
  await mkdir(opts.dir, { recursive: true });
  const state = await readExportState(opts.dir);
  if (state && state.format !== opts.format) {
    throw new Error(`${opts.dir} holds ${state.format} extracts; use --format ${state.format}, or another directory for ${opts.format}`);
  }
  const from = state?.cursor ?? '1970-01-01 00:00:00.000';
  // The server's clock: stored_at is the server's now64 at insert.
  const to = await scalar<string>(opts.client, `SELECT toString(now64(3, 'UTC') - toIntervalMillisecond({settle:UInt32})) AS v`, { settle: settle * 1000 });
  const params = { from, to };
  const newTouchpoints = Number(await scalar<string>(opts.client, `SELECT count() AS v FROM touchpoints WHERE ${WINDOW}`, params));

  const files: ExportedFile[] = [];
  const total = datasets.length;
  opts.onProgress?.(0, total, 'counting');
  if (newTouchpoints > 0 && to > from) {
    const stamp = `${fileStamp(from)}_${fileStamp(to)}`;
    for (const [i, dataset] of datasets.entries()) {
      opts.onProgress?.(i, total, dataset);
      const format = FORMATS[opts.format];
      const target = path.join(opts.dir, dataset, `${dataset}_${stamp}.${format.extension}`);
      await mkdir(path.dirname(target), { recursive: true });
      const result = await opts.client.exec({ query: `${EXPORT_QUERIES[dataset]} ${SETTINGS} FORMAT ${format.clickhouse}`, query_params: params });
      try {
        await pipeline(result.stream as Readable, createWriteStream(`${target}.part`));
        await rename(`${target}.part`, target);
      } catch (err) {
        await rm(`${target}.part`, { force: true });
        throw err;
      }
      const rows = Number(await scalar<string>(opts.client, `SELECT count() AS v FROM (${EXPORT_QUERIES[dataset]}) ${SETTINGS}`, params));
      files.push({ dataset, path: target, rows });
    }
  }
  opts.onProgress?.(total, total, 'done');
  // Moves even when nothing was new: the window up to `to` has been looked at.
  if (to > from) await writeStateAtomically(opts.dir, { version: 1, format: opts.format, cursor: to, runs: (state?.runs ?? 0) + 1 });
  return { from: state?.cursor ?? null, to, newTouchpoints, files };
}
