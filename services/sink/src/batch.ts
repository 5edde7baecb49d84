// The consumed batches of one topic (one chunk per partition, handed over together by the consumer's group commit)
// → one store into that topic's table. The pure part (decode, map, dedupe within the batch, the token) is rowsFor;
// the handler adds what needs ClickHouse.
//
// Exactly-once in ClickHouse rests on two things:
//  * the insert carries a token derived from the batch (topic, partition, offsets, content), so a batch
//    retried verbatim after a crash between insert and offset commit is stored once, aggregates included;
//  * records whose id is already stored are dropped before the insert. The consumer may refetch the
//    redelivered range with different batch boundaries (so a different token), and upstream re-emits the same
//    ids at new offsets (a replaying processor re-emits its signals and alerts, a client may resend an event).
//    The raw tables would collapse such copies eventually (ReplacingMergeTree), but the 1-minute aggregates
//    would count them twice. Keys are customer-partitioned, so a copy always comes through the same
//    partition, which one consumer works on sequentially: the check cannot race with the original's insert.
//  * except rows stored under this very batch's token: the batch was stored before and not committed (a
//    crash), maybe before or while its rollups were written, which is not atomic. It is stored again unchanged
//    under the same token: tables that have the block deduplicate it, a rollup that missed it gets it. Each raw
//    row keeps the token it was stored under (insert_token, migration 003).
//  * and rows that this very Kafka record stored under another token T: the cut-off store had other batch
//    boundaries. Its whole block, as the raw table holds it under T, goes to the rollups again under T
//    (storedBlock, writeRollups) — not just the rows this batch shares with it: the first write under T marks T
//    as seen in a rollup that missed it, so the rest of T's block, coming later, would be deduplicated away there.
//  * all of which rests on the raw table being written before the rollups (storeRows, migration 006): what the
//    raw table holds is a superset of what any rollup has counted, so it can tell what to repair.
import { createHash } from 'node:crypto';
import type { ClickHouseClient, StagedRows } from '@touchstream/clickhouse';
import type { ConsumedBatch, RecordResult } from '@touchstream/kafka';
import { topicNames } from '@touchstream/kafka';
import { codecs } from '@touchstream/contracts';
import { alertRow, profileRow, signalRow, touchpointRow, UnstorableRecordError, type AlertRow, type ProfileUpdateRow, type SignalRow, type TouchpointRow } from './rows.ts';
import { dateTime64FromMicros } from '@touchstream/clickhouse';

export type SinkTable = 'touchpoints' | 'signals' | 'alerts' | 'profile_updates';

/** The topics the sink stores; tests may point it at topics of their own. */
export interface SinkTopics {
  touchpoints: string;
  signals: string;
  alerts: string;
  /** Customer profile updates (migration 010, docs/architecture.md §20.6); profiles.v1 unless given. */
  profiles?: string;
}

export const defaultSinkTopics: SinkTopics = {
  touchpoints: topicNames.touchpoints,
  signals: topicNames.signals,
  alerts: topicNames.alerts,
  profiles: topicNames.profiles,
};

export interface PlannedRow {
  /** Position of the record in batch.records. */
  recordIndex: number;
  /** event_id, signal_id, alert_id or profile_id. */
  id: string;
  customerId: string;
  /** occurred_at (an alert's `at`, a profile's `updated_at`), epoch microseconds. */
  timeMicros: number;
  row: TouchpointRow | SignalRow | AlertRow | ProfileUpdateRow;
}

export interface BatchPlan {
  table: SinkTable;
  dedupToken: string;
  /** At most one per id, in (partition, offset) order. */
  rows: PlannedRow[];
  /** One per record of the batches, in the order given; `ok` for records in `rows` until something says otherwise. */
  results: RecordResult[];
  /** Records per batch, in the order given: splits `results` back into one list per batch. */
  batchSizes: number[];
}

/** `results` of a plan as one list per batch, in the order the batches were given. */
export function resultsPerBatch(plan: BatchPlan): RecordResult[][] {
  const lists: RecordResult[][] = [];
  let at = 0;
  for (const size of plan.batchSizes) {
    lists.push(plan.results.slice(at, at + size));
    at += size;
  }
  return lists;
}

