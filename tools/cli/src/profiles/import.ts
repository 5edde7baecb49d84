// `touchstream profiles import <file.csv|file.ndjson>`: a CRM export into POST /v1/profiles, in batches, so ingest
// validates each profile as for any client (docs/architecture.md §20.6) and the CLI only reads the file and counts.
// CSV: a header row; `customer_id` required, `updated_at` and `profile_id` optional, every other column an attribute.
// Cells are typed the way a CRM export means them: true/false are booleans, plain decimal numbers are numbers, empty
// cells are left out (the attribute keeps its value), anything else a string; --strings names columns that stay text
// (postcodes, phone numbers). NDJSON: one profile per line, exactly as POST /v1/profiles takes it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

export interface ImportOptions {
  url: string;
  writeKey: string;
  /** Profiles per request (at most the server's INGEST_MAX_EVENTS). */
  batchSize?: number;
  /** CSV columns kept as strings even when they look like numbers or booleans. */
  strings?: readonly string[];
  onProgress?: (done: number) => void;
  /** Waits between retries of a 503 (injectable for tests). */
  sleep?: (ms: number) => Promise<void>;
}

export interface ImportSummary {
  read: number;
  accepted: number;
  /** Rejected profiles with the line of the file they came from (1-based, the CSV header is line 1). */
  rejected: Array<{ line: number; errors: string[] }>;
}

export interface ProfileLine {
  line: number;
  profile: unknown;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A CSV cell as the attribute value it stands for (undefined: left out). */
export function cellValue(text: string, keepString: boolean): string | number | boolean | undefined {
  if (text === '') return undefined;
  if (keepString) return text;
  if (text === 'true' || text === 'false') return text === 'true';
  if (NUMBER.test(text) && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** The profiles of a CSV file, one per row, with their line numbers. */
export async function* csvProfiles(file: string, strings: readonly string[] = []): AsyncGenerator<ProfileLine> {
  const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: true, info: true }));
  const keep = new Set(strings);
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const { customer_id, updated_at, profile_id, ...rest } = record;
    const attributes: Record<string, string | number | boolean> = {};
    for (const [name, text] of Object.entries(rest)) {
      const value = cellValue(text ?? '', keep.has(name));
      if (value !== undefined) attributes[name] = value;
    }
    yield {
      line: info.lines,
      profile: { customer_id, attributes, ...(updated_at ? { updated_at } : {}), ...(profile_id ? { profile_id } : {}) },
    };
  }
}

/** The profiles of an NDJSON file; a line that is not JSON is sent as it is, so ingest rejects it with the reason. */
export async function* ndjsonProfiles(file: string): AsyncGenerator<ProfileLine> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let profile: unknown;
    try {
      profile = JSON.parse(text);
    } catch {
      profile = text;
    }
    yield { line: n, profile };
  }
}

export const isCsv = (file: string) => /\.csv$/i.test(file);

export async function importProfiles(source: AsyncIterable<ProfileLine>, opts: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { read: 0, accepted: 0, rejected: [] };
  const batchSize = opts.batchSize ?? 500;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let batch: ProfileLine[] = [];

  const send = async () => {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${opts.url.replace(/\/$/, '')}/v1/profiles`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.writeKey}` },
        body: JSON.stringify(lines.map((l) => l.profile)),
      });
      const body = (await res.json().catch(() => ({}))) as { accepted?: number; rejected?: Array<{ index: number; errors: string[] }>; message?: string; code?: string };
      if (res.status === 503 && attempt < 6) {
        // The same body again: profiles with a profile_id or an updated_at count once however often they are sent.
        await sleep(Number(res.headers.get('retry-after') ?? 5) * 1000);
        continue;
      }
      if (res.status !== 202 && res.status !== 400 && res.status !== 409) throw new Error(`ingest answered ${res.status}${body.code ? ` ${body.code}` : ''}: ${body.message ?? ''}`);
      summary.accepted += body.accepted ?? 0;
      for (const r of body.rejected ?? []) summary.rejected.push({ line: lines[r.index]!.line, errors: r.errors });
      if (res.status === 400 && !body.rejected) throw new Error(`ingest answered 400 ${body.code ?? ''}: ${body.message ?? ''}`);
      break;
    }
    opts.onProgress?.(summary.read);
  };

  for await (const item of source) {
    summary.read++;
    batch.push(item);
    if (batch.length >= batchSize) await send();
  }
  await send();
  return summary;
}
