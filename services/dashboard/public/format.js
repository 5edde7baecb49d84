// Pure helpers of the dashboard (no DOM), unit-tested in src/format.test.ts.

/**
 * The change of a figure against the previous period, as tile text and tone: `good`/`bad` when the figure has a
 * better direction and moved by more than half a percent, `flat` otherwise; no text when either side is unknown
 * or the previous value is 0 (no meaningful relative change).
 */
export function tileDelta(now, before, higherIsBetter) {
  if (now == null || before == null || before === 0) return { text: '', tone: 'flat' };
  const change = (now - before) / Math.abs(before);
  const text = `${change >= 0 ? '▲' : '▼'} ${Math.abs(change * 100).toFixed(1)} % vs previous period`;
  if (higherIsBetter === null || Math.abs(change) <= 0.005) return { text, tone: 'flat' };
  return { text, tone: change > 0 === higherIsBetter ? 'good' : 'bad' };
}

/** Hover text of a heat-map cell: its value against the target, in words. */
export function heatmapCellText(metric, cell) {
  const better = cell.direction === 'higher_is_better' ? 'at least' : 'at most';
  const value = cell.value == null ? 'no data' : String(Math.round(cell.value * 1000) / 1000);
  return `${metric}: ${value} · target ${better} ${cell.target} (warn ${cell.warn}) · ${cell.status.replace('_', ' ')}`;
}
