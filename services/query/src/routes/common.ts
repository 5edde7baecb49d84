// Pieces the route files share: schema fragments and the CSV reply.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { stringify } from 'csv-stringify/sync';
import { errorBodySchema } from '../errors.ts';
import { isoParameterHint } from '../range.ts';

export const tags = ['query'];

export const authNote = 'Requires a read key: `Authorization: Bearer <key>` (write keys and the admin key are not accepted).';

export const isoTimestamp = (description: string, example = '2024-05-01T12:00:00.123456Z') =>
  ({ type: 'string', description: `${description} ISO-8601, UTC, microsecond precision.`, examples: [example] }) as const;

export const nullableNumber = (description: string) => ({ type: ['number', 'null'], description }) as const;

export const errorResponses = {
  400: { description: 'A parameter is invalid; `message` says which and why.', ...errorBodySchema },
  401: { description: 'No read key, or the key is not a read key.', ...errorBodySchema },
  500: { description: 'The query failed.', ...errorBodySchema },
} as const;

export const rangeParameter = (name: 'from' | 'to', text: string) =>
  ({
    type: 'string',
    minLength: 1,
    maxLength: 64,
    description: `${text} Must be ${isoParameterHint}.`,
    examples: [name === 'from' ? '2024-05-01T00:00:00Z' : '2024-05-02T00:00:00Z'],
  }) as const;

export const formatParameter = {
  type: 'string',
  enum: ['json', 'csv'],
  description: 'Response format: JSON, or `csv` for text/csv (also chosen by `Accept: text/csv` when `format` is not given).',
} as const;

/** CSV when asked for by `format=csv`, or by an Accept header that prefers text/csv and no explicit `format=json`. */
export function wantsCsv(request: { query: { format?: 'json' | 'csv' }; headers: FastifyRequest['headers'] }): boolean {
  if (request.query.format) return request.query.format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept);
}

export function sendCsv(reply: FastifyReply, filename: string, columns: string[], records: Array<Array<unknown>>) {
  // Nulls become empty cells, which spreadsheets read as "no value" (not zero).
  const body = stringify(records.map((r) => r.map((v) => (v === null || v === undefined ? '' : v))), { header: true, columns });
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(body);
}

/** A 200 response documented for JSON and CSV. */
export function jsonOrCsv200(description: string, jsonSchema: object, csvExample: string) {
  return {
    description,
    content: {
      'application/json': { schema: jsonSchema },
      'text/csv': { schema: { type: 'string', examples: [csvExample] } },
    },
  };
}
