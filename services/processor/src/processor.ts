// The processor's core, callable without Kafka: apply touchpoints to Redis state and return the signals
// and alerts they raise; sweep due journey timers. One Redis round trip per batch: a pipeline with one
// atomic script call per customer, carrying that customer's touchpoints in offset order.
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { codecs, SchemaError, type Alert, type Signal, type TouchpointEvent } from '@touchstream/contracts';
import { topicNames, type ConsumedBatch, type OutboundMessage, type RecordResult } from '@touchstream/kafka';
import { resolveScoringConfig, type ScoringConfig, type ScoringOverrides } from './config.ts';
// The scripts take a customer's keys in customerKeys order.
import { customerDueKey, customerKeys, customerTimersKey, defaultTimerIndexKey } from '@touchstream/contracts';
import { paramsOf, signalIdFor, statefulInputs, statelessSignals, withSentiment } from './signals.ts';
import type { ChurnScore } from '@touchstream/contracts';
import { churnStateFields } from './churn/features.ts';
import { scoreCustomers, type ChurnInput } from './churn/live.ts';
import type { ChurnModel } from './churn/model.ts';

const lua = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const COMMON_LUA = lua('customer-common.lua');
const SCRIPTS = {
  touchstreamApplyTouchpoints: { numberOfKeys: 6, lua: COMMON_LUA + lua('apply-touchpoints.lua') },
  touchstreamFireTimers: { numberOfKeys: 6, lua: COMMON_LUA + lua('fire-timers.lua') },
  touchstreamAckTimers: { numberOfKeys: 2, lua: lua('ack-timers.lua') },
  touchstreamUpdateTimerIndex: { numberOfKeys: 1, lua: lua('update-timer-index.lua') },
} as const;
type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...args: string[]) => Promise<unknown>;

/** What one touchpoint produced. A duplicate (already processed) returns what it produced the first time. */
export interface TouchpointOutcome {
  event_id: string;
  customer_id: string;
  duplicate: boolean;
  signals: Signal[];
  alert: Alert | null;
  /** The customer's churn-risk score (§22), on their last touchpoint of the call, when it changed; and its alert. */
  churn?: { score: ChurnScore; alert: Alert | null };
}

/** What one due journey timer produced (journey_not_completed and any alert); `event_id` is the `started` event's. */
export interface TimerOutcome {
  event_id: string;
  customer_id: string;
  signals: Signal[];
  alert: Alert | null;
}

export interface TouchpointProcessorOptions {
  /** A standalone client or a Cluster (each customer script only touches one customer's slot). */
  redis: Redis | Cluster;
  /** The rules in force (e.g. from a rules file); `scoring` overrides are laid over it. */
  config?: ScoringConfig;
  scoring?: ScoringOverrides;
  /** Where signals, alerts and churn scores go; defaults to signals.v1, alerts.v1 and churn_scores.v1. */
  topics?: { signals: string; alerts: string; churnScores?: string };
  /** The churn model in force (§22), read once per batch; undefined: no live churn scoring. */
  churnModel?: () => ChurnModel | undefined;
  /** Wall clock, epoch ms: decides what is backfill, when dedup entries expire and which timers are due. Injectable for tests. */
  now?: () => number;
  /** The global index of customers with journey timers (its own slot). Tests give their own. */
  timerIndexKey?: string;
  /** A fired timer whose outputs were not acknowledged is fired again (same outputs) after this long. */
  timerLeaseMs?: number;
}

export interface TouchpointProcessor {
  /** The rules used for the next batch. */
  readonly config: ScoringConfig;
  /** Swaps the rules for the next batch; customer state stays in Redis untouched. */
  setConfig(config: ScoringConfig): void;
  /** Applies touchpoints (any customers, each customer's in the given order); one outcome per input, same order. */
  processTouchpoints(events: readonly TouchpointEvent[]): Promise<TouchpointOutcome[]>;
  /** One partition's batch: decode, process, and return the records to produce. */
  handleBatch(batch: ConsumedBatch): Promise<RecordResult[]>;
  /** The MultiBatchHandler for runBatchConsumer: several partitions' batches in one Redis round trip. */
  handleBatches(batches: ConsumedBatch[]): Promise<RecordResult[][]>;
  /**
   * Fires the journey timers due at `nowMs` (default: the clock), hands their outputs to `emit` (which must
   * resolve only once they are durably produced), then removes them. Safe to run on every instance at once.
   */
  sweepTimers(emit: (messages: OutboundMessage[]) => Promise<void>, nowMs?: number): Promise<TimerOutcome[]>;
  /** Signal and alert records of an outcome, keyed by customer. */
  outputsOf(outcome: TouchpointOutcome | TimerOutcome): OutboundMessage[];
}

