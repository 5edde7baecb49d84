// Everything stored about one customer as NDJSON, streamed (docs/architecture.md §14): one line per stored row or
// live-state entry, each `{ "kind": …, "data": … }`, rows straight from ClickHouse's own stream (no whole-result buffer).
import { Readable } from 'node:stream';
import type { Cluster, Redis } from 'ioredis';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { customerStateKey, customerTimelineKey, customerTimersKey, decayedScore } from '@touchstream/contracts';

export interface ExportDeps {
  redis: Redis | Cluster;
  clickhouse: ClickHouseClient;
  /** Half-life of the score (the live score is decayed to now with it). */
  halfLifeMs: number;
  now?: () => number;
}

const line = (kind: string, data: unknown) => `${JSON.stringify({ kind, data })}\n`;

/** The stored customer_id's data, in this order: live state, score, timeline, timers, touchpoints, signals, alerts, churn score, profile updates. */
export function exportCustomer(deps: ExportDeps, customerId: string): Readable {
  const now = deps.now ?? Date.now;
  async function* lines(): AsyncGenerator<string> {
    const state = await deps.redis.hgetall(customerStateKey(customerId));
    if (Object.keys(state).length > 0) {
      yield line('live_state', state);
      const score = Number(state.score ?? 0);
      const scoreAt = Number(state.score_at ?? 0);
      yield line('score', {
        score_at_last_event: score,
        score_now: scoreAt ? decayedScore(score, scoreAt, now() * 1000, deps.halfLifeMs) : score,
        level: state.level ?? null,
      });
    }
    const timeline = await deps.redis.zrange(customerTimelineKey(customerId), 0, -1, 'WITHSCORES');
    for (let i = 0; i + 1 < timeline.length; i += 2) yield line('timeline_entry', { occurred_at_us: Number(timeline[i + 1]), ...(JSON.parse(timeline[i]!) as object) });
    const timers = await deps.redis.hgetall(customerTimersKey(customerId));
    for (const [startedEventId, timer] of Object.entries(timers)) yield line('journey_timer', { started_event_id: startedEventId, timer: JSON.parse(timer) as unknown });
    for (const [kind, table, order] of [
      ['touchpoint', 'touchpoints', 'occurred_at, event_id'],
      ['signal', 'signals', 'occurred_at, signal_id'],
      ['alert', 'alerts', 'at, alert_id'],
      // Profile updates as received (§20.6); customer_profiles is derived from them.
      ['profile_update', 'profile_updates', 'updated_at, profile_id'],
    ] as const) {
      // FINAL: the raw tables are ReplacingMergeTree; a resent copy not merged yet is one row here too.
      const result = await deps.clickhouse.query({
        query: `SELECT * EXCEPT (insert_token) FROM ${table} FINAL WHERE customer_id = {id:String} ORDER BY ${order}`,
        query_params: { id: customerId },
        format: 'JSONEachRow',
      });
      for await (const rows of result.stream<Record<string, unknown>>()) {
        for (const row of rows) yield line(kind, row.json());
      }
    }
    // The live churn-risk score (§22): the newest per customer; older ones are replaced on merge.
    const churn = await deps.clickhouse.query({
      query: 'SELECT * FROM churn_scores FINAL WHERE customer_id = {id:String} ORDER BY scored_at',
      query_params: { id: customerId },
      format: 'JSONEachRow',
    });
    for await (const rows of churn.stream<Record<string, unknown>>()) {
      for (const row of rows) yield line('churn_score', row.json());
    }
  }
  return Readable.from(lines());
}
