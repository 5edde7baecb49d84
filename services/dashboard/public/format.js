// Pure helpers of the workspace (no DOM), unit-tested in src/format.test.ts.

/**
 * The change of a figure against the previous period, as tile text and tone: `good`/`bad` when the figure has a
 * better direction and moved by more than half a percent, `flat` otherwise. Says so when there is no previous
 * figure to compare with, instead of leaving the line blank.
 */
export function tileDelta(now, before, higherIsBetter) {
  if (before == null) return { text: 'no data in the previous period', tone: 'flat' };
  if (now == null) return { text: 'no data in this period', tone: 'flat' };
  if (before === 0) return { text: 'previous period: 0', tone: 'flat' };
  const change = (now - before) / Math.abs(before);
  const text = `${change >= 0 ? '▲' : '▼'} ${Math.abs(change * 100).toFixed(1)} % vs previous period`;
  if (higherIsBetter === null || Math.abs(change) <= 0.005) return { text, tone: 'flat' };
  return { text, tone: change > 0 === higherIsBetter ? 'good' : 'bad' };
}

/** Readable names and units of the KPI and heat-map columns (units as /v1/kpis gives them). */
export const METRICS = {
  events: ['Touchpoints', 'count'],
  unique_customers: ['Customers', 'count'],
  nps: ['NPS', 'nps'],
  csat: ['CSAT (satisfied)', 'percent'],
  csat_mean: ['CSAT (mean, 1–5)', 'score'],
  ces_mean: ['Customer effort (mean)', 'score'],
  fcr: ['First-contact resolution', 'share'],
  avg_handling_ms: ['Handling time', 'ms'],
  avg_wait_ms: ['Wait (mean)', 'ms'],
  p90_wait_ms: ['Wait (p90)', 'ms'],
  abandonment_rate: ['Abandonment', 'share'],
  completion_rate: ['Journey completion', 'share'],
  sentiment_mean: ['Sentiment (−1…1)', 'score'],
  negative_signal_rate: ['Negative signals per 100 touchpoints', 'per100'],
  reaction_time_compliance: ['Reaction time within target', 'share'],
  reaction_time_p90_ms: ['Reaction time (p90, catalogued targets)', 'ms'],
  // The impact comparison's rates (0…1).
  csat_satisfied_share: ['CSAT satisfied share', 'share'],
  nps_promoter_share: ['NPS promoters', 'share'],
  nps_detractor_share: ['NPS detractors', 'share'],
};

export function metricLabel(metric) {
  return METRICS[metric]?.[0] ?? metric.replaceAll('_', ' ');
}

const units = {
  count: (v) => Intl.NumberFormat('en', { notation: Math.abs(v) >= 1e5 ? 'compact' : 'standard' }).format(v),
  share: (v) => `${(v * 100).toFixed(1)} %`,
  percent: (v) => `${v.toFixed(1)} %`,
  score: (v) => (Math.round(v * 100) / 100).toString(),
  ms: (v) => formatDuration(v),
  per100: (v) => v.toFixed(1),
  // −100…100: one decimal is as precise as a score read off a tile gets (−60.87 reads as noise).
  nps: (v) => (Math.round(v * 10) / 10).toString(),
};

/** A metric's value in its unit; '–' when there is none. */
export function formatMetric(metric, value) {
  if (value == null || Number.isNaN(value)) return '–';
  return units[METRICS[metric]?.[1] ?? 'score'](value);
}

/** 844662 → "14.1 min"; 950 → "950 ms". */
export function formatDuration(ms) {
  if (ms == null) return '–';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60e3) return `${(ms / 1e3).toFixed(1)} s`;
  if (a < 3600e3) return `${(ms / 60e3).toFixed(1)} min`;
  if (a < 86400e3) return `${(ms / 3600e3).toFixed(1)} h`;
  return `${(ms / 86400e3).toFixed(1)} d`;
}

