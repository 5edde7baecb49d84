// Timestamps travel through the project as epoch MICROseconds (Avro timestamp-micros, DateTime64(6) in ClickHouse).
// JavaScript's Date only holds milliseconds, so parsing and formatting are done by hand to keep the last three digits.
import { microsToIsoUtc as microsToIso } from '@touchstream/contracts';

const isoTimestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses an ISO-8601 date or date-time into epoch microseconds, or returns undefined when it is not one.
 * Accepts `2024-05-01`, `2024-05-01T12:00Z`, `2024-05-01T12:00:00.123456+02:00`; a time without an offset is
 * read as UTC (the API is UTC throughout). Fractions beyond microseconds are truncated.
 */
export function parseIsoToMicros(text: string): number | undefined {
  const m = isoTimestampPattern.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', offset = 'Z'] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2024-02-30 over into March; reject instead of guessing.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (offset.toUpperCase() !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2)), om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const micros = Number(fraction.padEnd(6, '0').slice(0, 6));
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}

/** Formats epoch microseconds as `2024-05-01T12:00:00.123456Z` (always six fraction digits, always UTC). */
export { microsToIso };

/** Epoch micros from a ClickHouse Int64 (quoted as a string by a server, a number from chDB) or a Redis string. */
export function toMicros(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Same as microsToIso, passing null through. */
export function optionalMicrosToIso(value: unknown): string | null {
  const micros = toMicros(value);
  return micros === null ? null : microsToIso(micros);
}
