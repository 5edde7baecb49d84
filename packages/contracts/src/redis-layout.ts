// Redis key layout: the contract between the processor (writes) and the query API (reads) (docs/architecture.md §4). Every key of one customer carries the same hash tag `{<customer_id>}`, so
// they all live in one Redis Cluster slot and one Lua script can update them atomically.

/**
 * Hash: counters (events, signals, alerts), first/last occurred_at, last channel/touchpoint/event, score,
 * score_at, level, last alert; and each history signal's memory: `reason_last_at:<r>`/`reason_streak:<r>`
 * (repeat contact), `hop:<group>`/`hop_fired:<group>` (channel hopping), `ssf_at`/`ssf_what`/`ssf_used`
 * (self-service failure), `sentiments` (sentiment decline), `errors`/`errors_fired` (repeated error),
 * `journey_open:<journey>` (the armed journey timer's started event_id).
 */
export function customerStateKey(customerId: string): string {
  return `ts:{${customerId}}:state`;
}

/** Sorted set: score = occurred_at (epoch micros), member = compact JSON of the touchpoint; capped. */
export function customerTimelineKey(customerId: string): string {
  return `ts:{${customerId}}:timeline`;
}

/** Hash: event_id → JSON of the outputs ({signals, alert}) the event produced the first time. */
export function customerSeenKey(customerId: string): string {
  return `ts:{${customerId}}:seen`;
}

/**
 * Sorted set: event_id → processing time (epoch ms) of the entries in the `:seen` hash. The hash's own TTL
 * never fires for a customer who stays active, so the processor trims `:seen` entries older than the
 * dedup TTL through this index (Redis < 7.4 has no per-field expiry).
 */
export function customerSeenIndexKey(customerId: string): string {
  return `ts:{${customerId}}:seen_at`;
}

/** Sorted set: `started` event_id → due time (event epoch micros) of the customer's journey timers. */
export function customerDueKey(customerId: string): string {
  return `ts:{${customerId}}:due`;
}

/** Hash: `started` event_id → JSON of the armed journey_not_completed timer (and its outputs once fired). */
export function customerTimersKey(customerId: string): string {
  return `ts:{${customerId}}:timers`;
}

/**
 * Sorted set: customer_id → a time (epoch micros) at or before that customer's earliest timer due time.
 * The sweeper reads it to find customers to look at; the per-customer keys above are the truth. Its own
 * slot in Redis Cluster.
 */
export const defaultTimerIndexKey = 'ts:timers:due';

/** All keys the processor keeps for a customer (e.g. to erase a customer's data). */
export function customerKeys(customerId: string): string[] {
  return [
    customerStateKey(customerId),
    customerTimelineKey(customerId),
    customerSeenKey(customerId),
    customerSeenIndexKey(customerId),
    customerDueKey(customerId),
    customerTimersKey(customerId),
  ];
}