/** Hover text of a heat-map cell: its value against the target, in words and units. */
export function heatmapCellText(metric, cell) {
  const better = cell.direction === 'higher_is_better' ? 'at least' : 'at most';
  return `${metricLabel(metric)}: ${formatMetric(metric, cell.value)} · target ${better} ${formatMetric(metric, cell.target)} (warn ${formatMetric(metric, cell.warn)}) · ${cell.status.replaceAll('_', ' ')}`;
}

/**
 * An explanation as the processor writes it, for people: raw milliseconds become durations, long doubles are
 * rounded, ISO stamps become local dates.
 */
export function readableExplanation(text, toLocal = (iso) => new Date(iso).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' })) {
  return String(text)
    .replace(/\b(\d+(?:\.\d+)?) ?ms\b/g, (_, n) => formatDuration(Number(n)))
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})/g, (iso) => toLocal(iso))
    .replace(/-?\d+\.\d{3,}/g, (n) => (Math.round(Number(n) * 100) / 100).toString());
}

/**
 * Buckets over [fromMs, toMs) every stepMs, with the API's buckets where they exist and zero counts elsewhere, so
 * an hour without touchpoints is drawn as 0 instead of a line across the gap.
 */
export function gapFill(buckets, fromMs, toMs, stepMs, fields) {
  const byStart = new Map(buckets.map((b) => [Math.floor(Date.parse(b.bucket) / stepMs) * stepMs, b]));
  const out = [];
  for (let t = Math.floor(fromMs / stepMs) * stepMs; t < toMs; t += stepMs) {
    const b = byStart.get(t);
    const row = { t };
    for (const f of fields) row[f] = b ? (b[f] ?? 0) : 0;
    out.push(row);
  }
  return out;
}

/** Rows of objects as RFC 4180 CSV (header from the columns), for the download buttons. */
export function toCsv(rows, columns) {
  const cell = (v) => {
    const s = v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns.map((c) => cell(c.csvLabel ?? c.label)).join(','), ...rows.map((r) => columns.map((c) => cell(c.csv ? c.csv(r) : r[c.key])).join(','))].join('\r\n') + '\r\n';
}

const DAY = 86400e3;
export const RANGES = { '1h': 3600e3, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY };

/**
 * The view as the URL carries it (page, range or custom from/to, channel, journey, persona, churn-risk band and page
 * parameters) and back:
 * a shared link restores the same view.
 */
export function viewFromSearch(search) {
  const p = new URLSearchParams(search);
  const view = { page: p.get('page') || 'overview', range: p.get('range') || '24h', from: p.get('from') || '', to: p.get('to') || '', channel: p.get('channel') || '', journey: p.get('journey') || '', persona: p.get('persona') || '', churn_risk: p.get('churn_risk') || '', params: {} };
  if (!RANGES[view.range] && view.range !== 'custom') view.range = '24h';
  for (const [k, v] of p) if (!['page', 'range', 'from', 'to', 'channel', 'journey', 'persona', 'churn_risk', 'key'].includes(k)) view.params[k] = v;
  return view;
}

export function searchFromView(view) {
  const p = new URLSearchParams({ page: view.page, range: view.range });
  if (view.range === 'custom') {
    if (view.from) p.set('from', view.from);
    if (view.to) p.set('to', view.to);
  }
  if (view.channel) p.set('channel', view.channel);
  if (view.journey) p.set('journey', view.journey);
  if (view.persona) p.set('persona', view.persona);
  if (view.churn_risk) p.set('churn_risk', view.churn_risk);
  for (const [k, v] of Object.entries(view.params)) if (v !== '' && v != null) p.set(k, v);
  return `?${p}`;
}

/** The absolute range of a view: custom dates, or the last `range` up to now. */
export function rangeOf(view, nowMs = Date.now()) {
  if (view.range === 'custom') {
    const from = Date.parse(view.from);
    const to = Date.parse(view.to);
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) return { fromMs: from, toMs: to };
  }
  return { fromMs: nowMs - (RANGES[view.range] ?? DAY), toMs: nowMs };
}

