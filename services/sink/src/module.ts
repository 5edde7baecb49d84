// The sink: touchpoints, signals, alerts and profile updates from Kafka into ClickHouse, one insert per batch, effectively once.
// The tables exist before it starts: the composition root's clickhouse module applies the migrations.
import { dropStaleStages, stageRows, storeStaged, writeRollups, type ClickHouseClient } from '@touchstream/clickhouse';
import { runBatchConsumer, topicNames, withoutErased, type BatchConsumer, type ErasedCustomers, type BatchConsumerOptions, type BatchHandler, type LogSink, type MultiBatchHandler, type RecordResult } from '@touchstream/kafka';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { storeChurnScores } from './churn-scores.ts';
import { defaultSinkTopics, findStored, resultsPerBatch, rowsFor, storedBlock, storedUnderOtherTokens, tableFor, withoutStored, type BatchPlan, type SinkTopics } from './batch.ts';

export interface SinkDeps {
  /** kafkajs's Kafka (typed through the wrapper, which owns the kafkajs dependency). */
  kafka: BatchConsumerOptions['kafka'];
  /** The process's idempotent producer (dead letters). */
  producer: BatchConsumerOptions['producer'];
  clickhouse: ClickHouseClient;
  /** Defaults to `touchstream-sink`. */
  groupId?: string;
  log: LogSink;
  /** Defaults to touchpoints.v1, signals.v1, alerts.v1 and profiles.v1. */
  topics?: Partial<SinkTopics>;
  /** Churn-risk scores (§22); default churn_scores.v1 (none when `topics` is given). */
  churnScoresTopic?: string;
  /** Records per partition chunk at most (the consumer splits larger fetches). */
  maxRecordsPerBatch?: number;
  /** Records per store at most, over all partitions (the consumer's group commit; default 50,000). */
  maxRecordsPerCall?: number;
  partitionsConsumedConcurrently?: number;
  /** See BatchConsumerOptions.sessionTimeoutMs. */
  sessionTimeoutMs?: number;
  /** Erased customers (followed from erasures.v1): their records written before the erasure are dropped (§14). */
  erased?: ErasedCustomers;
}

/** Whether ClickHouse answered the sink's last call; part of readiness. */
export interface ClickHouseHealth {
  ok: boolean;
  error?: string;
}

export interface SinkHandlerOptions {
  clickhouse: ClickHouseClient;
  topics?: SinkTopics;
  /** Churn-risk scores (§22): their batches go to churn_scores, not through the raw-table path. */
  churnScoresTopic?: string;
  /** Called after every ClickHouse call with its outcome. */
  onClickHouse?: (health: ClickHouseHealth) => void;
  /** Called before the rollups get again the block of a store cut off under another token. */
  onRepair?: (repair: { table: string; token: string; rows: number }) => void;
}

/**
 * The work on the batches of one consumer call, without Kafka: per topic, plan the rows of all its partitions' batches,
 * stage them once, drop what is already stored, store raw then rollups under one token, repair cut-off stores.
 */
export function createSinkBatchesHandler(opts: SinkHandlerOptions): MultiBatchHandler {
  const topics = opts.topics ?? defaultSinkTopics;
  const report = opts.onClickHouse ?? (() => {});
  return async (batches) => {
    const results: RecordResult[][] = new Array(batches.length);
    const byTable = new Map<string, number[]>();
    const churn: number[] = [];
    batches.forEach((b, i) => {
      if (b.topic === opts.churnScoresTopic) return void churn.push(i);
      const table = tableFor(b.topic, topics);
      const indexes = byTable.get(table);
      if (indexes) indexes.push(i);
      else byTable.set(table, [i]);
    });
    try {
      for (const indexes of byTable.values()) {
        const planned = rowsFor(indexes.map((i) => batches[i]!), topics);
        const plan = planned.rows.length === 0 ? planned : await store(planned);
        resultsPerBatch(plan).forEach((list, k) => (results[indexes[k]!] = list));
      }
      if (churn.length) (await storeChurnScores(opts.clickhouse, churn.map((i) => batches[i]!))).forEach((list, k) => (results[churn[k]!] = list));
      report({ ok: true });
      return results;
    } catch (err) {
      report({ ok: false, error: err instanceof Error ? err.message : String(err) });
      // Thrown: the consumer retries the whole call; nothing of it is committed meanwhile.
      throw err;
    }
  };

  async function store(planned: BatchPlan): Promise<BatchPlan> {
    const staged = await stageRows(opts.clickhouse, planned.table, planned.rows.map((r) => r.row));
    try {
      const stored = await findStored(opts.clickhouse, planned.table, planned.rows, staged);
      const plan = withoutStored(planned, stored);
      // Copies of rows stored before (rare: replays, resent events) leave the staged batch.
      if (plan.rows.length !== planned.rows.length) await staged.replace(plan.rows.map((r) => r.row));
      // Raw table first, then its rollups (migration 006): a rollup never holds a block the raw table lacks.
      if (plan.rows.length > 0) await storeStaged(opts.clickhouse, staged, plan.dedupToken);
      // Stores cut off with other batch boundaries: the rollups get their whole raw block again, under its token.
      for (const origin of storedUnderOtherTokens(planned, stored)) {
        const rows = await storedBlock(opts.clickhouse, plan.table, origin);
        opts.onRepair?.({ table: plan.table, token: origin.insertToken, rows: rows.length });
        await writeRollups(opts.clickhouse, { table: plan.table, rows, dedupToken: origin.insertToken });
      }
      return plan;
    } finally {
      await staged.drop();
    }
  }
}

