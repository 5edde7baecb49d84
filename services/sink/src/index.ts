export { createSinkModule, createSinkBatchHandler, type SinkDeps, type ClickHouseHealth } from './module.ts';
export {
  rowsFor,
  dedupTokenFor,
  tableFor,
  withoutStored,
  findStored,
  storedKey,
  defaultSinkTopics,
  type SinkTable,
  type SinkTopics,
  type BatchPlan,
  type PlannedRow,
} from './batch.ts';
export {
  touchpointRow,
  signalRow,
  alertRow,
  UnstorableRecordError,
  type KafkaOrigin,
  type TouchpointRow,
  type SignalRow,
  type AlertRow,
  type AlertSignalRow,
} from './rows.ts';
