export {
  defaultScoringConfig,
  defaultSignalParams,
  resolveScoringConfig,
  signalParamsFor,
  type ScoringConfig,
  type ScoringOverrides,
  type SignalParams,
  type SignalParamsOverride,
} from './config.ts';
export { parseRules, loadRulesFile, parseDuration, rulesVersionOf, RulesError } from './rules.ts';
export { createRulesWatcher, type RulesWatcher, type ReloadResult } from './rules-watcher.ts';
export {
  statelessSignals,
  statefulInputs,
  signalIdFor,
  alertIdFor,
  timerAlertIdFor,
  contactReasonOf,
  describeDuration,
  type SignalDecision,
} from './signals.ts';
export {
  createTouchpointProcessor,
  timelineMember,
  type TouchpointProcessor,
  type TouchpointProcessorOptions,
  type TouchpointOutcome,
  type TimerOutcome,
} from './processor.ts';
export { createProcessorModule, defaultProcessorGroupId, type ProcessorModule, type ProcessorModuleDeps } from './module.ts';
export { startTimerSweeper, type TimerSweeper } from './timer-sweeper.ts';
export {
  KpiAnomalyDetector,
  defaultKpiAnomalyConfig,
  defaultMetricSettings,
  kpiMetrics,
  kpiDimensions,
  type KpiAnomaly,
  type KpiAnomalyConfig,
  type KpiContribution,
  type KpiDimension,
  type KpiMetric,
  type KpiMetricSettings,
  type KpiTouchpoint,
  isTimeZone,
  zoneOffsetMinutes,
} from './anomaly/detector.ts';
export { kpiAlert, kpiAlertIdFor, explainKpiAnomaly, KPI_ANOMALY } from './anomaly/alert.ts';
export { createKpiAnomalyRunner, kpiTouchpointOf, type KpiAnomalyRunner } from './anomaly/runner.ts';
export { createKpiAnomalyModule, defaultAnomalyGroupId, type KpiAnomalyModule, type KpiAnomalyModuleDeps } from './anomaly/module.ts';
export { warmStartFromClickHouse, type WarmStartResult } from './anomaly/warm-start.ts';
export {
  churnFeatures,
  churnFeatureNames,
  churnStateFromHash,
  churnStateFields,
  type ChurnState,
} from './churn/features.ts';
export { replayChurnStates, type HistorySignal, type HistoryTouchpoint } from './churn/history.ts';
export { evaluateChurnScores, rocAuc, type ChurnEvaluation, type CalibrationRow } from './churn/evaluate.ts';
export {
  loadChurnModel,
  parseChurnModel,
  saveChurnModel,
  churnBandOf,
  defaultChurnRules,
  defaultForestParams,
  ChurnModelError,
  type ChurnModel,
  type ChurnModelFile,
  type ChurnRules,
  type ForestParams,
} from './churn/model.ts';
export { trainChurnModel, isChurnEvent, type CustomerHistory, type TrainingOptions, type TrainingResult } from './churn/training.ts';
export { scoreCustomers, CHURN_RISK } from './churn/live.ts';
