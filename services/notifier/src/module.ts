// The notifier as a runtime module: its own consumer group on alerts.v1; each batch's webhooks are
// delivered or dead-lettered before the wrapper commits the batch's offsets.
import type { Cluster, Redis } from 'ioredis';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { runBatchConsumer, topicNames, type BatchConsumer, type BatchConsumerOptions, type LogSink } from '@touchstream/kafka';
import type { NotifierSettings } from './destinations.ts';
import { createAlertNotifier, type AlertNotifier } from './notifier.ts';

export const defaultNotifierGroupId = 'touchstream-notifier';

export interface NotifierModuleDeps {
  kafka: BatchConsumerOptions['kafka'];
  producer: BatchConsumerOptions['producer'];
  /** Connected and owned by the caller. */
  redis: Redis | Cluster;
  settings: NotifierSettings;
  groupId?: string;
  log: LogSink;
  /** Tests: another alerts topic, another key prefix for delivery records. */
  topic?: string;
  keyPrefix?: string;
  deadLetterTopic?: string;
  /**
   * Where a new consumer group starts. Default false (the newest alerts): turning webhooks on does not send
   * the topic's whole retained history.
   */
  fromBeginning?: boolean;
  random?: () => number;
}

export interface NotifierModule extends Module {
  /** The running notifier (for its counters); undefined before init. */
  notifier(): AlertNotifier | undefined;
}

export function createNotifierModule(deps: NotifierModuleDeps): NotifierModule {
  const groupId = deps.groupId ?? defaultNotifierGroupId;
  let notifier: AlertNotifier | undefined;
  return {
    name: 'notifier',
    deps: [],
    notifier: () => notifier,
    async init(): Promise<ModuleInstance> {
      const shutdown = new AbortController();
      notifier = createAlertNotifier({
        settings: deps.settings,
        redis: deps.redis,
        log: deps.log,
        signal: shutdown.signal,
        keyPrefix: deps.keyPrefix,
        deadLetterTopic: deps.deadLetterTopic,
        random: deps.random,
      });
      let consumer: BatchConsumer | undefined;
      const idle = deps.settings.destinations.length === 0;
      return {
        async start() {
          if (idle) {
            deps.log.info({}, 'notifier: no webhook destinations configured (WEBHOOKS_FILE or WEBHOOKS); not consuming alerts');
            return;
          }
          consumer = await runBatchConsumer({
            kafka: deps.kafka,
            groupId,
            topics: [deps.topic ?? topicNames.alerts],
            producer: deps.producer,
            handleBatch: notifier!.handleBatch,
            deadLetterTopic: deps.deadLetterTopic ?? topicNames.deadLetters,
            stage: 'notifier',
            log: deps.log,
            fromBeginning: deps.fromBeginning ?? false,
            // Webhook round trips, not CPU, bound a batch: smaller batches commit progress sooner.
            maxRecordsPerBatch: 100,
            partitionsConsumedConcurrently: 6,
          });
          deps.log.info({ groupId, destinations: deps.settings.destinations.map((d) => d.name) }, 'notifier delivering alerts to webhooks');
        },
        async stop() {
          // Ends backoff waits and requests in flight at once; what was not committed is delivered after restart.
          shutdown.abort(new Error('notifier stopping'));
          await consumer?.stop();
        },
        ready() {
          if (idle) return { ready: true };
          if (!consumer) return { ready: false, reason: 'notifier consumer not started' };
          if (deps.redis.status !== 'ready') return { ready: false, reason: `Redis connection is ${deps.redis.status}` };
          return consumer.ready();
        },
      };
    },
  };
}