const idColumn: Record<SinkTable, string> = { touchpoints: 'event_id', signals: 'signal_id', alerts: 'alert_id', profile_updates: 'profile_id' };
/** The time column a copy shares with its original, bounding the id lookup (alerts: none, the table is small). */
const timeColumn: Record<SinkTable, string | null> = { touchpoints: 'occurred_at', signals: 'occurred_at', alerts: null, profile_updates: 'updated_at' };

/**
 * One partition's batch: `<topic>:<partition>:<firstOffset>-<lastOffset>:<content hash>`; several partitions' at once:
 * `<topic>:multi:<hash of every partition, offset and content>`. The hash keeps a token from matching a different
 * batch at the same offsets (a topic deleted and recreated while ClickHouse keeps its data would otherwise have its
 * first batches dropped as "duplicates"); a verbatim retry hashes the same.
 */
export function dedupTokenFor(batches: ConsumedBatch | readonly ConsumedBatch[]): string {
  const list: readonly ConsumedBatch[] = Array.isArray(batches) ? batches : [batches as ConsumedBatch];
  const hash = createHash('sha256');
  for (const batch of list) {
    if (list.length > 1) hash.update(`${batch.topic}:${batch.partition}:`);
    for (const record of batch.records) {
      hash.update(`${record.offset}:${record.value?.length ?? -1}:`);
      if (record.value) hash.update(record.value);
    }
  }
  const [first] = list;
  if (list.length === 1) return `${first!.topic}:${first!.partition}:${first!.firstOffset}-${first!.lastOffset}:${hash.digest('hex').slice(0, 16)}`;
  return `${first!.topic}:multi:${hash.digest('hex').slice(0, 32)}`;
}

