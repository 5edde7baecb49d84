// The churn model's history, both ways (docs/architecture.md §22):
//  * processGeneratedHistory: generated touchpoints through the real processor core (Redis state, signals,
//    score; the clock set to event time so nothing is backfill), stored in ClickHouse as the sink stores them;
//  * readHistories: each customer's stored touchpoints and signals, as training replays them.
import type { Cluster, Redis } from 'ioredis';
import { storeRows, type ClickHouseClient } from '@touchstream/clickhouse';
import type { Signal, TouchpointEvent } from '@touchstream/contracts';
import { createTouchpointProcessor, type CustomerHistory, type ScoringConfig } from '@touchstream/processor';
import { signalRow, touchpointRow } from '@touchstream/sink';

export interface ProcessHistoryOptions {
  events: readonly TouchpointEvent[];
  redis: Redis | Cluster;
  clickhouse: ClickHouseClient;
  config: ScoringConfig;
  /** Names the inserts' deduplication tokens (unique per run). */
  runId: string;
  /** Touchpoints per processor call (one Redis transaction). */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Processes and stores the events (ordered by event time); returns the number of signals they raised. */
export async function processGeneratedHistory(opts: ProcessHistoryOptions): Promise<{ signals: number }> {
  let clockMs = 0;
  const processor = createTouchpointProcessor({
    redis: opts.redis,
    config: opts.config,
    now: () => clockMs,
    timerIndexKey: `ts:timers:due:train-${opts.runId}`,
  });
  const chunk = opts.chunk ?? 2000;
  let signals = 0;
  let block = 0;
  for (let at = 0; at < opts.events.length; at += chunk) {
    const events = opts.events.slice(at, at + chunk);
    // The processing clock follows the stream: the newest event of the call (live, never backfill).
    clockMs = Math.ceil(events.at(-1)!.occurred_at / 1000);
    const raised: Signal[] = [];
    for (const outcome of await processor.processTouchpoints(events)) raised.push(...outcome.signals);
    // Journey timers due by now fire as the sweeper would fire them.
    for (const outcome of await processor.sweepTimers(async () => {}, clockMs)) raised.push(...outcome.signals);
    await storeRows(opts.clickhouse, { table: 'touchpoints', rows: events.map((e) => touchpointRow(e)), dedupToken: `train-${opts.runId}-tp-${block}` });
    if (raised.length) await storeRows(opts.clickhouse, { table: 'signals', rows: raised.map((s) => signalRow(s)), dedupToken: `train-${opts.runId}-sig-${block}` });
    block++;
    signals += raised.length;
    opts.onProgress?.(Math.min(at + chunk, opts.events.length), opts.events.length);
  }
  return { signals };
}

interface TouchpointHistoryRow {
  customer_id: string;
  event_id: string;
  t: string;
  touchpoint: string;
  reason: string;
  sentiment: number | null;
}

interface SignalHistoryRow {
  customer_id: string;
  type: string;
  weight: number;
  event_id: string;
  t: string;
}

/** Every customer's stored history (optionally only ids starting with `customerPrefix`), ordered by event time. */
export async function readHistories(clickhouse: ClickHouseClient, opts: { customerPrefix?: string } = {}): Promise<{ histories: CustomerHistory[]; endMicros: number }> {
  const params = { prefix: opts.customerPrefix ?? '' };
  const where = `startsWith(customer_id, {prefix:String})`;
  const tp = await clickhouse.query({
    query: `SELECT customer_id, event_id, toString(toUnixTimestamp64Micro(occurred_at)) AS t, toString(touchpoint) AS touchpoint, toString(reason) AS reason, sentiment
            FROM touchpoints FINAL WHERE ${where} ORDER BY customer_id, occurred_at, event_id`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const sig = await clickhouse.query({
    query: `SELECT customer_id, toString(type) AS type, weight, event_id, toString(toUnixTimestamp64Micro(occurred_at)) AS t
            FROM signals FINAL WHERE ${where} ORDER BY customer_id, occurred_at, signal_id`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const byCustomer = new Map<string, CustomerHistory>();
  const historyOf = (id: string) => {
    let h = byCustomer.get(id);
    if (!h) byCustomer.set(id, (h = { customer_id: id, touchpoints: [], signals: [] }));
    return h;
  };
  let endMicros = 0;
  for (const r of await tp.json<TouchpointHistoryRow>()) {
    const t = Number(r.t);
    if (t > endMicros) endMicros = t;
    historyOf(r.customer_id).touchpoints.push({ event_id: r.event_id, occurred_at: t, sentiment: r.sentiment === null ? null : Number(r.sentiment), touchpoint: r.touchpoint, reason: r.reason === '' ? null : r.reason });
  }
  for (const r of await sig.json<SignalHistoryRow>()) {
    historyOf(r.customer_id).signals.push({ type: r.type, weight: Number(r.weight), event_id: r.event_id, occurred_at: Number(r.t) });
  }
  return { histories: [...byCustomer.values()].filter((h) => h.touchpoints.length > 0), endMicros };
}
