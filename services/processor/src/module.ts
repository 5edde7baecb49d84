// The processor as a runtime module: a consumer group on touchpoints.v1 whose batches go through the
// touchpoint processor; the wrapper produces the outputs before it commits the offsets.
import type { Cluster, Redis } from 'ioredis';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { runBatchConsumer, topicNames, type BatchConsumer, type BatchConsumerOptions, type LogSink } from '@touchstream/kafka';
import type { ScoringOverrides } from './config.ts';
import { createTouchpointProcessor } from './processor.ts';

export const defaultProcessorGroupId = 'touchstream-processor';

export interface ProcessorModuleDeps {
  kafka: BatchConsumerOptions['kafka'];
  /** The process's idempotent producer (acks=all); outputs and dead letters go through it. */
  producer: BatchConsumerOptions['producer'];
  /** Connected and owned by the caller (the composition root starts and stops it). */
  redis: Redis | Cluster;
  groupId?: string;
  scoring?: ScoringOverrides;
  log: LogSink;
  /** Consumer tuning passed to runBatchConsumer. */
  consumer?: Pick<BatchConsumerOptions, 'maxRecordsPerBatch' | 'partitionsConsumedConcurrently' | 'fromBeginning' | 'sessionTimeoutMs'>;
}

export function createProcessorModule(deps: ProcessorModuleDeps): Module {
  const groupId = deps.groupId ?? defaultProcessorGroupId;
  return {
    name: 'processor',
    deps: [],
    async init(): Promise<ModuleInstance> {
      // Built at init so a bad scoring config fails the process before anything starts.
      const processor = createTouchpointProcessor({ redis: deps.redis, scoring: deps.scoring });
      let consumer: BatchConsumer | undefined;
      return {
        async start() {
          consumer = await runBatchConsumer({
            kafka: deps.kafka,
            groupId,
            topics: [topicNames.touchpoints],
            producer: deps.producer,
            handleBatch: processor.handleBatch,
            deadLetterTopic: topicNames.deadLetters,
            stage: 'processor',
            log: deps.log,
            ...deps.consumer,
          });
          deps.log.info({ groupId, halfLifeMs: processor.config.halfLifeMs }, 'processor consuming touchpoints');
        },
        async stop() {
          await consumer?.stop();
        },
        ready() {
          if (!consumer) return { ready: false, reason: 'processor consumer not started' };
          if (deps.redis.status !== 'ready') return { ready: false, reason: `Redis connection is ${deps.redis.status}` };
          return consumer.ready();
        },
      };
    },
  };
}
