// Helpers shared by the analysis endpoints (funnels, paths, drivers, attribution): durations such as `7d`,
// the default analysis range, numbers from ClickHouse, and CSV output for the tabular answers.
import { stringify } from 'csv-stringify/sync';
import { invalidParameter } from '../errors.ts';
import { resolveRange } from '../range.ts';

/** Analyses look further back than the KPI views by default: a month of journeys. */
export const defaultAnalysisRangeMicros = 30 * 24 * 3600 * 1_000_000;

const durationUnitsMicros = { s: 1_000_000, m: 60_000_000, h: 3_600_000_000, d: 86_400_000_000 } as const;
export const durationPattern = '^[1-9][0-9]{0,5}(s|m|h|d)$';
export const durationHint = 'a whole number followed by s, m, h or d (e.g. 30m, 12h, 7d)';

/** Parses `30m`, `12h`, `7d` into microseconds; 400 naming the parameter otherwise. */
export function parseDurationMicros(name: string, text: string, maxMicros = 366 * durationUnitsMicros.d): number {
  const m = /^([1-9][0-9]{0,5})(s|m|h|d)$/.exec(text);
  if (!m) throw invalidParameter(`${name} must be ${durationHint} (got ${JSON.stringify(text)})`);
  const micros = Number(m[1]) * durationUnitsMicros[m[2] as keyof typeof durationUnitsMicros];
  if (micros > maxMicros) throw invalidParameter(`${name} may be at most ${maxMicros / durationUnitsMicros.d} days (got ${text})`);
  return micros;
}

/** from/to of an analysis: default the last 30 days up to now. */
export function analysisRange(query: { from?: string; to?: string }, nowMicros: number) {
  return resolveRange(query, nowMicros, defaultAnalysisRangeMicros);
}

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

/** UInt64/Int64 arrive quoted from a server and as numbers from chDB. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
export const round = (v: number | null, digits = 6): number | null =>
  v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits));

/** RFC 4180 CSV (CRLF line ends) of a header and rows, by csv-stringify as the KPI CSV; null is an empty cell. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): string {
  return stringify([header, ...rows] as unknown[][], {
    record_delimiter: '\r\n',
    // A lone line break inside a field must be quoted too, not only the CRLF record delimiter.
    quoted_match: /[\r\n]/,
    cast: { boolean: (v) => String(v) },
  });
}
