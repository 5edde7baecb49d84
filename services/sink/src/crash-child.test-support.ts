// The sink's store path without Kafka, run as a child process that crash.integration.test.ts kills with SIGKILL.
// A deterministic record stream per topic-partition (touchpoints.v1 × 4, signals.v1 × 2, worked concurrently as
// the consumer does) is cut into batches whose sizes are random in every process, as a redelivery after a crash
// cuts them differently; each batch goes through the real batch handler against the chDB directory, and its
// "commit" is a file written after the handler returned. Every 50th record is a copy of the one 7 before it
// (a client's retry whose first attempt landed). Prints `open` once chDB is open and `stored` after its first
// batch; with FINISH=1 it stores up to the last offset any cut-off store reached, then exits.
import { existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { createClickHouse } from '@touchstream/clickhouse';
import { createSinkBatchHandler } from './module.ts';
import { batchOf, encode, signal, touchpoint } from './fixtures.test-support.ts';

const [chdbDir, stateDir, crashChannel] = process.argv.slice(2) as [string, string, string];
const base = Date.UTC(2026, 0, 10) * 1000;
const signalTypes = ['survey_detractor', 'repeat_contact', 'long_wait', 'channel_hopping', 'abandonment'];
/** The offset whose record this one repeats, or the offset itself. */
const original = (offset: number) => (offset % 50 === 49 ? offset - 7 : offset);

function recordAt(topic: 'touchpoints' | 'signals', partition: number, offset: number): Buffer {
  const o = original(offset);
  const occurred_at = base + (o % 20_000) * 3_000_000;
  if (topic === 'signals') {
    return encode.signal(signal({ signal_id: `s-${partition}-${o}`, customer_id: `c-${partition}-${o % 97}`, channel: crashChannel, type: signalTypes[o % 5]!, weight: 1 + (o % 3), occurred_at }));
  }
  return encode.touchpoint(touchpoint({ event_id: `e-${partition}-${o}`, customer_id: `c-${partition}-${o % 97}`, channel: crashChannel, touchpoint: `tp${o % 13}`, occurred_at }));
}

const clickhouse = createClickHouse({ path: chdbDir });
const log = openSync(`${stateDir}/repairs.log`, 'a');
const handle = createSinkBatchHandler({ clickhouse, onRepair: (r) => writeSync(log, `${r.table} ${r.token} ${r.rows}\n`) });
await (await clickhouse.query({ query: 'SELECT 1', format: 'JSONEachRow' })).json();
process.stdout.write('open\n');

async function maxStoredOffset(table: string, partition: number): Promise<number> {
  const rs = await clickhouse.query({
    query: `SELECT max(kafka_offset) + 1 AS next FROM ${table} WHERE channel = {ch:String} AND kafka_partition = {p:UInt32}`,
    query_params: { ch: crashChannel, p: partition },
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ next: string }>())[0]?.next ?? 0);
}

let reported = false;

async function work(topic: 'touchpoints' | 'signals', partition: number): Promise<void> {
  const committedFile = `${stateDir}/${topic}-${partition}.committed`;
  let next = existsSync(committedFile) ? Number(readFileSync(committedFile, 'utf8')) : 0;
  const stopAt = process.env.FINISH ? await maxStoredOffset(topic, partition) : Number.POSITIVE_INFINITY;
  while (next < stopAt) {
    const size = 1 + Math.floor(Math.random() * 40);
    const values = Array.from({ length: size }, (_, i) => recordAt(topic, partition, next + i));
    await handle(batchOf(`${topic}.v1`, values, { partition, firstOffset: next }));
    if (!reported) {
      reported = true;
      process.stdout.write('stored\n');
    }
    next += size;
    writeFileSync(`${committedFile}.tmp`, String(next));
    renameSync(`${committedFile}.tmp`, committedFile);
  }
}

await Promise.all([0, 1, 2, 3].map((p) => work('touchpoints', p)).concat([0, 1].map((p) => work('signals', p))));
await clickhouse.close();
process.stdout.write('finished\n');
