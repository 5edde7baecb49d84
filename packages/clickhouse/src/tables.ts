// Table names created by migrations/ (the query API and the sink share them).
export const tableNames = {
  touchpoints: 'touchpoints',
  signals: 'signals',
  alerts: 'alerts',
  touchpointAgg1m: 'touchpoint_agg_1m',
  signalAgg1m: 'signal_agg_1m',
  schemaMigrations: 'schema_migrations',
} as const;
