export { createQueryModule } from './module.ts';
export { queryPlugin, type QueryDeps } from './plugin.ts';
export { queryKpis, kpiIntervalNames, kpiDimensionNames, type KpiInterval, type KpiDimension, type KpiBucket, type KpiFigures, type KpiResult, type KpiTotal } from './kpis.ts';
export { queryJourney, liveStateFromHash, type JourneyResult, type LiveState, type TimelineEntry, type SignalView } from './journey.ts';
export { queryAlerts, alertLevelNames, type AlertLevel, type AlertView } from './alerts.ts';
export { parseIsoToMicros, microsToIso } from './time.ts';
export { parseHeatmapTargets, heatmapMetricNames, defaultHeatmapTargets, type HeatmapTargets } from './heatmap.ts';
