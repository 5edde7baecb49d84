// The processor's core, callable without Kafka: apply touchpoints to Redis state and return the signals
// and alerts they raise. One Redis round trip per batch: a pipeline with one atomic script call per
// customer, carrying that customer's touchpoints in offset order.
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { codecs, SchemaError, type Alert, type Signal, type TouchpointEvent } from '@touchstream/schemas';
import { topicNames, type ConsumedBatch, type OutboundMessage, type RecordResult } from '@touchstream/kafka';
import { resolveScoringConfig, type ScoringConfig, type ScoringOverrides } from './config.ts';
import { customerSeenIndexKey, customerSeenKey, customerStateKey, customerTimelineKey } from './keys.ts';
import { contactReasonOf, describeDuration, signalIdFor, statelessSignals } from './signals.ts';

const APPLY_TOUCHPOINTS_LUA = readFileSync(new URL('./apply-touchpoints.lua', import.meta.url), 'utf8');
const COMMAND_NAME = 'touchstreamApplyTouchpoints';

type ApplyTouchpoints = (
  stateKey: string,
  timelineKey: string,
  seenKey: string,
  seenIndexKey: string,
  config: string,
  customerId: string,
  ...touchpoints: string[]
) => Promise<string[]>;

/** What one touchpoint produced. A duplicate (already processed) returns what it produced the first time. */
export interface TouchpointOutcome {
  event_id: string;
  customer_id: string;
  duplicate: boolean;
  signals: Signal[];
  alert: Alert | null;
}

export interface TouchpointProcessorOptions {
  /** A standalone client or a Cluster (each script only touches one customer's slot). */
  redis: Redis | Cluster;
  scoring?: ScoringOverrides;
  /** Where signals and alerts go; defaults to signals.v1 and alerts.v1. */
  topics?: { signals: string; alerts: string };
  /** Wall clock, epoch ms: decides what is backfill and when dedup entries expire. Injectable for tests. */
  now?: () => number;
}

export interface TouchpointProcessor {
  readonly config: ScoringConfig;
  /** Applies touchpoints (any customers, each customer's in the given order); one outcome per input, same order. */
  processTouchpoints(events: readonly TouchpointEvent[]): Promise<TouchpointOutcome[]>;
  /** The BatchHandler for runBatchConsumer: decode, process, and return the records to produce. */
  handleBatch(batch: ConsumedBatch): Promise<RecordResult[]>;
}

/** The script's view of the config: durations in the units it compares (event micros, processing ms). */
function scriptConfig(config: ScoringConfig, nowMs: number): string {
  return JSON.stringify({
    rules_version: config.rulesVersion,
    half_life_us: config.halfLifeMs * 1000,
    thresholds: config.levelThresholds,
    exit_ratio: config.levelExitRatio,
    cooldown_us: config.alertCooldownMs * 1000,
    alert_after_us: (nowMs - config.backfillHorizonMs) * 1000,
    repeat_window_us: config.repeatContactWindowMs * 1000,
    repeat_window_text: describeDuration(config.repeatContactWindowMs),
    repeat_weight: config.weights.repeat_contact,
    timeline_cap: config.timelineCap,
    seen_ttl_ms: config.seenTtlMs,
    now_ms: nowMs,
  });
}

/** The timeline member: compact JSON with a fixed key order (DESIGN §4 / Redis contract). */
export function timelineMember(event: TouchpointEvent): string {
  return JSON.stringify({
    event_id: event.event_id,
    channel: event.channel,
    touchpoint: event.touchpoint,
    outcome: event.outcome,
    reason: event.reason,
  });
}

/** One touchpoint as the script takes it: what it needs for state, plus the signals decided here. */
function scriptTouchpoint(event: TouchpointEvent, config: ScoringConfig): string {
  const contactReason = contactReasonOf(event);
  return JSON.stringify({
    event_id: event.event_id,
    occurred_at: event.occurred_at,
    channel: event.channel,
    touchpoint: event.touchpoint,
    journey: event.journey,
    stage: event.stage,
    member: timelineMember(event),
    signals: statelessSignals(event, config).map((d) => ({ signal_id: signalIdFor(event.event_id, d.type), ...d })),
    contact_reason: contactReason,
    repeat_signal_id: contactReason ? signalIdFor(event.event_id, 'repeat_contact') : null,
  });
}

