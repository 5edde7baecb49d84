import { describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { assertDedupToken, insertRows, insertStatement, jsonEachRowBody } from './insert.ts';

describe('insertStatement', () => {
  it('puts the token and the view deduplication into the statement, not into session settings', () => {
    const sql = insertStatement('touchpoints', 'touchpoints.v1:3:100-199');
    expect(sql).toMatch(/^INSERT INTO touchpoints SETTINGS .* FORMAT JSONEachRow$/);
    expect(sql).toContain("insert_deduplication_token = 'touchpoints.v1:3:100-199'");
    expect(sql).toContain('deduplicate_blocks_in_dependent_materialized_views = 1');
    expect(sql).toContain('async_insert = 0');
  });

  it('turns deduplication off for a plain insert', () => {
    const sql = insertStatement('db1.signals');
    expect(sql).toContain('insert_deduplicate = 0');
    expect(sql).not.toContain('insert_deduplication_token');
  });

  it('refuses tokens and table names that could break out of the statement', () => {
    for (const token of ["x' , insert_deduplicate = 0 --", 'a b', '', 'x\\', 'é']) {
      expect(() => assertDedupToken(token)).toThrow(/invalid deduplication token/);
      expect(() => insertStatement('touchpoints', token)).toThrow(/invalid deduplication token/);
    }
    expect(() => insertStatement('touchpoints; DROP TABLE x')).toThrow(/invalid table name/);
  });
});

describe('jsonEachRowBody', () => {
  it('writes one JSON object per line', () => {
    expect(jsonEachRowBody([{ a: 1 }, { a: 'x\ny' }])).toBe('{"a":1}\n{"a":"x\\ny"}\n');
    expect(jsonEachRowBody([])).toBe('');
  });
});

describe('insertRows', () => {
  it('refuses a raw table with rollups unless told the insert is raw-only: such rows would be counted by no rollup', async () => {
    const untouched = new Proxy({}, { get: () => { throw new Error('ClickHouse touched'); } }) as unknown as ClickHouseClient;
    for (const table of ['touchpoints', 'signals', 'default.touchpoints']) {
      await expect(insertRows(untouched, { table, rows: [{}] })).rejects.toThrow(/use storeRows/);
    }
  });
});
