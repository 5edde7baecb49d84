// Erasing one customer from every store (docs/architecture.md §14). Order matters:
//  1. erasures.v1 first (acks=all): from then on every consumer that has read it drops the customer's records
//     written before now — the processor does not rebuild Redis state, the sink does not store rows again;
//  2. a settle wait: the processor's and sink's followers read the record, and the batches they had in flight
//     when it was written finish;
//  3. then Redis and ClickHouse are deleted, and the audit log gets its row.
// Running it again is harmless (an idempotent request): what is already gone counts 0.
import type { Cluster, Redis } from 'ioredis';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { customerKeys, defaultTimerIndexKey, pseudonymousCustomerId } from '@touchstream/contracts';
import { erasureMessage, produceAll, type BatchConsumerOptions, type ErasedCustomers } from '@touchstream/kafka';

type Producer = BatchConsumerOptions['producer'];


export interface PrivacySettings {
  secret: string;
  /** Ingest stores pseudonyms: requests name raw ids, which are hashed the same way before anything is looked up. */
  pseudonymize: boolean;
  policy: 'refuse' | 'fresh';
  /** How long to wait between recording the erasure in Kafka and deleting (followers learn it, batches in flight finish). */
  settleMs: number;
  /** Prefix of the notifier's webhook delivery marks. */
  webhookMarkPrefix?: string;
}

export interface EraseDeps {
  redis: Redis | Cluster;
  clickhouse: ClickHouseClient;
  producer: Producer;
  erased: ErasedCustomers;
  settings: PrivacySettings;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ErasureReport {
  /** The keyed hash the erasure is recorded under (erasures.v1 key, audit log); never the id. */
  customer_key: string;
  erased_at: string;
  /** Whether this customer had been erased before (the request is idempotent). */
  previously_erased: boolean;
  removed: {
    redis: { keys: number; timer_index_entries: number; webhook_marks: number };
    clickhouse: Record<string, number>;
    kafka: { erasure_recorded: string };
  };
}

/** The customer_id the stores hold for a raw id named in a request. */
export function storedCustomerId(settings: PrivacySettings, rawCustomerId: string): string {
  return settings.pseudonymize ? pseudonymousCustomerId(settings.secret, rawCustomerId) : rawCustomerId;
}

/** Every table (MergeTree family) with a customer_id column: raw tables, fcr_contacts, customer_activity_1d, … */
export async function tablesHoldingCustomerIds(clickhouse: ClickHouseClient): Promise<string[]> {
  const result = await clickhouse.query({
    query: `SELECT c.table AS table FROM system.columns AS c
            INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
            WHERE c.database = currentDatabase() AND c.name = 'customer_id' AND t.engine LIKE '%MergeTree'
              AND NOT startsWith(c.table, 'ts_stage_')
            ORDER BY table`,
    format: 'JSONEachRow',
  });
  return (await result.json<{ table: string }>()).map((r) => r.table);
}

async function countRows(clickhouse: ClickHouseClient, table: string, customerId: string): Promise<number> {
  const result = await clickhouse.query({
    query: `SELECT count() AS n FROM ${table} WHERE customer_id = {id:String}`,
    query_params: { id: customerId },
    format: 'JSONEachRow',
  });
  return Number((await result.json<{ n: string | number }>())[0]?.n ?? 0);
}

/** Alert ids of the customer: the notifier's delivery marks are keyed by them. */
async function alertIdsOf(clickhouse: ClickHouseClient, customerId: string): Promise<string[]> {
  const result = await clickhouse.query({
    query: 'SELECT DISTINCT alert_id FROM alerts WHERE customer_id = {id:String}',
    query_params: { id: customerId },
    format: 'JSONEachRow',
  });
  return (await result.json<{ alert_id: string }>()).map((r) => r.alert_id);
}

async function deleteWebhookMarks(redis: Redis | Cluster, prefix: string, alertIds: string[]): Promise<number> {
  if (alertIds.length === 0) return 0;
  const wanted = new Set(alertIds);
  let removed = 0;
  // On a Redis Cluster every master holds a share of the marks: scan each.
  const nodes: Redis[] = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    // Marks are `<prefix>:<destination>:<alert_id>`: one pass over the marks (they expire, so there are few).
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: marks of different alerts need not share a slot.
      for (const key of keys.filter((k) => wanted.has(k.slice(k.lastIndexOf(':') + 1)))) removed += await redis.del(key);
    } while (cursor !== '0');
  }
  return removed;
}

export async function eraseCustomer(deps: EraseDeps, rawCustomerId: string, requestedBy: string): Promise<ErasureReport> {
  const { settings, clickhouse, redis } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const customerId = storedCustomerId(settings, rawCustomerId);
  const customerKey = deps.erased.keyOf(customerId);
  const previouslyErased = deps.erased.erasedAtOf(customerId) !== undefined;

  const erasedAtMs = now();
  await produceAll(deps.producer, [erasureMessage(deps.erased, customerId, erasedAtMs)]);
  deps.erased.record(customerKey, erasedAtMs);
  if (settings.settleMs > 0) await sleep(settings.settleMs);

  // Redis: the customer's keys, its entry in the journey-timer index, the webhook delivery marks of its alerts.
  const alertIds = await alertIdsOf(clickhouse, customerId);
  const keys = customerKeys(customerId);
  let redisKeys = 0;
  for (const key of keys) redisKeys += await redis.del(key);
  const timerEntries = await redis.zrem(defaultTimerIndexKey, customerId);
  const webhookMarks = await deleteWebhookMarks(redis, settings.webhookMarkPrefix ?? 'ts:webhook:delivered', alertIds);

  // ClickHouse: lightweight DELETE (a mask at once, the parts rewritten by merges) on every table holding the id.
  // On a cluster (deploy/clickhouse-cluster) the rows live in `<name>_local` tables on every shard: counted through the
  // Distributed `<name>`, deleted on every node with ON CLUSTER.
  const removedRows: Record<string, number> = {};
  for (const table of await tablesHoldingCustomerIds(clickhouse)) {
    const clustered = table.endsWith('_local');
    const name = clustered ? table.slice(0, -'_local'.length) : table;
    const n = await countRows(clickhouse, name, customerId);
    removedRows[name] = n;
    if (n > 0) {
      await clickhouse.command({
        query: `DELETE FROM ${table}${clustered ? " ON CLUSTER '{cluster}'" : ''} WHERE customer_id = {id:String}`,
        query_params: { id: customerId },
        // Wait for the mask to be written on every replica, so the answer is true when it is sent (lightweight_deletes_sync
        // already defaults to that; mutations_sync covers servers that run the DELETE as a mutation).
        clickhouse_settings: { mutations_sync: '2' },
      });
    }
  }

  const report: ErasureReport = {
    customer_key: customerKey,
    erased_at: new Date(erasedAtMs).toISOString(),
    previously_erased: previouslyErased,
    removed: {
      redis: { keys: redisKeys, timer_index_entries: timerEntries, webhook_marks: webhookMarks },
      clickhouse: removedRows,
      kafka: { erasure_recorded: 'erasures.v1' },
    },
  };
  await clickhouse.insert({
    table: 'customer_erasures',
    values: [{ erased_at: new Date(erasedAtMs).toISOString().replace('T', ' ').replace('Z', ''), customer_key: customerKey, requested_by: requestedBy, policy: settings.policy, removed: JSON.stringify(report.removed) }],
    format: 'JSONEachRow',
  });
  return report;
}