/** The scripts' view of the config: durations in the units they compare (event micros, processing ms). */
function scriptConfig(config: ScoringConfig, nowMs: number, churn = false): string {
  return JSON.stringify({
    ...(churn ? { churn_fields: churnStateFields } : {}),
    rules_version: config.rulesVersion,
    half_life_us: config.halfLifeMs * 1000,
    thresholds: config.levelThresholds,
    exit_ratio: config.levelExitRatio,
    cooldown_us: config.alertCooldownMs * 1000,
    alert_after_us: (nowMs - config.backfillHorizonMs) * 1000,
    timeline_cap: config.timelineCap,
    seen_ttl_ms: config.seenTtlMs,
    now_ms: nowMs,
  });
}

/** The timeline member: compact JSON with a fixed key order (docs/architecture.md §4 / Redis contract). */
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
function scriptTouchpoint(given: TouchpointEvent, config: ScoringConfig, live: boolean): string {
  // Text without a number is scored here (and the same way by the sink for the stored row).
  const { event, derived } = withSentiment(given);
  const params = paramsOf(event, config);
  return JSON.stringify({
    event_id: event.event_id,
    occurred_at: event.occurred_at,
    channel: event.channel,
    touchpoint: event.touchpoint,
    journey: event.journey,
    stage: event.stage,
    outcome: event.outcome,
    member: timelineMember(event),
    signals: statelessSignals(event, config, params, derived).map((d) => ({ signal_id: signalIdFor(event.event_id, d.type), ...d })),
    stateful: statefulInputs(event, config, params, live),
  });
}

