// The Avro contracts carry timestamps as epoch microseconds; ClickHouse columns are DateTime64(6, 'UTC').
// Rows are sent as 'YYYY-MM-DD hh:mm:ss.ffffff' text: unambiguous on every input format setting, whereas a
// bare number for a DateTime64 is read as seconds or ticks depending on its size and the server version.

const microsPerSecond = 1_000_000;

/** Epoch microseconds → ClickHouse DateTime64(6) text in UTC, exact to the microsecond. */
export function dateTime64FromMicros(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer number of microseconds: ${micros}`);
  const seconds = Math.floor(micros / microsPerSecond);
  const fraction = micros - seconds * microsPerSecond;
  if (seconds !== lastSeconds) {
    // The events of a batch fall in few seconds: the date and time part is formatted once per second, not per row.
    const iso = new Date(seconds * 1000).toISOString();
    if (iso.startsWith('+') || iso.startsWith('-')) throw new RangeError(`timestamp out of range: ${micros}`);
    lastPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
    lastSeconds = seconds;
  }
  return lastPrefix + String(fraction).padStart(6, '0');
}

let lastSeconds = Number.NaN;
let lastPrefix = '';

/** ClickHouse DateTime64 text in UTC (any precision 0–6, as returned in JSON formats) → epoch microseconds. */
export function microsFromDateTime64(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z?$/.exec(text);
  if (!m) throw new RangeError(`not a DateTime64 value: ${JSON.stringify(text)}`);
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  if (Number.isNaN(ms)) throw new RangeError(`not a DateTime64 value: ${JSON.stringify(text)}`);
  const fraction = Number((m[3] ?? '').padEnd(6, '0').slice(0, 6));
  return (ms / 1000) * microsPerSecond + fraction;
}