export function createTouchpointProcessor(options: TouchpointProcessorOptions): TouchpointProcessor {
  const config = resolveScoringConfig(options.scoring);
  const topics = options.topics ?? { signals: topicNames.signals, alerts: topicNames.alerts };
  const now = options.now ?? Date.now;
  const redis = options.redis;
  // Registers EVALSHA-with-EVAL-fallback; ioredis sends the script body once per connection.
  if (typeof (redis as unknown as Record<string, unknown>)[COMMAND_NAME] !== 'function') {
    redis.defineCommand(COMMAND_NAME, { numberOfKeys: 4, lua: APPLY_TOUCHPOINTS_LUA });
  }

  async function processTouchpoints(events: readonly TouchpointEvent[]): Promise<TouchpointOutcome[]> {
    if (events.length === 0) return [];
    // Group by customer, keeping each customer's touchpoints in input (offset) order.
    const byCustomer = new Map<string, number[]>();
    events.forEach((e, i) => {
      const list = byCustomer.get(e.customer_id);
      if (list) list.push(i);
      else byCustomer.set(e.customer_id, [i]);
    });
    const cfg = scriptConfig(config, now());
    const calls = [...byCustomer].map(([customerId, indexes]) => ({
      customerId,
      indexes,
      args: [
        customerStateKey(customerId),
        customerTimelineKey(customerId),
        customerSeenKey(customerId),
        customerSeenIndexKey(customerId),
        cfg,
        customerId,
        ...indexes.map((i) => scriptTouchpoint(events[i]!, config)),
      ] as Parameters<ApplyTouchpoints>,
    }));

    let replies: string[][];
    if (redis.isCluster) {
      // A Cluster pipeline must stay within one node's slots; concurrent calls are pipelined per node by ioredis.
      const apply = (redis as unknown as Record<string, ApplyTouchpoints>)[COMMAND_NAME]!.bind(redis);
      replies = await Promise.all(calls.map((c) => apply(...c.args)));
    } else {
      const pipeline = redis.pipeline();
      const queue = pipeline as unknown as Record<string, (...args: Parameters<ApplyTouchpoints>) => unknown>;
      for (const c of calls) queue[COMMAND_NAME]!(...c.args);
      const results = (await pipeline.exec()) ?? [];
      replies = results.map(([err, reply], k) => {
        // Customers whose script ran keep their effects; the retried batch finds them in :seen.
        if (err) throw new Error(`applying touchpoints of customer ${calls[k]!.customerId} failed: ${err.message}`, { cause: err });
        return reply as string[];
      });
    }

    const outcomes = new Array<TouchpointOutcome>(events.length);
    calls.forEach((c, k) => {
      const reply = replies[k]!;
      if (reply.length !== c.indexes.length * 2) {
        throw new Error(`script returned ${reply.length / 2} outcomes for ${c.indexes.length} touchpoints`);
      }
      c.indexes.forEach((i, j) => {
        const recorded = JSON.parse(reply[2 * j + 1]!) as { signals: Signal[]; alert: Alert | null };
        outcomes[i] = {
          event_id: events[i]!.event_id,
          customer_id: c.customerId,
          duplicate: reply[2 * j] === 'duplicate',
          signals: recorded.signals,
          alert: recorded.alert,
        };
      });
    });
    return outcomes;
  }

  function outputsOf(outcome: TouchpointOutcome): OutboundMessage[] {
    const key = outcome.customer_id;
    const out: OutboundMessage[] = outcome.signals.map((s) => ({ topic: topics.signals, key, value: codecs.signal.encode(s) }));
    if (outcome.alert) out.push({ topic: topics.alerts, key, value: codecs.alert.encode(outcome.alert) });
    return out;
  }

  async function handleBatch(batch: ConsumedBatch): Promise<RecordResult[]> {
    const results = new Array<RecordResult>(batch.records.length);
    const events: TouchpointEvent[] = [];
    const positions: number[] = [];
    batch.records.forEach((record, i) => {
      if (!record.value) {
        results[i] = { kind: 'dlq', reason: 'record has no value' };
        return;
      }
      try {
        const event = codecs.touchpoint.decode(record.value);
        if (!event.customer_id) {
          // An empty id would make `{}` the hash tag, which Redis ignores: the keys would land in different slots.
          results[i] = { kind: 'dlq', reason: 'touchpoint has an empty customer_id' };
          return;
        }
        events.push(event);
        positions.push(i);
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        results[i] = { kind: 'dlq', reason: `undecodable touchpoint: ${err.message}` };
      }
    });
    const outcomes = await processTouchpoints(events);
    outcomes.forEach((outcome, k) => {
      results[positions[k]!] = { kind: 'ok', outputs: outputsOf(outcome) };
    });
    return results;
  }

  return { config, processTouchpoints, handleBatch };
}
