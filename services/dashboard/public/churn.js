// The overview's churn-risk panel (docs/architecture.md §22): the range's KPIs per customer's current churn-risk band
// (GET /v1/kpis?by=churn_risk), with the workspace's channel / journey filters: a band is the customer's, the
// figures are those of their touchpoints that the filters keep.
import { formatMetric, metricLabel } from './format.js';
import { api, dataTable, el, empty, fill, panel } from './ui.js';

const BAND_ORDER = ['high', 'medium', 'low', 'unscored'];
const FIGURES = ['events', 'unique_customers', 'nps', 'csat', 'abandonment_rate', 'negative_signal_rate'];

/** The panel and the promise of its content. */
export function churnRiskPanel(ctx) {
  const box = el('div', { id: 'churn-risk' });
  const section = panel('Experience by churn-risk band', box);
  const params = new URLSearchParams({ from: ctx.from, to: ctx.to, interval: 'day', by: 'churn_risk' });
  for (const f of ['channel', 'journey', 'persona', 'churn_risk']) if (ctx.view[f]) params.set(f, ctx.view[f]);
  const done = fill(box, 'the KPIs by churn-risk band', () => api(`/v1/kpis?${params}`), (res) => {
    if (!ctx.view.churn_risk && !res.totals.some((t) => t.key !== 'unscored')) {
      return empty('No customer has a churn-risk score yet: ./touchstream train --generate writes a model, and the processor scores every customer from their next touchpoint on.');
    }
    const rows = [...res.totals].sort((a, b) => BAND_ORDER.indexOf(a.key) - BAND_ORDER.indexOf(b.key));
    return dataTable('churn-risk', rows, [
      { key: 'key', label: 'Band' },
      ...FIGURES.map((f) => ({ key: f, label: metricLabel(f), num: true, format: (v) => formatMetric(f, v) })),
    ]);
  });
  return { section, done };
}
