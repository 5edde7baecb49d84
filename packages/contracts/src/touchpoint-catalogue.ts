// The touchpoint catalogue (touchpoints.yaml): every touchpoint the company designed, with its channel, journey
// stage, owner, front stage or back office, description and reaction-time target. Validated as a whole (every
// problem at once, with its path in the document), and kept in step with the file like the weak-signal rules
// (packages/runtime/src/watched-file.ts): its stat is polled, and reload() re-reads it on demand (SIGHUP). An invalid
// new file is rejected and logged; the catalogue in force stays. docs/architecture.md §20.2. A contract shared by the query service (inventory, KPIs,
// evaluation) and the processor (SLAs from the catalogue, docs/architecture.md §20.5), so both read the file alike.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { watchFile, type FileReload, type WatchedFile } from '@touchstream/runtime/watched-file';
import { parseDocument } from 'yaml';
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "24h", "2d", "500ms" or a number of milliseconds (as in the rules file). */
const reactionTime = z.unknown().transform((v, ctx) => {
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v) : null;
  const ms = typeof v === 'number' && Number.isFinite(v) ? v : m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 2m, 4h, 2d or a number of milliseconds (> 0), got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

const name = z.string().min(1).max(256);

const entrySchema = z.strictObject({
  channel: name,
  stage: name,
  owner: name,
  /** front_stage: the customer sees it (a page, a call, a letter); back_office: work done for them out of sight. */
  layer: z.enum(['front_stage', 'back_office']),
  description: z.string().min(1).max(2000),
  /** How fast the company must react at this touchpoint (compared with the touchpoint's wait_ms). Optional. */
  reaction_time: reactionTime.optional(),
  journey: name.optional(),
});

const catalogueSchema = z.strictObject({
  version: z.union([z.string().min(1), z.number()]).transform(String).optional(),
  touchpoints: z.record(name, entrySchema),
});

export interface CatalogueEntry {
  touchpoint: string;
  channel: string;
  stage: string;
  owner: string;
  layer: 'front_stage' | 'back_office';
  description: string;
  /** Target in ms, or null when the catalogue sets none. */
  reaction_time_ms: number | null;
  journey: string | null;
}

export interface TouchpointCatalogue {
  file: string;
  /** "<version>+<first 8 hex of the content's sha256>", or the hash alone. */
  version: string;
  entries: CatalogueEntry[];
}

export class CatalogueError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid touchpoint catalogue ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CatalogueError';
  }
}

/** Parses and validates a catalogue document (YAML, so JSON too); throws CatalogueError listing every problem. */
export function parseCatalogue(text: string, file: string): TouchpointCatalogue {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new CatalogueError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const parsed = catalogueSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new CatalogueError(file, parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`));
  }
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
  return {
    file,
    version: parsed.data.version ? `${parsed.data.version}+${hash}` : hash,
    entries: Object.entries(parsed.data.touchpoints)
      .map(([touchpoint, e]) => ({
        touchpoint,
        channel: e.channel,
        stage: e.stage,
        owner: e.owner,
        layer: e.layer,
        description: e.description,
        reaction_time_ms: e.reaction_time ?? null,
        journey: e.journey ?? null,
      }))
      .sort((a, b) => a.touchpoint.localeCompare(b.touchpoint)),
  };
}

export async function loadCatalogueFile(file: string): Promise<TouchpointCatalogue> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CatalogueError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check TOUCHPOINTS_FILE`]);
  }
  return parseCatalogue(text, file);
}

export type CatalogueReload = FileReload<string>;

export type CatalogueWatcher = WatchedFile<TouchpointCatalogue, string>;

/** What the watcher logs through (a pino or Fastify logger fits). */
export interface CatalogueLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Loads the file once (throws CatalogueError when invalid: the process must not start with a bad catalogue). */
export function createCatalogueWatcher(options: {
  file: string;
  log: CatalogueLog;
  pollIntervalMs?: number;
  /** Called with each new catalogue put in force (not with the first, which `current` holds). */
  onChange?: (catalogue: TouchpointCatalogue) => void;
}): Promise<CatalogueWatcher> {
  return watchFile({
    file: options.file,
    load: loadCatalogueFile,
    version: (catalogue) => catalogue.version,
    describeError: (err) => (err instanceof CatalogueError ? err.message : `reading the touchpoint catalogue failed: ${(err as Error).message}`),
    onChange: options.onChange,
    log: options.log,
    messages: { reloaded: 'touchpoint catalogue reloaded', rejected: 'touchpoint catalogue reload rejected; keeping the one in force' },
    pollIntervalMs: options.pollIntervalMs,
  });
}