export function tableFor(topic: string, topics: SinkTopics = defaultSinkTopics): SinkTable {
  if (topic === topics.touchpoints) return 'touchpoints';
  if (topic === topics.signals) return 'signals';
  if (topic === topics.alerts) return 'alerts';
  if (topic === (topics.profiles ?? topicNames.profiles)) return 'profile_updates';
  throw new Error(`the sink does not store topic ${topic}`);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Decodes and maps every record of the batches (all of one topic, at most one per partition); undecodable or
 * unstorable ones get `dlq` with the reason.
 */
export function rowsFor(batches: ConsumedBatch | readonly ConsumedBatch[], topics: SinkTopics = defaultSinkTopics): BatchPlan {
  const list: readonly ConsumedBatch[] = Array.isArray(batches) ? batches : [batches as ConsumedBatch];
  const table = tableFor(list[0]!.topic, topics);
  const rows: PlannedRow[] = [];
  const results: RecordResult[] = [];
  const seen = new Set<string>();
  // Rows in (partition, offset) order, whatever order the batches came in: storedBlock reads a block back that way.
  const starts: number[] = [];
  list.forEach((batch, b) => starts.push(b === 0 ? 0 : starts[b - 1]! + list[b - 1]!.records.length));
  const order = list.map((batch, b) => ({ batch, start: starts[b]! })).sort((x, y) => x.batch.partition - y.batch.partition);
  for (const { batch, start } of order) {
    if (tableFor(batch.topic, topics) !== table) throw new Error(`rowsFor: batches of ${batch.topic} and of ${list[0]!.topic} in one plan`);
    batch.records.forEach((record, i) => {
      const recordIndex = start + i;
      const result = planRecord(record, recordIndex);
      results[recordIndex] = result;
    });
  }
  const dedupToken = dedupTokenFor(list);
  for (const r of rows) r.row.insert_token = dedupToken;
  return { table, dedupToken, rows, results, batchSizes: list.map((b) => b.records.length) };

  function planRecord(record: ConsumedBatch['records'][number], recordIndex: number): RecordResult {
    if (record.value === null || record.value.length === 0) return { kind: 'dlq', reason: 'record has no value' };
    const origin = { partition: record.partition, offset: record.offset };
    let planned: Omit<PlannedRow, 'recordIndex'>;
    try {
      if (table === 'touchpoints') {
        const event = codecs.touchpoint.decode(record.value);
        planned = { id: event.event_id, customerId: event.customer_id, timeMicros: event.occurred_at, row: touchpointRow(event, origin) };
      } else if (table === 'signals') {
        const signal = codecs.signal.decode(record.value);
        planned = { id: signal.signal_id, customerId: signal.customer_id, timeMicros: signal.occurred_at, row: signalRow(signal, origin) };
      } else if (table === 'profile_updates') {
        const profile = codecs.profile.decode(record.value);
        planned = { id: profile.profile_id, customerId: profile.customer_id, timeMicros: profile.updated_at, row: profileRow(profile, origin) };
      } else {
        const alert = codecs.alert.decode(record.value);
        planned = { id: alert.alert_id, customerId: alert.customer_id, timeMicros: alert.at, row: alertRow(alert, origin) };
      }
    } catch (err) {
      const what = err instanceof UnstorableRecordError ? 'cannot be stored' : 'cannot be decoded';
      return { kind: 'dlq', reason: `${table} record ${what}: ${describe(err)}` };
    }
    const key = storedKey(planned.customerId, planned.id);
    if (seen.has(key)) return { kind: 'drop', reason: `duplicate ${idColumn[table]} ${planned.id} earlier in the same batch` };
    seen.add(key);
    rows.push({ recordIndex, ...planned });
    return { kind: 'ok' };
  }
}

export function storedKey(customerId: string, id: string): string {
  return `${customerId}\u0000${id}`;
}

/** Where and how a stored row got into its table: the insert's token and the Kafka record it came from. */
export interface StoredRow {
  insertToken: string;
  kafkaPartition: number;
  kafkaOffset: number;
}

/**
 * Removes the rows whose (customer, id) is already stored under another insert's token (copies); their records
 * become `drop`. Rows stored under this batch's own token stay: the batch is inserted again to repair rollups.
 */
export function withoutStored(plan: BatchPlan, stored: ReadonlyMap<string, StoredRow>): BatchPlan {
  if (stored.size === 0) return plan;
  const results = [...plan.results];
  const rows = plan.rows.filter((r) => {
    const token = stored.get(storedKey(r.customerId, r.id))?.insertToken;
    if (token === undefined || token === plan.dedupToken) return true;
    results[r.recordIndex] = { kind: 'drop', reason: `${idColumn[plan.table]} ${r.id} already stored` };
    return false;
  });
  return { ...plan, rows, results };
}

/**
 * The tokens of other inserts that stored records of this batch from this very Kafka record (same partition and
 * offset). Such an insert was cut off before its batch was committed — maybe before all rollups were written —
 * and the range is redelivered now with other boundaries: its block goes to the rollups again under its own token
 * (storedBlock, writeRollups), which repairs a rollup that missed it; every rollup that has it deduplicates it.
 * Copies at other offsets (a replay, a client resending an event) are not sent again: their insert may be older
 * than the deduplication window, and would then be stored twice. Rows stored before migration 003 have no token.
 */
export function storedUnderOtherTokens(plan: BatchPlan, stored: ReadonlyMap<string, StoredRow>): StoredRow[] {
  const tokens = new Map<string, StoredRow>();
  for (const r of plan.rows) {
    const found = stored.get(storedKey(r.customerId, r.id));
    if (!found || !found.insertToken || found.insertToken === plan.dedupToken) continue;
    if (found.kafkaPartition !== r.row.kafka_partition || found.kafkaOffset !== r.row.kafka_offset) continue;
    if (!tokens.has(found.insertToken)) tokens.set(found.insertToken, found);
  }
  return [...tokens.values()];
}

/** The partition and offset range a token of dedupTokenFor names; undefined for anything else. */
export function tokenRange(token: string): { partition: number; firstOffset: number; lastOffset: number } | undefined {
  const m = /:(\d+):(\d+)-(\d+):[0-9a-f]+$/.exec(token);
  if (!m) return undefined;
  const [partition, firstOffset, lastOffset] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![partition, firstOffset, lastOffset].every(Number.isSafeInteger)) return undefined;
  return { partition, firstOffset, lastOffset };
}

