import { describe, expect, it } from 'vitest';
import { rollupsOf, rollupsOfTable, rollupStatement, stringLiteral } from './rollups.ts';

describe('rollupStatement', () => {
  const [minute] = rollupsOf.touchpoints!;

  it('puts the token into the statement and reads the rows from the given source, whatever it contains', () => {
    const sql = rollupStatement(minute!, "format(JSONEachRow, 'a String', '$& $1 {source}')", ['bucket', 'events'], 'touchpoints.v1:0:1-2:ab');
    expect(sql).toMatch(/^INSERT INTO touchpoint_agg_1m SETTINGS .*insert_deduplication_token = 'touchpoints.v1:0:1-2:ab'/);
    // The table's columns by name, whatever order the rollup's query gives them in.
    expect(sql).toContain('\nSELECT `bucket`, `events` FROM (\nSELECT');
    expect(sql).toContain('max_threads = 1');
    expect(sql).toContain("FROM format(JSONEachRow, 'a String', '$& $1 {source}')\n");
    expect(sql).not.toContain('FROM {source}');
  });

  it('turns deduplication off without a token and refuses a token that could break out', () => {
    expect(rollupStatement(minute!, 'touchpoints', ['bucket'])).toContain('insert_deduplicate = 0');
    expect(() => rollupStatement(minute!, 'touchpoints', ['bucket'], "x', insert_deduplicate = 0 --")).toThrow(/invalid deduplication token/);
  });
});

describe('rollupsOfTable', () => {
  it('lists every rollup of the raw tables, keeping a database qualifier, and none for others', () => {
    expect(rollupsOfTable('touchpoints').map((r) => r.table)).toEqual([
      'touchpoint_agg_1m', 'touchpoint_agg_1h', 'touchpoint_agg_1d', 'kpi_agg_1h', 'kpi_agg_1d', 'customer_activity_1d', 'fcr_contacts',
    ]);
    expect(rollupsOfTable('db1.signals').map((r) => r.table)).toEqual(['db1.signal_agg_1m', 'db1.signal_agg_1h', 'db1.signal_agg_1d']);
    expect(rollupsOfTable('alerts')).toEqual([]);
  });
});

describe('stringLiteral', () => {
  it('escapes backslashes and quotes', () => {
    expect(stringLiteral(`a'b\\c`)).toBe(`'a\\'b\\\\c'`);
  });
});
