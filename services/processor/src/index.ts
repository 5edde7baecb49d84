export { customerStateKey, customerTimelineKey, customerSeenKey, customerSeenIndexKey, customerKeys } from './keys.ts';
export { decayedScore } from './score.ts';
export {
  defaultScoringConfig,
  resolveScoringConfig,
  signalTypes,
  alertLevels,
  type ScoringConfig,
  type ScoringOverrides,
  type SignalType,
  type AlertLevel,
  type RaisedLevel,
} from './config.ts';
export { statelessSignals, signalIdFor, alertIdFor, contactReasonOf, describeDuration, type SignalDecision } from './signals.ts';
export {
  createTouchpointProcessor,
  timelineMember,
  type TouchpointProcessor,
  type TouchpointProcessorOptions,
  type TouchpointOutcome,
} from './processor.ts';
export { createProcessorModule, defaultProcessorGroupId, type ProcessorModuleDeps } from './module.ts';
