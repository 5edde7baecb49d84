// chDB's own insert rate on this machine, for `touchstream bench pipeline`'s ceilings. Runs as a process of its
// own (chDB opens one data directory per process; the stack's node process has its own open): migrates a scratch
// directory, then times (1) plain inserts of touchpoint rows into `touchpoints` (rawOnly: the raw table alone, the
// engine's ceiling) and (2) storeRows, the sink's way (raw table and every rollup, under a deduplication token),
// in sink-sized batches. Prints one JSON line on stdout.
//   node --import tsx tools/cli/src/bench/chdb-ceiling.ts <dir> [rawRows] [rawBatch] [storeRows] [storeBatch]
import fs from 'node:fs';
import { createClickHouse, dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { TrafficGenerator } from './pipeline-load.ts';

export interface ChdbCeiling {
  rawRows: number;
  rawBatch: number;
  rawRowsPerS: number;
  storeRows: number;
  storeBatch: number;
  storeRowsPerS: number;
}

function rowsOf(count: number, offset: number): object[] {
  const gen = new TrafficGenerator(50_000, `ceiling${offset}`, 7 + offset);
  const now = Date.now() * 1000;
  const rows: object[] = [];
  for (let i = 0; i < count; i++) {
    const e = gen.next('');
    const micros = now - (count - i) * 50;
    rows.push({
      event_id: e.event_id, customer_id: e.customer_id, occurred_at: dateTime64FromMicros(micros), received_at: dateTime64FromMicros(micros + 2_000),
      channel: e.channel, touchpoint: e.touchpoint, initiator: e.initiator, journey: e.journey ?? '', stage: e.stage ?? '', reason: e.reason ?? '',
      outcome: e.outcome ?? '', duration_ms: e.duration_ms ?? null, wait_ms: e.wait_ms ?? null, sentiment: e.sentiment ?? null,
      survey_kind: e.survey?.kind ?? '', survey_score: e.survey?.score ?? null, survey_comment: e.survey?.comment ?? '', agent_id: e.agent_id ?? '',
      session_id: e.session_id ?? '', attributes: {}, kafka_partition: i % 12, kafka_offset: offset + i,
    });
  }
  return rows;
}

async function main() {
  const [dir, rawRowsArg = '500000', rawBatchArg = '50000', storeRowsArg = '100000', storeBatchArg = '5000'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: chdb-ceiling.ts <dir> [rawRows] [rawBatch] [storeRows] [storeBatch]');
  const [rawCount, rawBatch, storeCount, storeBatch] = [rawRowsArg, rawBatchArg, storeRowsArg, storeBatchArg].map(Number) as [number, number, number, number];
  fs.mkdirSync(dir, { recursive: true });
  const clickhouse = createClickHouse({ path: dir });
  await migrate(clickhouse);

  const raw = rowsOf(rawCount, 0);
  let started = performance.now();
  for (let i = 0; i < raw.length; i += rawBatch) {
    await insertRows(clickhouse, { table: 'touchpoints', rows: raw.slice(i, i + rawBatch), rawOnly: true });
  }
  const rawSeconds = (performance.now() - started) / 1000;

  const stored = rowsOf(storeCount, rawCount);
  started = performance.now();
  for (let i = 0; i < stored.length; i += storeBatch) {
    await storeRows(clickhouse, { table: 'touchpoints', rows: stored.slice(i, i + storeBatch), dedupToken: `ceiling:0:${rawCount + i}-${rawCount + i + storeBatch - 1}` });
  }
  const storeSeconds = (performance.now() - started) / 1000;
  await clickhouse.close();
  const result: ChdbCeiling = {
    rawRows: rawCount,
    rawBatch,
    rawRowsPerS: rawCount / rawSeconds,
    storeRows: storeCount,
    storeBatch,
    storeRowsPerS: storeCount / storeSeconds,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`chdb ceiling failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
