// Incremental extracts against a real ClickHouse (chDB, or the test stack's server): a second run writes only the
// rows stored since the first — including a late event, whose old hour's rollup is written again corrected — and
// a run with nothing new writes nothing. Rows go in through the sink's own write path (storeRows: raw + rollups).
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { dateTime64FromMicros, storeRows } from '@touchstream/clickhouse';
import { useMigratedTestClickHouse } from '@touchstream/clickhouse/testing';
import { readExportState, runExport, STATE_FILE } from './export.ts';

const ch = useMigratedTestClickHouse();

const HOUR_US = 3_600_000_000;
const nowUs = Date.now() * 1000;
function touchpoint(id: string, occurredUs: number, over: Record<string, unknown> = {}) {
  return {
    event_id: id,
    customer_id: `cust-${id}`,
    occurred_at: dateTime64FromMicros(occurredUs),
    received_at: dateTime64FromMicros(nowUs),
    channel: 'export_test',
    touchpoint: 'call',
    initiator: 'customer',
    journey: 'billing',
    stage: '',
    reason: '',
    outcome: 'completed',
    duration_ms: 1000,
    wait_ms: 100,
    sentiment: 0.5,
    survey_kind: '',
    survey_score: null,
    survey_comment: '',
    agent_id: '',
    session_id: '',
    attributes: { plan: 'pro' },
    kafka_partition: 0,
    kafka_offset: 0,
    ...over,
  };
}

/** CSVWithNames → objects (no quoted commas in these fixtures' values). */
function csvRows(file: string): Array<Record<string, string>> {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const names = header!.split(',').map((n) => JSON.parse(n) as string);
  return lines.map((line) => Object.fromEntries(line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map((v, i) => [names[i]!, v.replace(/^"|"$/g, '')])));
}

const filesIn = (dir: string, dataset: string) => readdirSync(path.join(dir, dataset)).filter((f) => !f.endsWith('.part')).sort().map((f) => path.join(dir, dataset, f));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('touchstream export', () => {
  it('writes only the rows stored since the last run, picks up a late event, and nothing when nothing is new', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'export-csv-'));
    const hourNow = Math.floor(nowUs / HOUR_US) * HOUR_US;
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpoint('a1', hourNow + 60_000_000), touchpoint('a2', hourNow + 120_000_000, { outcome: 'abandoned' })], dedupToken: 'export-test-a' });
    await pause(20);

    const first = await runExport({ client: ch.client, dir, format: 'csv', settleSeconds: 0 });
    expect(first.from).toBeNull();
    expect(first.newTouchpoints).toBe(2);
    expect(first.files.map((f) => f.dataset)).toEqual(['touchpoints', 'rollups', 'kpis']);
    expect(first.files.find((f) => f.dataset === 'touchpoints')?.rows).toBe(2);
    expect(first.files.find((f) => f.dataset === 'kpis')?.rows).toBe(1);
    const [touchpointsFile1] = filesIn(dir, 'touchpoints');
    expect(csvRows(touchpointsFile1!).map((r) => r.event_id).sort()).toEqual(['a1', 'a2']);
    expect(csvRows(touchpointsFile1!)[0]!.attributes).toContain('plan');
    const state1 = await readExportState(dir);
    expect(state1).toMatchObject({ version: 1, format: 'csv', cursor: first.to, runs: 1 });

    // New rows: one fresh, one late (event time three days ago, stored now).
    const lateHour = hourNow - 72 * HOUR_US;
    await pause(20);
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpoint('b1', hourNow + 180_000_000), touchpoint('late-1', lateHour + 300_000_000, { channel: 'export_late' })], dedupToken: 'export-test-b' });
    await pause(20);

    const second = await runExport({ client: ch.client, dir, format: 'csv', settleSeconds: 0 });
    expect(second.from).toBe(first.to);
    expect(second.newTouchpoints).toBe(2);
    const touchpointFiles = filesIn(dir, 'touchpoints');
    expect(touchpointFiles).toHaveLength(2);
    expect(csvRows(touchpointFiles[1]!).map((r) => r.event_id).sort()).toEqual(['b1', 'late-1']);

    // The rollups of this run: the current hour again (now 3 events overall) and the late event's hour.
    const rollups = csvRows(filesIn(dir, 'rollups')[1]!);
    const everyone = rollups.filter((r) => r.dimension === '');
    const late = everyone.find((r) => r.bucket!.startsWith(new Date(lateHour / 1000).toISOString().slice(0, 13).replace('T', ' ')));
    expect(late).toMatchObject({ events: '1' });
    const current = everyone.find((r) => r.bucket!.startsWith(new Date(hourNow / 1000).toISOString().slice(0, 13).replace('T', ' ')));
    expect(current).toMatchObject({ events: '3' });
    expect(rollups.some((r) => r.dimension === 'channel' && r.key === 'export_late')).toBe(true);

    // Totals as of the second run: all 4 events.
    const totals = csvRows(filesIn(dir, 'kpis')[1]!);
    expect(totals).toHaveLength(1);
    expect(totals[0]).toMatchObject({ events: '4', unique_customers: '4' });

    // Nothing new: no files, the cursor still moves.
    await pause(20);
    const third = await runExport({ client: ch.client, dir, format: 'csv', settleSeconds: 0 });
    expect(third.files).toEqual([]);
    expect(filesIn(dir, 'touchpoints')).toHaveLength(2);
    expect((await readExportState(dir))?.runs).toBe(3);
  });

  it('writes Parquet that ClickHouse reads back, and refuses to mix formats in one destination', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'export-parquet-'));
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpoint('p1', nowUs - 1_000_000)], dedupToken: 'export-test-p' });
    await pause(20);
    const result = await runExport({ client: ch.client, dir, format: 'parquet', datasets: ['touchpoints'], settleSeconds: 0 });
    const [file] = filesIn(dir, 'touchpoints');
    expect(file).toMatch(/\.parquet$/);
    expect(readFileSync(file!).subarray(0, 4).toString()).toBe('PAR1');
    expect(result.files[0]!.rows).toBeGreaterThanOrEqual(1);
    if (!inject('clickhouseUrl')) {
      // chDB reads local files: the extract holds the rows, with their types.
      const rs = await ch.client.query({ query: `SELECT event_id, toTypeName(occurred_at) AS t FROM file({file:String}, Parquet) WHERE event_id = 'p1'`, query_params: { file }, format: 'JSONEachRow' });
      expect(await rs.json()).toEqual([{ event_id: 'p1', t: expect.stringMatching(/^Nullable\(DateTime64\(6|^DateTime64\(6/) }]);
    }
    expect(statSync(path.join(dir, STATE_FILE)).isFile()).toBe(true);
    await expect(runExport({ client: ch.client, dir, format: 'csv', settleSeconds: 0 })).rejects.toThrow(/holds parquet extracts/);
  });

  it('leaves rows stored within the settle margin for the next run', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'export-settle-'));
    await storeRows(ch.client, { table: 'touchpoints', rows: [touchpoint('s1', nowUs)], dedupToken: 'export-test-s' });
    const early = await runExport({ client: ch.client, dir, format: 'csv', datasets: ['touchpoints'], settleSeconds: 3600 });
    const exported = early.files.flatMap((f) => csvRows(f.path).map((r) => r.event_id));
    expect(exported).not.toContain('s1');
  });
});
