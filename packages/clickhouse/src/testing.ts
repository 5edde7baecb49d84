// For tests (and demos): a ClickHouse of one's own. chDB in a fresh temp directory by default; with a server
// URL, a uniquely named database on it, dropped again on close.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { createClickHouse, type ClickHouseClient } from './client.ts';

export interface TestClickHouse {
  client: ClickHouseClient;
  /** Where it lives, for messages: the chDB directory or the server database. */
  location: string;
  close(): Promise<void>;
}

export async function openTestClickHouse(opts: { url?: string | null; username?: string; password?: string } = {}): Promise<TestClickHouse> {
  if (opts.url) {
    const database = `touchstream_test_${randomBytes(6).toString('hex')}`;
    const admin = createClient({ url: opts.url, username: opts.username, password: opts.password });
    await admin.command({ query: `CREATE DATABASE ${database}` });
    const client = createClickHouse({ url: opts.url, username: opts.username, password: opts.password, database });
    return {
      client,
      location: `${opts.url} database ${database}`,
      async close() {
        await client.close();
        await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
        await admin.close();
      },
    };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-chdb-'));
  const client = createClickHouse({ path: dir });
  return {
    client,
    location: dir,
    async close() {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