export function createTouchpointProcessor(options: TouchpointProcessorOptions): TouchpointProcessor {
  let config = resolveScoringConfig(options.scoring, options.config);
  const topics = { signals: topicNames.signals, alerts: topicNames.alerts, churnScores: topicNames.churnScores, ...options.topics };
  const now = options.now ?? Date.now;
  const redis = options.redis;
  const timerIndex = options.timerIndexKey ?? defaultTimerIndexKey;
  const leaseMs = options.timerLeaseMs ?? 30_000;
  // Registers EVALSHA-with-EVAL-fallback; ioredis sends each script body once per connection.
  for (const [name, def] of Object.entries(SCRIPTS)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, def);
  }
  const script = (name: ScriptName): ScriptCall => (redis as unknown as Record<string, ScriptCall>)[name]!.bind(redis);

  /**
   * Runs script calls: one MULTI … EXEC on a standalone server; on a Cluster, concurrent calls (ioredis pipelines them
   * per node). Why a transaction and not a plain pipeline: with `appendfsync always` Redis fsyncs its AOF once per
   * event-loop turn that wrote anything, and a turn reads ~16 KiB of a pipeline (a few dozen calls), so a plain
   * pipeline of a large batch paid hundreds of fsyncs; queued in MULTI, every write happens in the one EXEC turn:
   * one fsync per batch (measured: 7k → 11k events/s). EXEC holds Redis for the batch's duration, which the
   * consumer bounds (maxRecordsPerCall). Each script stays atomic per customer either way; a failing one does not
   * undo the others (EXEC has no rollback), as in a pipeline.
   */
  async function runAll(calls: Array<{ name: ScriptName | 'zadd' | 'hset'; args: string[]; what: string }>): Promise<unknown[]> {
    if (calls.length === 0) return [];
    if (redis.isCluster) {
      return Promise.all(calls.map((c) =>
        c.name === 'zadd' ? redis.zadd(c.args[0]!, c.args[1]!, c.args[2]!) : c.name === 'hset' ? redis.hset(c.args[0]!, ...c.args.slice(1)) : script(c.name)(...c.args),
      ));
    }
    const pipeline = redis.multi() as unknown as Record<string, (...args: string[]) => unknown> & { exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (const c of calls) pipeline[c.name]!(...c.args);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, reply], k) => {
      // Customers whose script ran keep their effects; a retry finds them in :seen (or the timer leased).
      if (err) throw new Error(`${calls[k]!.what} failed: ${err.message}`, { cause: err });
      return reply;
    });
  }

  async function processTouchpoints(events: readonly TouchpointEvent[]): Promise<TouchpointOutcome[]> {
    if (events.length === 0) return [];
    const cfgNow = config;
    // Group by customer, keeping each customer's touchpoints in input (offset) order.
    const byCustomer = new Map<string, number[]>();
    events.forEach((e, i) => {
      const list = byCustomer.get(e.customer_id);
      if (list) list.push(i);
      else byCustomer.set(e.customer_id, [i]);
    });
    const nowMs = now();
    // Read once per batch, so a model swapped meanwhile applies from the next batch on.
    const model = cfgNow.churn.enabled ? options.churnModel?.() : undefined;
    const cfg = scriptConfig(cfgNow, nowMs, model !== undefined);
    const liveAfterMicros = (nowMs - cfgNow.backfillHorizonMs) * 1000;
    const calls = [...byCustomer].map(([customerId, indexes]) => ({
      customerId,
      indexes,
      name: 'touchstreamApplyTouchpoints' as const,
      what: `applying touchpoints of customer ${customerId}`,
      args: [
        ...customerKeys(customerId),
        cfg,
        customerId,
        ...indexes.map((i) => scriptTouchpoint(events[i]!, cfgNow, events[i]!.occurred_at >= liveAfterMicros)),
      ],
    }));
    const replies = (await runAll(calls)) as string[][];

    const outcomes = new Array<TouchpointOutcome>(events.length);
    const indexUpdates: Array<{ name: 'zadd' | 'hset'; args: string[]; what: string }> = [];
    const churnInputs: ChurnInput[] = [];
    const extra = model ? 2 : 1;
    calls.forEach((c, k) => {
      const reply = replies[k]!;
      if (reply.length !== c.indexes.length * 2 + extra) {
        throw new Error(`script returned ${(reply.length - extra) / 2} outcomes for ${c.indexes.length} touchpoints`);
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
      // Before the batch is acknowledged, so a crash here redelivers it and the index is written then.
      const earliestDue = reply[c.indexes.length * 2]!;
      if (earliestDue !== '') indexUpdates.push({ name: 'zadd', args: [timerIndex, earliestDue, c.customerId], what: 'indexing journey timers' });
      if (model) {
        churnInputs.push({
          customerId: c.customerId,
          values: JSON.parse(reply.at(-1)!) as Array<string | false>,
          replay: c.indexes.every((i) => outcomes[i]!.duplicate),
        });
      }
    });
    if (model && churnInputs.length) {
      // One model call for the batch; the customer's score goes with their last touchpoint of the call.
      const lastOf = new Map(calls.map((c) => [c.customerId, c.indexes.at(-1)!]));
      for (const scored of scoreCustomers(model, cfgNow.churn, cfgNow.rulesVersion, churnInputs, liveAfterMicros)) {
        outcomes[lastOf.get(scored.customerId)!]!.churn = { score: scored.record, alert: scored.alert };
        indexUpdates.push({ name: 'hset', args: [customerKeys(scored.customerId)[0]!, ...scored.remember], what: 'remembering the churn score' });
      }
    }
    await runAll(indexUpdates);
    return outcomes;
  }

  function outputsOf(outcome: TouchpointOutcome | TimerOutcome): OutboundMessage[] {
    const key = outcome.customer_id;
    const out: OutboundMessage[] = outcome.signals.map((s) => ({ topic: topics.signals, key, value: codecs.signal.encode(s) }));
    if (outcome.alert) out.push({ topic: topics.alerts, key, value: codecs.alert.encode(outcome.alert) });
    if ('churn' in outcome && outcome.churn) {
      out.push({ topic: topics.churnScores, key, value: codecs.churnScore.encode(outcome.churn.score) });
      if (outcome.churn.alert) out.push({ topic: topics.alerts, key, value: codecs.alert.encode(outcome.churn.alert) });
    }
    return out;
  }

  async function handleBatches(batches: ConsumedBatch[]): Promise<RecordResult[][]> {
    const results = batches.map((batch) => new Array<RecordResult>(batch.records.length));
    const events: TouchpointEvent[] = [];
    const positions: Array<[batch: number, record: number]> = [];
    batches.forEach((batch, b) => {
      batch.records.forEach((record, i) => {
        if (!record.value) {
          results[b]![i] = { kind: 'dlq', reason: 'record has no value' };
          return;
        }
        try {
          const event = codecs.touchpoint.decode(record.value);
          if (!event.customer_id) {
            // An empty id would make `{}` the hash tag, which Redis ignores: the keys would land in different slots.
            results[b]![i] = { kind: 'dlq', reason: 'touchpoint has an empty customer_id' };
            return;
          }
          events.push(event);
          positions.push([b, i]);
        } catch (err) {
          if (!(err instanceof SchemaError)) throw err;
          results[b]![i] = { kind: 'dlq', reason: `undecodable touchpoint: ${err.message}` };
        }
      });
    });
    // A customer's records are all on one partition, so in one batch, in offset order: processTouchpoints keeps it.
    const outcomes = await processTouchpoints(events);
    outcomes.forEach((outcome, k) => {
      const [b, i] = positions[k]!;
      results[b]![i] = { kind: 'ok', outputs: outputsOf(outcome) };
    });
    return results;
  }

  async function handleBatch(batch: ConsumedBatch): Promise<RecordResult[]> {
    return (await handleBatches([batch]))[0]!;
  }

  async function sweepTimers(emit: (messages: OutboundMessage[]) => Promise<void>, nowMs = now()): Promise<TimerOutcome[]> {
    const nowMicros = nowMs * 1000;
    const fired: TimerOutcome[] = [];
    // Bounded rounds per sweep; whatever is left goes on the next tick.
    for (let round = 0; round < 20; round++) {
      const entries = await redis.zrangebyscore(timerIndex, '-inf', String(nowMicros), 'WITHSCORES', 'LIMIT', 0, 200);
      if (entries.length === 0) break;
      const candidates: Array<{ customerId: string; indexScore: string }> = [];
      for (let i = 0; i < entries.length; i += 2) candidates.push({ customerId: entries[i]!, indexScore: entries[i + 1]! });
      const cfg = scriptConfig(config, nowMs);
      const replies = (await runAll(candidates.map((c) => ({
        name: 'touchstreamFireTimers' as const,
        what: `firing journey timers of customer ${c.customerId}`,
        args: [...customerKeys(c.customerId), cfg, c.customerId, String(nowMicros), String(leaseMs * 1000)],
      })))) as string[][];

      const earliest = new Map<string, string>();
      const toAck: Array<{ customerId: string; ids: string[] }> = [];
      const outcomes: TimerOutcome[] = [];
      candidates.forEach((c, k) => {
        const reply = replies[k]!;
        const ids: string[] = [];
        for (let j = 0; j + 1 < reply.length; j += 2) {
          const recorded = JSON.parse(reply[j + 1]!) as { signals: Signal[]; alert: Alert | null };
          ids.push(reply[j]!);
          outcomes.push({ event_id: reply[j]!, customer_id: c.customerId, signals: recorded.signals, alert: recorded.alert });
        }
        earliest.set(c.customerId, reply.at(-1)!);
        if (ids.length) toAck.push({ customerId: c.customerId, ids });
      });
      // Produce first: an unacknowledged timer stays leased and is fired again, with the same outputs.
      const messages = outcomes.flatMap(outputsOf);
      if (messages.length) await emit(messages);
      const acked = (await runAll(toAck.map((a) => ({
        name: 'touchstreamAckTimers' as const,
        what: `removing fired journey timers of customer ${a.customerId}`,
        args: [customerDueKey(a.customerId), customerTimersKey(a.customerId), ...a.ids],
      })))) as string[];
      toAck.forEach((a, k) => earliest.set(a.customerId, acked[k]!));
      await runAll(candidates.map((c) => ({
        name: 'touchstreamUpdateTimerIndex' as const,
        what: 'updating the journey timer index',
        args: [timerIndex, c.customerId, c.indexScore, earliest.get(c.customerId)!],
      })));
      fired.push(...outcomes);
      if (entries.length < 400) break;
    }
    return fired;
  }

  return {
    get config() {
      return config;
    },
    setConfig(next: ScoringConfig) {
      config = next;
    },
    processTouchpoints,
    handleBatch,
    handleBatches,
    sweepTimers,
    outputsOf,
  };
}
