import { describe, expect, it } from 'vitest';
import { loadMigrations, splitStatements } from './migrate.ts';

describe('splitStatements', () => {
  it('splits at lines ending with a semicolon and ignores whole-line comments, even ones ending with one', () => {
    const sql = [
      '-- header; with a semicolon;',
      'CREATE TABLE a (x String) ENGINE = Memory;',
      '',
      '-- second;',
      'CREATE VIEW v AS',
      "SELECT ';' AS s FROM a ;",
      '-- trailing comment only',
    ].join('\n');
    expect(splitStatements(sql)).toEqual(['CREATE TABLE a (x String) ENGINE = Memory', "CREATE VIEW v AS\nSELECT ';' AS s FROM a"]);
  });
});

describe('the migrations folder', () => {
  it('holds numbered files whose statements are all idempotent', async () => {
    const migrations = await loadMigrations();
    expect(migrations[0]?.version).toBe('001_initial');
    expect(migrations.map((m) => m.version)).toEqual([...migrations.map((m) => m.version)].sort());
    for (const m of migrations) {
      expect(m.statements.length).toBeGreaterThan(0);
      // Redefining a view's query or a table's TTL is idempotent by nature: running it again sets the same thing.
      // An INSERT is, only with a fixed deduplication token (a re-run stores nothing twice).
      for (const statement of m.statements) {
        expect(statement).toMatch(/\bIF NOT EXISTS\b|\bIF EXISTS\b|^ALTER TABLE \w+ MODIFY (QUERY|TTL)\b|^INSERT INTO \w+\s+SETTINGS insert_deduplication_token = '\w+'/);
      }
    }
  });
});
