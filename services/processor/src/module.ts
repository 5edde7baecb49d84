// The processor as a runtime module: a consumer group on touchpoints.v1 whose batches go through the
// touchpoint processor (the wrapper produces the outputs before it commits the offsets), a sweeper that
// fires due journey timers on a tick, and the rules file, reloaded on change and on reloadRules().
import type { Cluster, Redis } from 'ioredis';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { produceAll, runBatchConsumer, topicNames, withoutErased, type BatchConsumer, type BatchConsumerOptions, type ErasedCustomers, type LogSink } from '@touchstream/kafka';
import { createCatalogueWatcher, type CatalogueWatcher, type TouchpointCatalogue } from '@touchstream/contracts/touchpoint-catalogue';
import { resolveScoringConfig, type ScoringConfig, type ScoringOverrides } from './config.ts';
import { createTouchpointProcessor, type TouchpointProcessor } from './processor.ts';
import { createRulesWatcher, type ReloadResult, type RulesWatcher } from './rules-watcher.ts';
import { startTimerSweeper, type TimerSweeper } from './timer-sweeper.ts';
import { createChurnModelWatcher, type ChurnModelWatcher } from './churn/watcher.ts';

export const defaultProcessorGroupId = 'touchstream-processor';

export interface ProcessorModuleDeps {
  kafka: BatchConsumerOptions['kafka'];
  /** The process's idempotent producer (acks=all); outputs and dead letters go through it. */
  producer: BatchConsumerOptions['producer'];
  /** Connected and owned by the caller (the composition root starts and stops it). */
  redis: Redis | Cluster;
  groupId?: string;
  /** Rules file (YAML or JSON), laid over `scoring`; validated at init, reloaded on change. */
  rulesFile?: string;
  /**
   * Touchpoint catalogue (TOUCHPOINTS_FILE): its reaction-time targets are the wait SLAs of `sla_breach` when the
   * rules say `source: catalogue` (docs/architecture.md §20.5). Validated at init, reloaded on change and with the rules.
   */
  touchpointsFile?: string;
  /**
   * The churn model file (CHURN_MODEL_FILE, written by `./touchstream train`): scored live when the rules leave
   * `churn.enabled` on (§22); reloaded when it changes; a missing file means no scoring until it appears.
   */
  churnModelFile?: string;
  /** Settings under the rules file (and all of the rules when there is no file). */
  scoring?: ScoringOverrides;
  /** Journey-timer sweep tick (wall clock); default 1 s. */
  sweepIntervalMs?: number;
  /** How often the rules file's stat is polled for changes; default 1 s. */
  rulesPollIntervalMs?: number;
  log: LogSink;
  /** Erased customers (followed from erasures.v1): their touchpoints written before the erasure are dropped (§14). */
  erased?: ErasedCustomers;
  /** Consumer tuning passed to runBatchConsumer. */
  consumer?: Pick<BatchConsumerOptions, 'maxRecordsPerBatch' | 'maxRecordsPerCall' | 'partitionsConsumedConcurrently' | 'fromBeginning' | 'sessionTimeoutMs'>;
}

export interface ProcessorModule extends Module {
  /** Re-reads the rules file and the touchpoint catalogue (SIGHUP); an invalid file is rejected and the one in force stays. */
  reloadRules(): Promise<ReloadResult>;
  /** The scoring config the processor runs with (rules and catalogue targets); undefined before init. */
  configInForce(): ScoringConfig | undefined;
}

