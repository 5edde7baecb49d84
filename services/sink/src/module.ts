// The sink: touchpoints, signals and alerts from Kafka into ClickHouse, one insert per batch, effectively once.
// The tables exist before it starts: the composition root's clickhouse module applies the migrations.
import { storeRows, writeRollups, type ClickHouseClient } from '@touchstream/clickhouse';
import { runBatchConsumer, topicNames, type BatchConsumer, type BatchConsumerOptions, type BatchHandler, type LogSink } from '@touchstream/kafka';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { defaultSinkTopics, findStored, rowsFor, storedBlock, storedUnderOtherTokens, withoutStored, type SinkTopics } from './batch.ts';

export interface SinkDeps {
  /** kafkajs's Kafka (typed through the wrapper, which owns the kafkajs dependency). */
  kafka: BatchConsumerOptions['kafka'];
  /** The process's idempotent producer (dead letters). */
  producer: BatchConsumerOptions['producer'];
  clickhouse: ClickHouseClient;
  /** Defaults to `touchstream-sink`. */
  groupId?: string;
  log: LogSink;
  /** Defaults to touchpoints.v1, signals.v1 and alerts.v1. */
  topics?: Partial<SinkTopics>;
  /** Records per insert at most (the consumer splits larger fetches); defaults to the consumer's 1000. */
  maxRecordsPerBatch?: number;
  partitionsConsumedConcurrently?: number;
  /** See BatchConsumerOptions.sessionTimeoutMs. */
  sessionTimeoutMs?: number;
}

/** Whether ClickHouse answered the sink's last call; part of readiness. */
export interface ClickHouseHealth {
  ok: boolean;
  error?: string;
}

/** The per-batch work, without Kafka: plan, drop what is stored, insert, report. */
export function createSinkBatchHandler(opts: {
  clickhouse: ClickHouseClient;
  topics?: SinkTopics;
  /** Called after every ClickHouse call with its outcome. */
  onClickHouse?: (health: ClickHouseHealth) => void;
  /** Called before the rollups get again the block of a store cut off under another token. */
  onRepair?: (repair: { table: string; token: string; rows: number }) => void;
}): BatchHandler {
  const topics = opts.topics ?? defaultSinkTopics;
  const report = opts.onClickHouse ?? (() => {});
  return async (batch) => {
    const planned = rowsFor(batch, topics);
    if (planned.rows.length === 0) return planned.results;
    try {
      const stored = await findStored(opts.clickhouse, planned.table, planned.rows);
      const plan = withoutStored(planned, stored);
      // Raw table first, then its rollups (migration 006): a rollup never holds a block the raw table lacks.
      await storeRows(opts.clickhouse, { table: plan.table, rows: plan.rows.map((r) => r.row), dedupToken: plan.dedupToken });
      // Stores cut off with other batch boundaries: the rollups get their whole raw block again, under its token.
      for (const origin of storedUnderOtherTokens(planned, stored)) {
        const rows = await storedBlock(opts.clickhouse, plan.table, origin);
        opts.onRepair?.({ table: plan.table, token: origin.insertToken, rows: rows.length });
        await writeRollups(opts.clickhouse, { table: plan.table, rows, dedupToken: origin.insertToken });
      }
      report({ ok: true });
      return plan.results;
    } catch (err) {
      report({ ok: false, error: err instanceof Error ? err.message : String(err) });
      // Thrown: the consumer retries the whole batch; nothing of it is committed meanwhile.
      throw err;
    }
  };
}

export function createSinkModule(deps: SinkDeps): Module {
  const groupId = deps.groupId ?? 'touchstream-sink';
  const topics: SinkTopics = { ...defaultSinkTopics, ...deps.topics };
  return {
    name: 'sink',
    deps: [],
    async init(): Promise<ModuleInstance> {
      let clickhouse: ClickHouseHealth = { ok: true };
      let consumer: BatchConsumer | undefined;
      const handleBatch = createSinkBatchHandler({
        clickhouse: deps.clickhouse,
        topics,
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
          consumer = await runBatchConsumer({
            kafka: deps.kafka,
            groupId,
            topics: [topics.touchpoints, topics.signals, topics.alerts],
            producer: deps.producer,
            deadLetterTopic: topicNames.deadLetters,
            stage: 'sink',
            handleBatch,
            log: deps.log,
            maxRecordsPerBatch: deps.maxRecordsPerBatch,
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
