// Pieces of route schema shared by the analysis routes (funnels, paths, drivers, attribution).
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { isoParameterHint } from '../range.ts';
import { durationHint, durationPattern } from '../analysis/common.ts';

export interface AnalysisDeps {
  clickhouse: ClickHouseClient;
  /** Epoch microseconds "now", for the default range. */
  nowMicros: () => number;
}

export { authNote, errorResponses, formatParameter, tags, wantsCsv } from './common.ts';

export const rangeProperties = {
  from: { type: 'string', minLength: 1, maxLength: 64, description: `Start of the range (inclusive). Default: \`to\` minus 30 days. Must be ${isoParameterHint}.`, examples: ['2024-05-01T00:00:00Z'] },
  to: { type: 'string', minLength: 1, maxLength: 64, description: `End of the range (exclusive). Default: now. Must be ${isoParameterHint}.`, examples: ['2024-06-01T00:00:00Z'] },
} as const;

export const durationProperty = (description: string, example: string, defaultValue?: string) =>
  ({
    type: 'string',
    pattern: durationPattern,
    description: `${description} ${durationHint}.`,
    examples: [example],
    ...(defaultValue ? { default: defaultValue } : {}),
  }) as const;

export const name = (description: string, example: string) =>
  ({ type: 'string', minLength: 1, maxLength: 256, description, examples: [example] }) as const;

