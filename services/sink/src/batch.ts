// One consumed batch (one topic-partition) → one insert into that topic's table. The pure part (decode, map,
// dedupe within the batch, the token) is rowsFor; the handler adds what needs ClickHouse.
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
//  * except rows stored under this very batch's token: the batch was inserted before and not committed (a
//    crash), maybe in the middle of writing the materialized views, which is not atomic. It is inserted again
//    unchanged under the same token: tables that have the block deduplicate it, a rollup that missed it gets it.
//    Each raw row keeps the token it was stored under (insert_token, migration 003).
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { ConsumedBatch, RecordResult } from '@touchstream/kafka';
import { topicNames } from '@touchstream/kafka';
import { codecs } from '@touchstream/schemas';
import { alertRow, signalRow, touchpointRow, UnstorableRecordError, type AlertRow, type SignalRow, type TouchpointRow } from './rows.ts';
import { dateTime64FromMicros } from '@touchstream/clickhouse';

export type SinkTable = 'touchpoints' | 'signals' | 'alerts';

/** The topics the sink stores; tests may point it at topics of their own. */
export interface SinkTopics {
  touchpoints: string;
  signals: string;
  alerts: string;
}

export const defaultSinkTopics: SinkTopics = {
  touchpoints: topicNames.touchpoints,
  signals: topicNames.signals,
  alerts: topicNames.alerts,
};

export interface PlannedRow {
  /** Position of the record in batch.records. */
  recordIndex: number;
  /** event_id, signal_id or alert_id. */
  id: string;
  customerId: string;
  /** occurred_at (or an alert's `at`), epoch microseconds. */
  timeMicros: number;
  row: TouchpointRow | SignalRow | AlertRow;
}

export interface BatchPlan {
  table: SinkTable;
  dedupToken: string;
  /** At most one per id, in offset order. */
  rows: PlannedRow[];
  /** One per record; `ok` for records in `rows` until something says otherwise. */
  results: RecordResult[];
}

const idColumn: Record<SinkTable, string> = { touchpoints: 'event_id', signals: 'signal_id', alerts: 'alert_id' };

/**
 * `<topic>:<partition>:<firstOffset>-<lastOffset>:<content hash>`. The hash keeps a token from matching a
 * different batch at the same offsets (a topic deleted and recreated while ClickHouse keeps its data would
 * otherwise have its first batches dropped as "duplicates"); a verbatim retry hashes the same.
 */
export function dedupTokenFor(batch: ConsumedBatch): string {
  const hash = createHash('sha256');
  for (const record of batch.records) {
    hash.update(`${record.offset}:${record.value?.length ?? -1}:`);
    if (record.value) hash.update(record.value);
  }
  return `${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}:${hash.digest('hex').slice(0, 16)}`;
}

export function tableFor(topic: string, topics: SinkTopics = defaultSinkTopics): SinkTable {
  if (topic === topics.touchpoints) return 'touchpoints';
  if (topic === topics.signals) return 'signals';
  if (topic === topics.alerts) return 'alerts';
  throw new Error(`the sink does not store topic ${topic}`);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Decodes and maps every record of the batch; undecodable or unstorable ones get `dlq` with the reason. */
export function rowsFor(batch: ConsumedBatch, topics: SinkTopics = defaultSinkTopics): BatchPlan {
  const table = tableFor(batch.topic, topics);
  const rows: PlannedRow[] = [];
  const results: RecordResult[] = [];
  const seen = new Set<string>();
  batch.records.forEach((record, recordIndex) => {
    if (record.value === null || record.value.length === 0) {
      results.push({ kind: 'dlq', reason: 'record has no value' });
      return;
    }
    const origin = { partition: record.partition, offset: record.offset };
    let planned: Omit<PlannedRow, 'recordIndex'>;
    try {
      if (table === 'touchpoints') {
        const event = codecs.touchpoint.decode(record.value);
        planned = { id: event.event_id, customerId: event.customer_id, timeMicros: event.occurred_at, row: touchpointRow(event, origin) };
      } else if (table === 'signals') {
        const signal = codecs.signal.decode(record.value);
        planned = { id: signal.signal_id, customerId: signal.customer_id, timeMicros: signal.occurred_at, row: signalRow(signal, origin) };
      } else {
        const alert = codecs.alert.decode(record.value);
        planned = { id: alert.alert_id, customerId: alert.customer_id, timeMicros: alert.at, row: alertRow(alert, origin) };
      }
    } catch (err) {
      const what = err instanceof UnstorableRecordError ? 'cannot be stored' : 'cannot be decoded';
      results.push({ kind: 'dlq', reason: `${table} record ${what}: ${describe(err)}` });
      return;
    }
    const key = storedKey(planned.customerId, planned.id);
    if (seen.has(key)) {
      results.push({ kind: 'drop', reason: `duplicate ${idColumn[table]} ${planned.id} earlier in the same batch` });
      return;
    }
    seen.add(key);
    rows.push({ recordIndex, ...planned });
    results.push({ kind: 'ok' });
  });
  const dedupToken = dedupTokenFor(batch);
  for (const r of rows) r.row.insert_token = dedupToken;
  return { table, dedupToken, rows, results };
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
 * become `drop`. Rows stored under this batch's own token stay: the batch is inserted again to repair views.
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
 * The planned rows that this very Kafka record (same partition and offset) already stored under another insert's
 * token, grouped by that token. That insert was cut off before its batch was committed — maybe while ClickHouse
 * wrote the views — and the range is redelivered now with other boundaries: inserting these rows again under
 * their own token repairs a view that missed them, and every table that has the block deduplicates it. Copies
 * at other offsets (a replay, a client resending an event) are not sent again: their insert may be older than
 * the deduplication window, and would then be stored twice. Rows stored before migration 003 have no token.
 */
export function storedUnderOtherTokens(plan: BatchPlan, stored: ReadonlyMap<string, StoredRow>): Map<string, PlannedRow[]> {
  const groups = new Map<string, PlannedRow[]>();
  for (const r of plan.rows) {
    const found = stored.get(storedKey(r.customerId, r.id));
    if (!found || !found.insertToken || found.insertToken === plan.dedupToken) continue;
    if (found.kafkaPartition !== r.row.kafka_partition || found.kafkaOffset !== r.row.kafka_offset) continue;
    const token = found.insertToken;
    const group = groups.get(token) ?? [];
    group.push({ ...r, row: { ...r.row, insert_token: token } });
    groups.set(token, group);
  }
  return groups;
}

/** (customer, id) keys of the planned rows that the table already holds → how they were stored. */
export async function findStored(client: ClickHouseClient, table: SinkTable, rows: readonly PlannedRow[]): Promise<Map<string, StoredRow>> {
  if (rows.length === 0) return new Map();
  const customers = [...new Set(rows.map((r) => r.customerId))];
  const ids = [...new Set(rows.map((r) => r.id))];
  const id = idColumn[table];
  const params: Record<string, unknown> = { customers, ids };
  let where = `customer_id IN {customers:Array(String)} AND ${id} IN {ids:Array(String)}`;
  if (table !== 'alerts') {
    // Copies carry the original's event time: bounding it prunes the monthly partitions read.
    const times = rows.map((r) => r.timeMicros);
    params.from = dateTime64FromMicros(Math.min(...times));
    params.to = dateTime64FromMicros(Math.max(...times));
    where += ` AND occurred_at BETWEEN {from:DateTime64(6, 'UTC')} AND {to:DateTime64(6, 'UTC')}`;
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