/** The bucket width for a range: minutes for an hour, hours up to 31 days, days beyond. */
export function intervalFor(spanMs) {
  if (spanMs <= 3 * 3600e3) return ['minute', 60e3];
  if (spanMs <= 31 * DAY) return ['hour', 3600e3];
  return ['day', DAY];
}

/** True for a KPI deviation alert (docs/architecture.md §21): raised by a series, not by a customer. */
export const isKpiAlert = (alert) => alert.triggered_by === 'kpi_anomaly';

/** The detector's metrics: name and unit of `observed` / `expected` (rates 0…1, waits in ms, volume per minute). */
export const KPI_ALERT_METRICS = {
  volume: ['Volume', 'perMinute'],
  abandonment_rate: ['Abandonment rate', 'share'],
  failure_rate: ['Failure rate', 'share'],
  negative_signal_rate: ['Share of touchpoints with a negative signal', 'share'],
  wait_p90: ['Wait (p90)', 'ms'],
  sentiment: ['Sentiment (−1…1)', 'score'],
  nps: ['NPS', 'nps'],
};

const kpiUnits = {
  perMinute: (v) => `${(Math.round(v * 10) / 10).toLocaleString('en')} touchpoints/min`,
  share: (v) => `${(v * 100).toFixed(1)} %`,
  ms: (v) => formatDuration(v),
  score: (v) => (Math.round(v * 100) / 100).toString(),
  nps: (v) => Math.round(v).toString(),
};

/** The figures of a KPI alert (its `kpi_anomaly_detail` signal, JSON), or null when it carries none. */
export function kpiAlertDetail(alert) {
  const detail = (alert.signals ?? []).find((s) => s.type === 'kpi_anomaly_detail');
  if (!detail) return null;
  try {
    return JSON.parse(detail.explanation);
  } catch {
    return null;
  }
}

/**
 * A KPI alert in words and units: `series` ("channel phone"), `metric` (its name), `observed`/`expected` in the
 * metric's unit, `change` ("+300 %"), `deviation` (score and side), `window` (local times), `contributions`
 * ("channel web (100 %)": the other dimensions' values that explain most of the deviation), and `text`, all of it in one sentence. Without the detail, the
 * detector's own explanation, made readable.
 */
export function kpiAlertSummary(alert, toLocalTime = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })) {
  const d = kpiAlertDetail(alert);
  const seriesOf = (id) => id.replace(/^kpi:/, '').replace('=', ' ');
  if (!d) {
    const finding = (alert.signals ?? []).find((s) => s.type === 'kpi_anomaly');
    const text = finding ? readableExplanation(finding.explanation) : `deviation score ${(Math.round(alert.score * 10) / 10).toFixed(1)}`;
    return { series: seriesOf(alert.customer_id), metric: '', observed: '', expected: '', change: '', deviation: '', window: '', contributions: [], text };
  }
  const [label, unit] = KPI_ALERT_METRICS[d.metric] ?? [d.metric.replaceAll('_', ' '), 'score'];
  const fmt = kpiUnits[unit];
  const series = `${d.dimension} ${d.value}`;
  const observed = fmt(d.observed);
  const expected = fmt(d.expected);
  const change = d.change == null ? '' : `${d.change >= 0 ? '+' : '−'}${Math.abs(d.change * 100).toFixed(0)} %`;
  const deviation = `deviation score ${Math.abs(d.deviation).toFixed(1)} (${d.deviation >= 0 ? 'above' : 'below'} expected)`;
  const start = Date.parse(d.window_start);
  const end = Date.parse(d.window_end);
  const window = `${d.window_minutes} min, ${toLocalTime(start)}–${toLocalTime(end)}`;
  const contributions = (d.contributions ?? []).map((c) => `${c.dimension} ${c.value} (${Math.round(c.share * 100)} %)`);
  const text = `${label} at ${series}: ${observed} observed against ${expected} expected${change ? ` (${change})` : ''}, ${deviation}, over ${window}` +
    (contributions.length ? `. Most of the deviation: ${contributions.join(', ')}.` : '.');
  return { series, metric: label, observed, expected, change, deviation, window, contributions, text };
}
