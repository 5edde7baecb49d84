// Table names created by migrations/ (the query API and the sink share them).
export const tableNames = {
  touchpoints: 'touchpoints',
  signals: 'signals',
  alerts: 'alerts',
  touchpointAgg1m: 'touchpoint_agg_1m',
  signalAgg1m: 'signal_agg_1m',
  touchpointAgg1h: 'touchpoint_agg_1h',
  signalAgg1h: 'signal_agg_1h',
  touchpointAgg1d: 'touchpoint_agg_1d',
  signalAgg1d: 'signal_agg_1d',
  customerActivity1d: 'customer_activity_1d',
  annotations: 'annotations',
  customerErasures: 'customer_erasures',
  churnScores: 'churn_scores',
  profileUpdates: 'profile_updates',
  customerProfiles: 'customer_profiles',
  schemaMigrations: 'schema_migrations',
} as const;