/**
 * The whole block an insert stored in the raw table under `origin.insertToken`, as rows to write to the rollups
 * again under that token: every column but stored_at (it takes its default), in offset order, as the original
 * insert sent them. Only the rollups that missed the block take these rows, so the block must be complete: a
 * rollup deduplicates on the token, not the content, and takes nothing more under it once it has seen it.
 *
 * occurred_at of rows missing from this batch is unknown, so this scans the table, bounded only by the Kafka
 * partition and the token's offset range (not in the sort key): it runs only after a sink was cut off.
 */
export async function storedBlock(client: ClickHouseClient, table: SinkTable, origin: StoredRow): Promise<Record<string, unknown>[]> {
  const params: Record<string, unknown> = { token: origin.insertToken };
  let where = 'insert_token = {token:String}';
  const range = tokenRange(origin.insertToken);
  if (range) {
    // A token of one partition's batch names its range: a cheap filter before the token is compared.
    Object.assign(params, { partition: range.partition, first: range.firstOffset, last: range.lastOffset });
    where += ' AND kafka_partition = {partition:UInt32} AND kafka_offset BETWEEN {first:UInt64} AND {last:UInt64}';
  }
  const rs = await client.query({
    // Read back in the shape JSON input takes whatever the server's profile says: 64-bit integers as exact strings
    // (a server's default; chDB's is bare numbers), named tuples (alerts.signals) as objects, and
    // 'YYYY-MM-DD hh:mm:ss.ffffff' times. One row per record, in (partition, offset) order as rowsFor planned it: a
    // block stored twice (beyond the dedup window) still goes as the one block the token stands for.
    query:
      `SELECT * EXCEPT (stored_at) FROM ${table} WHERE ${where} ORDER BY kafka_partition, kafka_offset LIMIT 1 BY kafka_partition, kafka_offset ` +
      `SETTINGS output_format_json_quote_64bit_integers = 1, output_format_json_named_tuples_as_objects = 1, date_time_output_format = 'simple'`,
    format: 'JSONEachRow',
    query_params: params,
  });
  return rs.json<Record<string, unknown>>();
}

/**
 * (customer, id) keys of the planned rows that the table already holds → how they were stored. The keys are read from
 * the staged batch (`staged`, stageRows of these rows), not sent as parameters: a server takes parameters in the URL,
 * which a large batch would overflow.
 */
export async function findStored(client: ClickHouseClient, table: SinkTable, rows: readonly PlannedRow[], staged: StagedRows): Promise<Map<string, StoredRow>> {
  if (rows.length === 0) return new Map();
  const id = idColumn[table];
  const params: Record<string, unknown> = {};
  let where = `customer_id IN (SELECT customer_id FROM ${staged.name}) AND ${id} IN (SELECT ${id} FROM ${staged.name})`;
  const time = timeColumn[table];
  if (time !== null) {
    // Copies carry the original's event time: bounding it prunes the monthly partitions read.
    let min = Infinity;
    let max = -Infinity;
    for (const r of rows) {
      if (r.timeMicros < min) min = r.timeMicros;
      if (r.timeMicros > max) max = r.timeMicros;
    }
    params.from = dateTime64FromMicros(min);
    params.to = dateTime64FromMicros(max);
    where += ` AND ${time} BETWEEN {from:DateTime64(6, 'UTC')} AND {to:DateTime64(6, 'UTC')}`;
  }
  const rs = await client.query({
    // The earliest stored copy: the one whose insert may have been cut off.
    query: `SELECT customer_id, ${id} AS id, argMin(tuple(insert_token, kafka_partition, kafka_offset), stored_at) AS origin FROM ${table} WHERE ${where} GROUP BY customer_id, id`,
    format: 'JSONEachRow',
    query_params: params,
  });
  const found = await rs.json<{ customer_id: string; id: string; origin: [string, number | string, number | string] }>();
  return new Map(
    found.map((f) => [storedKey(f.customer_id, f.id), { insertToken: f.origin[0], kafkaPartition: Number(f.origin[1]), kafkaOffset: Number(f.origin[2]) }]),
  );
}
