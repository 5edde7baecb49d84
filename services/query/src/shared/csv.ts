// CSV answers: `format=csv` or `Accept: text/csv` turns a JSON answer's table into text/csv.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { stringify } from 'csv-stringify/sync';

/** CSV when asked for by `format=csv`, or by an Accept header that prefers text/csv and no explicit `format=json`. */
export function wantsCsv(request: { query: { format?: 'json' | 'csv' }; headers: FastifyRequest['headers'] }): boolean {
  if (request.query.format) return request.query.format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept);
}

/**
 * RFC 4180 CSV (CRLF line ends) of a header and rows, by csv-stringify; null is an empty cell, which spreadsheets
 * read as "no value" (not zero). `recordDelimiter` exists for the KPI CSV alone, which has always ended its lines
 * with LF: clients written against it keep getting the same bytes.
 */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>, recordDelimiter: '\r\n' | '\n' = '\r\n'): string {
  return stringify([header, ...rows] as unknown[][], {
    record_delimiter: recordDelimiter,
    // A lone line break inside a field must be quoted too, not only the record delimiter.
    quoted_match: /[\r\n]/,
    cast: { boolean: (v) => String(v) },
  });
}

/** Answers CSV text; with `downloadName`, as an attachment of that name. */
export function sendCsv(reply: FastifyReply, csv: string, downloadName?: string): FastifyReply {
  reply.type('text/csv; charset=utf-8');
  if (downloadName) reply.header('content-disposition', `attachment; filename="${downloadName}"`);
  return reply.send(csv);
}