export function createProcessorModule(deps: ProcessorModuleDeps): ProcessorModule {
  const groupId = deps.groupId ?? defaultProcessorGroupId;
  let rules: RulesWatcher | undefined;
  let catalogue: CatalogueWatcher | undefined;
  let running: TouchpointProcessor | undefined;
  let churnModel: ChurnModelWatcher | undefined;
  return {
    name: 'processor',
    deps: [],
    configInForce: () => running?.config,
    async reloadRules() {
      await catalogue?.reload('reload requested');
      if (!rules) return { ok: false, error: 'no rules file configured (RULES_FILE): nothing to reload' };
      return rules.reload('reload requested');
    },
    async init(): Promise<ModuleInstance> {
      // Built at init so a bad scoring config, rules file or catalogue fails the process before anything starts.
      const base = resolveScoringConfig(deps.scoring);
      let processor: TouchpointProcessor | undefined;
      // The config in force is the rules' with the catalogue's targets beside them; either changing re-sets it.
      let rulesConfig: ScoringConfig = base;
      let reactionTimes: Record<string, number> | undefined;
      const targetsOf = (c: TouchpointCatalogue) =>
        Object.fromEntries(c.entries.filter((e) => e.reaction_time_ms !== null).map((e) => [e.touchpoint, e.reaction_time_ms!]));
      const inForce = (): ScoringConfig => (reactionTimes ? { ...rulesConfig, touchpointReactionTimes: reactionTimes } : rulesConfig);
      if (deps.rulesFile) {
        rules = await createRulesWatcher({
          file: deps.rulesFile,
          base,
          onChange: (config) => {
            rulesConfig = config;
            processor?.setConfig(inForce());
          },
          log: deps.log,
          pollIntervalMs: deps.rulesPollIntervalMs,
        });
        rulesConfig = rules.current;
      }
      if (deps.touchpointsFile) {
        catalogue = await createCatalogueWatcher({
          file: deps.touchpointsFile,
          log: deps.log,
          pollIntervalMs: deps.rulesPollIntervalMs,
          onChange: (c) => {
            reactionTimes = targetsOf(c);
            processor?.setConfig(inForce());
          },
        });
        reactionTimes = targetsOf(catalogue.current);
      }
      if (deps.churnModelFile) {
        churnModel = await createChurnModelWatcher({ file: deps.churnModelFile, log: deps.log, pollIntervalMs: deps.rulesPollIntervalMs });
        const m = churnModel.current;
        deps.log.info({ file: deps.churnModelFile, version: m?.file.version ?? null }, m ? 'churn model loaded' : 'no churn model yet: scoring starts when the file appears');
      }
      const model = churnModel;
      processor = createTouchpointProcessor({ redis: deps.redis, config: inForce(), churnModel: model ? () => model.current : undefined });
      running = processor;
      const p = processor;
      let consumer: BatchConsumer | undefined;
      let sweeper: TimerSweeper | undefined;

      return {
        async start() {
          consumer = await runBatchConsumer({
            kafka: deps.kafka,
            groupId,
            topics: [topicNames.touchpoints],
            producer: deps.producer,
            handleBatches: deps.erased ? withoutErased(deps.erased, p.handleBatches) : p.handleBatches,
            deadLetterTopic: topicNames.deadLetters,
            stage: 'processor',
            log: deps.log,
            // One call is one Redis transaction (processor.ts runAll): 5,000 events hold Redis ~0.4 s at most, so live
            // reads (journeys, scores) wait no longer, and an alert waits for at most one call before its own.
            maxRecordsPerBatch: 5000,
            maxRecordsPerCall: 5000,
            ...deps.consumer,
          });
          sweeper = startTimerSweeper({
            processor: p,
            emit: (messages) => produceAll(deps.producer, messages),
            intervalMs: deps.sweepIntervalMs ?? 1000,
            log: deps.log,
          });
          rules?.start();
          catalogue?.start();
          churnModel?.start();
          deps.log.info(
            { groupId, halfLifeMs: p.config.halfLifeMs, rulesFile: deps.rulesFile ?? null, rulesVersion: p.config.rulesVersion },
            'processor consuming touchpoints',
          );
        },
        async stop() {
          rules?.stop();
          churnModel?.stop();
          catalogue?.stop();
          await sweeper?.stop();
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
