// Pure helpers of the dashboard (no DOM), unit-tested in src/kpi-summary.test.ts.

/**
 * Totals over the buckets when the API gives none. Counts add up; shares and means weighted by the count they
 * were computed from are exact (NPS and CSAT by answers, CES by answers, abandonment by outcomes, negative
 * signals by touchpoints). Distinct customers and quantiles cannot be combined from buckets: left unknown (null)
 * rather than shown wrong.
 */
export function summarize(buckets) {
  const sum = (f) => buckets.reduce((a, b) => a + (b[f] ?? 0), 0);
  const weighted = (f, w) => {
    const rows = buckets.filter((b) => b[f] != null && (b[w] ?? 0) > 0);
    const n = rows.reduce((a, b) => a + b[w], 0);
    return n ? rows.reduce((a, b) => a + b[f] * b[w], 0) / n : null;
  };
  return {
    events: sum('events'),
    unique_customers: null,
    nps: weighted('nps', 'nps_responses'),
    csat: weighted('csat', 'csat_responses'),
    ces_mean: weighted('ces_mean', 'ces_responses'),
    avg_handling_ms: null,
    p90_wait_ms: null,
    abandonment_rate: weighted('abandonment_rate', 'outcomes'),
    negative_signal_rate: weighted('negative_signal_rate', 'events'),
  };
}

/** Groups per-bucket breakdown rows by key and summarizes each group. */
export function breakdownRows(buckets) {
  const groups = new Map();
  for (const b of buckets) {
    const key = b.key ?? '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(b);
  }
  return [...groups].map(([key, rows]) => ({ key, ...summarize(rows) })).sort((a, b) => b.events - a.events);
}

