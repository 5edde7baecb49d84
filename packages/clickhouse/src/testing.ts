// For tests (and demos): a ClickHouse of one's own. chDB in a fresh temp directory by default; with a server
// URL, a uniquely named database on it, dropped again on close.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, inject } from 'vitest';
import { createClickHouse, type ClickHouseClient } from './client.ts';
import { migrate } from './migrate.ts';

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

/**
 * A migrated ClickHouse of its own for the calling test file (a database on the run's server when the stack has
 * one, else chDB): opened and migrated before its tests, closed after them. The returned object reads through to it,
 * so tests use `ch.client` inside tests and hooks.
 */
export function useMigratedTestClickHouse(): TestClickHouse {
  let opened: TestClickHouse | undefined;
  beforeAll(async () => {
    opened = await openTestClickHouse({ url: inject('clickhouseUrl') });
    await migrate(opened.client);
  });
  afterAll(async () => {
    await opened?.close();
  });
  const current = (): TestClickHouse => {
    if (!opened) throw new Error('the test ClickHouse opens in beforeAll: use it inside a test or hook');
    return opened;
  };
  return {
    get client() {
      return current().client;
    },
    get location() {
      return current().location;
    },
    close: () => current().close(),
  };
}
