// `touchstream erase`: erases customers through the admin API (DELETE /v1/customers/{id}), one request per id, so
// the service does the work in one place (docs/architecture.md §14) and the CLI only feeds it ids and counts.
import { readFileSync } from 'node:fs';

export interface EraseOptions {
  /** Base URL of the process running the query target. */
  url: string;
  adminKey: string;
  onProgress?: (done: number, total: number) => void;
}

export interface EraseSummary {
  erased: number;
  /** Ids erased before (the request is idempotent: nothing more to remove). */
  alreadyErased: number;
  /** Per store and table, what was removed over all ids. */
  removed: Record<string, number>;
  failed: Array<{ customer: string; status: number; message: string }>;
}

/** Customer ids of a file: one per line; blank lines and lines starting with # are ignored. */
export function readIdsFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

interface ErasureAnswer {
  previously_erased: boolean;
  removed: { redis: Record<string, number>; clickhouse: Record<string, number> };
}

export async function eraseCustomers(ids: readonly string[], opts: EraseOptions): Promise<EraseSummary> {
  const summary: EraseSummary = { erased: 0, alreadyErased: 0, removed: {}, failed: [] };
  let done = 0;
  for (const id of ids) {
    const res = await fetch(`${opts.url.replace(/\/$/, '')}/v1/customers/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${opts.adminKey}` },
    });
    const body = (await res.json().catch(() => ({}))) as Partial<ErasureAnswer> & { message?: string };
    if (res.status !== 200) {
      summary.failed.push({ customer: id, status: res.status, message: body.message ?? res.statusText });
      // Wrong key or privacy not configured: every other id would fail the same way.
      if (res.status === 401 || res.status === 503) break;
    } else {
      summary.erased++;
      if (body.previously_erased) summary.alreadyErased++;
      for (const [store, counts] of Object.entries(body.removed ?? {})) {
        for (const [what, n] of Object.entries(counts as Record<string, unknown>)) {
          if (typeof n === 'number') summary.removed[`${store}.${what}`] = (summary.removed[`${store}.${what}`] ?? 0) + n;
        }
      }
    }
    opts.onProgress?.(++done, ids.length);
  }
  return summary;
}
