// Time-range parameters shared by the endpoints: ISO-8601 in, epoch micros inside, clear 400s for bad input.
import { invalidParameter } from './errors.ts';
import { parseIsoToMicros } from './time.ts';

export const defaultRangeMicros = 24 * 3600 * 1_000_000;

export const isoParameterHint = 'an ISO-8601 date or date-time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.123456+02:00';

/** Parses one optional ISO-8601 query parameter into epoch micros; 400 names the parameter and what was sent. */
export function parseTimeParameter(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const micros = parseIsoToMicros(value);
  if (micros === undefined) throw invalidParameter(`${name} must be ${isoParameterHint} (got ${JSON.stringify(value)})`);
  return micros;
}

/** `from`/`to` with the default "last 24 hours up to now"; `from` must be before `to`. */
export function resolveRange(
  query: { from?: string; to?: string },
  nowMicros: number,
  defaultSpanMicros = defaultRangeMicros,
): { fromMicros: number; toMicros: number } {
  const to = parseTimeParameter('to', query.to) ?? nowMicros;
  const from = parseTimeParameter('from', query.from) ?? to - defaultSpanMicros;
  if (from >= to) throw invalidParameter(`from must be before to (got from=${query.from ?? '(default)'} to=${query.to ?? '(now)'})`);
  return { fromMicros: from, toMicros: to };
}
