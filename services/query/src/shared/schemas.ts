// Pieces of route schema the families share. Route schemas validate the parameters, serialise the responses and
// are what /docs shows (OpenAPI).
import { errorBodySchema } from './errors.ts';
import { durationHint, durationPattern, isoParameterHint } from './range.ts';

export const tags = ['query'];

export const authNote = 'Requires a read key (an analyst-write or admin key also reads): `Authorization: Bearer <key>`; write keys are not accepted.';

export const errorResponses = {
  400: { description: 'A parameter is invalid; `message` says which and why.', ...errorBodySchema },
  401: { description: 'No key, or a key that is not one of ours.', ...errorBodySchema },
  403: { description: 'A known key without the role this route needs (e.g. a write key).', ...errorBodySchema },
  500: { description: 'The query failed.', ...errorBodySchema },
} as const;

export const isoTimestamp = (description: string, example = '2024-05-01T12:00:00.123456Z') =>
  ({ type: 'string', description: `${description} ISO-8601, UTC, microsecond precision.`, examples: [example] }) as const;

export const nullableNumber = (description: string) => ({ type: ['number', 'null'], description }) as const;

export const nullableString = (description: string) => ({ type: ['string', 'null'], description }) as const;

/** A touchpoint, channel or outcome name given as a parameter. */
export const name = (description: string, example: string) =>
  ({ type: 'string', minLength: 1, maxLength: 256, description, examples: [example] }) as const;

export const rangeParameter = (name: 'from' | 'to', text: string, example = name === 'from' ? '2024-05-01T00:00:00Z' : '2024-05-02T00:00:00Z') =>
  ({
    type: 'string',
    minLength: 1,
    maxLength: 64,
    description: `${text} Must be ${isoParameterHint}.`,
    examples: [example],
  }) as const;

/** `from` and `to` of the analyses (default: the last 30 days, see defaultAnalysisRangeMicros). */
export const analysisRangeProperties = {
  from: rangeParameter('from', 'Start of the range (inclusive). Default: `to` minus 30 days.'),
  to: rangeParameter('to', 'End of the range (exclusive). Default: now.', '2024-06-01T00:00:00Z'),
} as const;

export const durationProperty = (description: string, example: string, defaultValue?: string) =>
  ({
    type: 'string',
    pattern: durationPattern,
    description: `${description} ${durationHint}.`,
    examples: [example],
    ...(defaultValue ? { default: defaultValue } : {}),
  }) as const;

export const formatParameter = {
  type: 'string',
  enum: ['json', 'csv'],
  description: 'Response format: JSON, or `csv` for text/csv (also chosen by `Accept: text/csv` when `format` is not given).',
} as const;

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
