// Time parameters of requests: ISO-8601 instants and from/to ranges (epoch micros inside), and durations such as
// `7d`; a bad value is a 400 that names the parameter and what was sent.
import { invalidParameter } from './errors.ts';
import { parseIsoToMicros } from './time.ts';

const dayMicros = 24 * 3600 * 1_000_000;

/** The default range of the KPI views, the heat map and the alerts: the last 24 hours. */
const defaultRangeMicros = dayMicros;
/** Analyses (funnels, paths, drivers, attribution) look further back by default: a month of journeys. */
export const defaultAnalysisRangeMicros = 30 * dayMicros;

export const isoParameterHint = 'an ISO-8601 date or date-time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.123456+02:00';

/** Parses one optional ISO-8601 query parameter into epoch micros; 400 names the parameter and what was sent. */
export function parseTimeParameter(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const micros = parseIsoToMicros(value);
  if (micros === undefined) throw invalidParameter(`${name} must be ${isoParameterHint} (got ${JSON.stringify(value)})`);
  return micros;
}

/** `from`/`to`, by default the `defaultSpanMicros` up to now; `from` must be before `to`. */
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

const durationUnitsMicros = { s: 1_000_000, m: 60_000_000, h: 3_600_000_000, d: dayMicros } as const;
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
