// Turns a POST /v1/events body into items, one per posted event, each keeping its raw bytes for the dead-letter
// topic. Pure: no Fastify, no Kafka. A body that is not JSON at all is one error for the whole request; in NDJSON
// every line stands alone, so one malformed line rejects only that event.
import secureJson from 'secure-json-parse';

export type BodyMediaKind = 'json' | 'ndjson';

/** Media types POST /v1/events accepts, and how each is read. */
export const acceptedMediaTypes: Record<string, BodyMediaKind> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
};

/** `application/x-ndjson; charset=utf-8` → `ndjson`; undefined for anything not accepted. */
export function mediaKindOf(contentType: string | undefined): BodyMediaKind | undefined {
  if (!contentType) return undefined;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return acceptedMediaTypes[mediaType];
}

/** One posted event: its position in the request and raw bytes, then either the parsed value or why not. */
export type BodyItem =
  | { index: number; raw: Buffer; ok: true; value: unknown }
  | { index: number; raw: Buffer; ok: false; errors: string[] };

export interface JsonSyntaxError {
  message: string;
  /** Character offset (UTF-16 code units) into the text where parsing failed. */
  position?: number;
  line?: number;
  column?: number;
}

export type ParsedBody =
  | { kind: 'items'; items: BodyItem[] }
  | ({ kind: 'invalid-json' } & JsonSyntaxError)
  | { kind: 'too-many-events'; count: number; limit: number }
  | { kind: 'empty' };

export interface ParseBodyOptions {
  maxEvents: number;
}

export function parseEventsBody(body: Buffer, media: BodyMediaKind, opts: ParseBodyOptions): ParsedBody {
  return media === 'ndjson' ? parseNdjson(body, opts) : parseJsonBody(body, opts);
}

function parseJsonBody(body: Buffer, opts: ParseBodyOptions): ParsedBody {
  const text = body.toString('utf8');
  if (text.trim() === '') return { kind: 'empty' };
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { kind: 'invalid-json', ...parsed.error };
  const value = parsed.value;
  if (!Array.isArray(value)) {
    // A single event: its raw bytes are the body itself.
    return { kind: 'items', items: [itemOf(0, body, value)] };
  }
  if (value.length === 0) return { kind: 'empty' };
  if (value.length > opts.maxEvents) return { kind: 'too-many-events', count: value.length, limit: opts.maxEvents };
  // JSON.stringify keeps own `__proto__` keys (JSON.parse creates them as plain data), so the dead letter shows
  // exactly what was refused.
  return { kind: 'items', items: value.map((v, i) => arrayItemOf(i, v)) };
}

/**
 * JSON.parse takes nesting of any depth, JSON.stringify does not: it recurses and throws a RangeError (found by
 * the fuzz suite as a 500). An event is at most a few levels deep, so an item nested deeper than this is
 * rejected with a reason before anything recurses over it.
 */
export const MAX_EVENT_DEPTH = 64;

export function depthExceeds(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > limit) return true;
    const next: unknown[] = [];
    for (const v of level) {
      if (v !== null && typeof v === 'object') for (const child of Object.values(v)) if (child !== null && typeof child === 'object') next.push(child);
    }
    level = next;
  }
  return false;
}

function tooDeep(index: number, raw: Buffer): BodyItem {
  return { index, raw, ok: false, errors: [`event: nested more than ${MAX_EVENT_DEPTH} levels deep`] };
}