/** createSinkBatchesHandler for one partition's batch at a time (tests, tools). */
export function createSinkBatchHandler(opts: SinkHandlerOptions): BatchHandler {
  const handle = createSinkBatchesHandler(opts);
  return async (batch) => (await handle([batch]))[0]!;
}

export function createSinkModule(deps: SinkDeps): Module {
  const groupId = deps.groupId ?? 'touchstream-sink';
  const topics: SinkTopics = { ...defaultSinkTopics, ...deps.topics };
  // Tests that give topics of their own get no churn topic unless they name one.
  const churnScoresTopic = deps.churnScoresTopic ?? (deps.topics ? undefined : topicNames.churnScores);
  return {
    name: 'sink',
    deps: [],
    async init(): Promise<ModuleInstance> {
      let clickhouse: ClickHouseHealth = { ok: true };
      let consumer: BatchConsumer | undefined;
      const handleBatches = createSinkBatchesHandler({
        clickhouse: deps.clickhouse,
        topics,
        churnScoresTopic,
        onClickHouse: (health) => {
          if (!health.ok && clickhouse.ok) deps.log.error({ err: health.error }, 'sink: ClickHouse insert failed; the batch is retried');
          if (health.ok && !clickhouse.ok) deps.log.info({}, 'sink: ClickHouse answers again');
          clickhouse = health;
        },
        // Warn: it happens only after a sink was cut off mid-store, and it is what to look at if a rollup disagrees with raw.
        onRepair: (repair) => deps.log.warn(repair, 'sink: writing the rollups again with the block of a store cut off under another token'),
      });
      return {
        async start() {
          // Staging tables of a sink killed mid-store hold nothing anyone reads: drop them.
          const stale = await dropStaleStages(deps.clickhouse).catch(() => 0);
          if (stale > 0) deps.log.info({ stale }, 'sink: dropped staging tables left by an earlier sink');
          consumer = await runBatchConsumer({
            kafka: deps.kafka,
            groupId,
            topics: [topics.touchpoints, topics.signals, topics.alerts, topics.profiles ?? topicNames.profiles, ...(churnScoresTopic ? [churnScoresTopic] : [])],
            producer: deps.producer,
            deadLetterTopic: topicNames.deadLetters,
            stage: 'sink',
            handleBatches: deps.erased ? withoutErased(deps.erased, handleBatches) : handleBatches,
            log: deps.log,
            maxRecordsPerBatch: deps.maxRecordsPerBatch,
            maxRecordsPerCall: deps.maxRecordsPerCall,
            partitionsConsumedConcurrently: deps.partitionsConsumedConcurrently,
            sessionTimeoutMs: deps.sessionTimeoutMs,
          });
        },
        async stop() {
          await consumer?.stop();
        },
        ready() {
          if (!consumer) return { ready: false, reason: 'sink consumer not started' };
          const c = consumer.ready();
          if (!c.ready) return c;
          if (!clickhouse.ok) return { ready: false, reason: `last ClickHouse call failed: ${clickhouse.error}` };
          return { ready: true };
        },
      };
    },
  };
}
