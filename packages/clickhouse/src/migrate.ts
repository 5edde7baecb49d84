// Versioned schema migrations: packages/clickhouse/migrations/NNN_name.sql, applied in version order at start,
// each recorded in schema_migrations once all its statements succeeded. Every statement is written to be
// idempotent (IF NOT EXISTS …), so a migration interrupted halfway, or run by two processes at once, is
// simply run again. The same files serve chDB and a server.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows } from './insert.ts';

export interface MigrationLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface MigrateOptions {
  /** A pino-style logger, or a function taking one line of text. */
  log?: MigrationLog | ((message: string) => void);
  /** Defaults to this package's migrations/ folder. */
  migrationsDir?: string;
}

export interface Migration {
  /** The file name without `.sql`, e.g. `001_initial`; recorded in schema_migrations. */
  version: string;
  statements: string[];
  /** sha256 of the file, to notice a migration edited after it was applied. */
  checksum: string;
}

export const defaultMigrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url));

const migrationFilePattern = /^(\d{3,})_[a-z0-9_]+\.sql$/;

/** Splits a migration file at lines ending with `;`. Whole-line `--` comments are dropped first, so a `;` ending a comment splits nothing. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;[ \t]*$/m)
    .map((piece) => piece.trim())
    .filter((piece) => piece !== '');
}

export async function loadMigrations(dir: string = defaultMigrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = migrationFilePattern.exec(file);
    if (!m) throw new Error(`migration file ${file} is not named NNN_name.sql`);
    const number = m[1]!;
    if (seen.has(number)) throw new Error(`migrations ${seen.get(number)} and ${file} share the number ${number}`);
    seen.set(number, file);
    const text = await readFile(path.join(dir, file), 'utf8');
    migrations.push({
      version: file.slice(0, -'.sql'.length),
      statements: splitStatements(text),
      checksum: createHash('sha256').update(text).digest('hex'),
    });
  }
  return migrations;
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version`;

/** Versions recorded as applied, with the checksum each had when applied. */
export async function appliedMigrations(client: ClickHouseClient): Promise<Map<string, string>> {
  await client.command({ query: createMigrationsTable });
  const rs = await client.query({
    query: 'SELECT version, any(checksum) AS checksum FROM schema_migrations GROUP BY version ORDER BY version',
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ version: string; checksum: string }>();
  return new Map(rows.map((r) => [r.version, r.checksum]));
}

/** Applies the migrations not yet recorded, in order; returns the versions it applied (empty when up to date). */
function migrationLog(log: MigrateOptions['log']): MigrationLog | undefined {
  if (typeof log !== 'function') return log;
  return {
    info: (obj, msg) => log(`${msg ?? ''} ${JSON.stringify(obj)}`.trim()),
    warn: (obj, msg) => log(`warning: ${msg ?? ''} ${JSON.stringify(obj)}`.trim()),
  };
}

export async function migrate(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<string[]> {
  const log = migrationLog(opts.log);
  const migrations = await loadMigrations(opts.migrationsDir);
  const applied = await appliedMigrations(client);
  const newlyApplied: string[] = [];
  for (const migration of migrations) {
    const appliedChecksum = applied.get(migration.version);
    if (appliedChecksum !== undefined) {
      if (appliedChecksum !== migration.checksum) {
        // Not fatal: the tables exist; but the change will never be applied — it belongs in a new migration.
        log?.warn({ version: migration.version }, 'migration file changed after it was applied; put schema changes in a new migration');
      }
      continue;
    }
    for (const statement of migration.statements) {
      await client.command({ query: statement });
    }
    await insertRows(client, { table: 'schema_migrations', rows: [{ version: migration.version, checksum: migration.checksum }] });
    log?.info({ version: migration.version, statements: migration.statements.length }, 'applied ClickHouse migration');
    newlyApplied.push(migration.version);
  }
  return newlyApplied;
}
