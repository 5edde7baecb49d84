// KPI deviation alerts as a runtime module of their own (docs/architecture.md §21): the `anomaly` target. Why not
// inside the processor: processors scale out in one consumer group and each sees only its partitions, while a
// touchpoint's or a channel's volume is only right over all of them. The detector is therefore one instance with a
// consumer group of its own (`<prefix>-anomaly`) over every partition of touchpoints.v1; `--target all` includes it
// once, extra processors (`up --processors N`, the processor Deployment) never run it. It reads the rules file (its
// `anomalies:` section; reloaded on change and SIGHUP) and, with a ClickHouse client, warm-starts its baseline from
// the stored touchpoints so a restart does not silence it (warm-start.ts).
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { BatchConsumerOptions, LogSink } from '@touchstream/kafka';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { resolveScoringConfig, type ScoringConfig, type ScoringOverrides } from '../config.ts';
import { createRulesWatcher, type ReloadResult, type RulesWatcher } from '../rules-watcher.ts';
import { createKpiAnomalyRunner, type KpiAnomalyRunner } from './runner.ts';
import { warmStartFromClickHouse, type WarmStartResult } from './warm-start.ts';

export const defaultAnomalyGroupId = 'touchstream-anomaly';

export interface KpiAnomalyModuleDeps {
  kafka: BatchConsumerOptions['kafka'];
  producer: BatchConsumerOptions['producer'];
  /** Where the baseline is rebuilt from at start; without it the detector starts cold (silent for min_history). */
  clickhouse?: ClickHouseClient;
  groupId?: string;
  /** Rules file: its `anomalies:` section turns the alerts on and sets them. */
  rulesFile?: string;
  scoring?: ScoringOverrides;
  rulesPollIntervalMs?: number;
  /** How far behind now the warm start's cut lies (must exceed the sink's lag); default 2 min. */
  warmStartCutLagMs?: number;
  log: LogSink;
  /** Tests: other topics, a wall-clock tick. */
  alertsTopic?: string;
  touchpointsTopic?: string;
  tickMs?: number;
}

export interface KpiAnomalyModule extends Module {
  /** Re-reads the rules file (SIGHUP); an invalid file is rejected and the rules in force stay. */
  reloadRules(): Promise<ReloadResult>;
  /** The runner (detector, consumer); undefined before init. */
  runner(): KpiAnomalyRunner | undefined;
  /** What the last warm start rebuilt; undefined before one ran. */
  warmStart(): WarmStartResult | undefined;
}

export function createKpiAnomalyModule(deps: KpiAnomalyModuleDeps): KpiAnomalyModule {
  const groupId = deps.groupId ?? defaultAnomalyGroupId;
  let rules: RulesWatcher | undefined;
  let runner: KpiAnomalyRunner | undefined;
  let warm: WarmStartResult | undefined;
  return {
    name: 'anomaly',
    deps: [],
    runner: () => runner,
    warmStart: () => warm,
    async reloadRules() {
      if (!rules) return { ok: false, error: 'no rules file configured (RULES_FILE): nothing to reload' };
      return rules.reload('reload requested');
    },
    async init(): Promise<ModuleInstance> {
      let config: ScoringConfig = resolveScoringConfig(deps.scoring);
      if (deps.rulesFile) {
        rules = await createRulesWatcher({
          file: deps.rulesFile,
          base: config,
          onChange: (next) => {
            void runner?.setConfig(next.anomalies, next.rulesVersion).catch((err) => deps.log.error({ err: (err as Error).message }, 'KPI anomaly detection did not start'));
          },
          log: deps.log,
          pollIntervalMs: deps.rulesPollIntervalMs,
        });
        config = rules.current;
      }
      const clickhouse = deps.clickhouse;
      const r = createKpiAnomalyRunner({
        kafka: deps.kafka,
        producer: deps.producer,
        groupId,
        log: deps.log,
        config: config.anomalies,
        rulesVersion: config.rulesVersion,
        alertsTopic: deps.alertsTopic,
        touchpointsTopic: deps.touchpointsTopic,
        tickMs: deps.tickMs,
        warmStart: clickhouse
          ? async (detector) => {
              warm = await warmStartFromClickHouse(detector, { clickhouse, log: deps.log, nowMs: Date.now(), cutLagMs: deps.warmStartCutLagMs });
              return warm.cutMs;
            }
          : undefined,
      });
      runner = r;
      return {
        async start() {
          // In the background: the warm start may read weeks of touchpoints, and a process running other targets
          // (ingest in `all`) must not wait for it to be ready. Progress and failures are in the log.
          void r.start().catch((err) => deps.log.error({ err: (err as Error).message }, 'KPI anomaly detection did not start'));
          rules?.start();
          deps.log.info({ groupId, enabled: r.detector.settings.enabled, rulesFile: deps.rulesFile ?? null }, 'KPI anomaly detection starting');
        },
        async stop() {
          rules?.stop();
          await r.stop();
        },
        // Ready while it warm-starts too: nothing is served from it, and readiness gates the process's HTTP traffic.
        ready: () => ({ ready: true }),
      };
    },
  };
}