function arrayItemOf(index: number, value: unknown): BodyItem {
  if (depthExceeds(value, MAX_EVENT_DEPTH)) {
    // Its own bytes cannot be re-serialised; the dead letter says what it was instead.
    return tooDeep(index, Buffer.from(JSON.stringify({ note: `array item ${index} nested more than ${MAX_EVENT_DEPTH} levels deep; not kept` })));
  }
  return itemOf(index, Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'), value);
}

function parseNdjson(body: Buffer, opts: ParseBodyOptions): ParsedBody {
  const lines: Array<{ index: number; raw: Buffer }> = [];
  let start = 0;
  let lineNumber = 0;
  while (start <= body.length) {
    const newline = body.indexOf(0x0a, start);
    const end = newline === -1 ? body.length : newline;
    let raw = body.subarray(start, end);
    if (raw.length > 0 && raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, raw.length - 1);
    if (!isBlank(raw)) lines.push({ index: lineNumber, raw });
    lineNumber++;
    if (newline === -1) break;
    start = newline + 1;
  }
  if (lines.length === 0) return { kind: 'empty' };
  // Counted before parsing anything: a too-large batch costs no parsing.
  if (lines.length > opts.maxEvents) return { kind: 'too-many-events', count: lines.length, limit: opts.maxEvents };
  return {
    kind: 'items',
    items: lines.map(({ index, raw }) => {
      const parsed = parseJsonText(raw.toString('utf8'));
      if (!parsed.ok) {
        const where = parsed.error.column !== undefined ? ` at column ${parsed.error.column}` : '';
        return { index, raw, ok: false, errors: [`line ${index + 1}: invalid JSON${where}: ${parsed.error.message}`] };
      }
      return itemOf(index, raw, parsed.value);
    }),
  };
}

function isBlank(raw: Buffer): boolean {
  for (const byte of raw) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** Refuses `__proto__` and `constructor.prototype` keys anywhere in the event (secure-json-parse semantics). */
function itemOf(index: number, raw: Buffer, value: unknown): BodyItem {
  if (depthExceeds(value, MAX_EVENT_DEPTH)) return tooDeep(index, raw);
  const forbidden = forbiddenKeyIn(value);
  if (forbidden) return { index, raw, ok: false, errors: [forbidden] };
  return { index, raw, ok: true, value };
}

export function forbiddenKeyIn(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    secureJson.scan(value, { protoAction: 'error', constructorAction: 'error' });
    return undefined;
  } catch {
    // secure-json-parse says "prototype property" for both; ask again for the constructor case alone.
    return hasConstructorPrototype(value)
      ? 'event: contains a "constructor.prototype" key, which is refused (prototype pollution guard)'
      : 'event: contains a "__proto__" key, which is refused (prototype pollution guard)';
  }
}

function hasConstructorPrototype(value: object): boolean {
  try {
    secureJson.scan(value, { protoAction: 'ignore', constructorAction: 'error' });
    return false;
  } catch {
    return true;
  }
}

export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    // V8 names the position for some errors only ("… in JSON at position 5 (line 1 column 6)"); otherwise
    // find it ourselves so every answer says where the body broke.
    const fromV8 = /at position (\d+)/.exec(message);
    const position = fromV8 ? Number(fromV8[1]) : locateJsonSyntaxError(text);
    if (position === undefined) return { ok: false, error: { message } };
    return { ok: false, error: { message, position, ...lineAndColumn(text, position) } };
  }
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Offset of the first JSON syntax error in `text` (RFC 8259), or undefined when the text is valid. Iterative, so
 * deeply nested input cannot overflow the stack. Only used to explain a failure JSON.parse already reported.
 */
export function locateJsonSyntaxError(text: string): number | undefined {
  const n = text.length;
  let i = 0;
  const containers: Array<'array' | 'object'> = [];
  const skipWhitespace = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  /** At a `"`: moves past the closing quote, or stops at the offending character. */
  const scanString = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const escape = text[i + 1];
        if (escape === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!HEX4.test(hex)) {
            // At the first character that is not a hex digit, like V8.
            i += 2 + [...hex].findIndex((ch) => !/[0-9a-fA-F]/.test(ch));
            if (hex.length < 4 && HEX4.test(hex.padEnd(4, '0'))) i = n;
            return false;
          }
          i += 6;
          continue;
        }
        if (escape !== undefined && '"\\/bfnrt'.includes(escape)) {
          i += 2;
          continue;
        }
        i++;
        return false;
      }
      i++;
    }
    return false;
  };
  /** At the start of an object member: `"key"` then `:`. */
  const scanKey = (): boolean => {
    skipWhitespace();
    if (text[i] !== '"' || !scanString()) return false;
    skipWhitespace();
    if (text[i] !== ':') return false;
    i++;
    return true;
  };

  let expectingValue = true;
  for (;;) {
    skipWhitespace();
    if (expectingValue) {
      if (i >= n) return i;
      const c = text[i]!;
      if (c === '{') {
        i++;
        skipWhitespace();
        if (text[i] === '}') {
          i++;
          expectingValue = false;
        } else {
          containers.push('object');
          if (!scanKey()) return i;
        }
      } else if (c === '[') {
        i++;
        skipWhitespace();
        if (text[i] === ']') {
          i++;
          expectingValue = false;
        } else {
          containers.push('array');
        }
      } else if (c === '"') {
        if (!scanString()) return i;
        expectingValue = false;
      } else if (c === '-' || (c >= '0' && c <= '9')) {
        NUMBER.lastIndex = i;
        if (!NUMBER.test(text)) return i;
        i = NUMBER.lastIndex;
        expectingValue = false;
      } else {
        const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
        if (!literal) return i;
        i += literal.length;
        expectingValue = false;
      }
      continue;
    }
    const container = containers.at(-1);
    if (container === undefined) return i < n ? i : undefined;
    const c = text[i];
    if (c === ',') {
      i++;
      if (container === 'object' && !scanKey()) return i;
      expectingValue = true;
    } else if ((container === 'array' && c === ']') || (container === 'object' && c === '}')) {
      i++;
      containers.pop();
    } else {
      return i;
    }
  }
}
