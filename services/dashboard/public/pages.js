// The workspace's pages. Each renders into `main` from the query API with the global filters of `ctx`: every
// analysis endpoint takes `channel` and `journey`, and each page says in a note what the filter keeps there. The
// persona and churn-risk filters (customer segments) reach every analysis but the touchpoint inventory and the live alert
// feed; those pages say so.
import { formatDuration, formatMetric, gapFill, heatmapCellText, intervalFor, isKpiAlert, kpiAlertDetail, kpiAlertSummary, metricLabel, readableExplanation, tileDelta } from './format.js';
import { api, session, chart, csvButton, dataTable, el, empty, fill, fmtTime, num, panel, pct } from './ui.js';
import { churnRiskPanel } from './churn.js';

const q = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v !== '' && v != null)).toString();
const range = (ctx) => ({ from: ctx.from, to: ctx.to });
/** The global channel/journey filter as query parameters ('' when unset; `q` drops those). */
const scope = (ctx) => ({ channel: ctx.view.channel, journey: ctx.view.journey });
const scopeText = (ctx) => [ctx.view.channel && `channel ${ctx.view.channel}`, ctx.view.journey && `journey ${ctx.view.journey}`].filter(Boolean).join(' and ');
/** A note saying what the filter keeps on this page (`what`: e.g. "only touchpoints on it make the paths"). */
const filterNote = (ctx, what) => (ctx.view.channel || ctx.view.journey ? el('p', { class: 'note filter-note' }, `Filtered to ${scopeText(ctx)}: ${what}.`) : null);
/**
 * The customer-segment filters as query parameters, for the analyses that take them: the persona (docs/architecture.md
 * §20.6) and the churn-risk band (§22).
 */
const segmentScope = (ctx) => ({ ...(ctx.view.persona ? { persona: ctx.view.persona } : {}), ...(ctx.view.churn_risk ? { churn_risk: ctx.view.churn_risk } : {}) });
const segmentText = (ctx) => [ctx.view.persona && `Persona ${ctx.view.persona}`, ctx.view.churn_risk && `churn-risk band ${ctx.view.churn_risk}`].filter(Boolean).join(', ');
/** What the segment filters keep on this page (`what`), or that they do not apply here (no `what`). */
const segmentNote = (ctx, what) => (ctx.view.persona || ctx.view.churn_risk
  ? el('p', { class: 'note filter-note persona-note' }, what ? `${segmentText(ctx)}: ${what}.` : `The customer filter (${segmentText(ctx)}) does not apply on this page: it shows every customer.`)
  : null);

const TILES = [
  ['events', null], ['unique_customers', null], ['nps', true], ['csat', true], ['ces_mean', false], ['fcr', true],
  ['avg_handling_ms', false], ['p90_wait_ms', false], ['abandonment_rate', false], ['completion_rate', true], ['negative_signal_rate', false],
];

/** KPIs for the global filters: /v1/kpis applies channel and journey together. */
async function kpisFor(ctx, interval) {
  const res = await api(`/v1/kpis?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), interval })}`);
  return { res, total: res.totals[0], buckets: res.buckets };
}

/** KPI deviation alerts (GET /v1/alerts?kind=kpi) of the range and filters, oldest first. */
async function kpiAlertsFor(ctx) {
  const res = await api(`/v1/alerts?${q({ ...range(ctx), ...scope(ctx), kind: 'kpi', limit: 500 })}`);
  return res.alerts.reverse();
}

const LEVEL_COLOURS = { watch: '#e0a100', at_risk: '#e06a00', critical: '#c8372d' };

function overview(main, ctx) {
  const [interval, stepMs] = intervalFor(ctx.toMs - ctx.fromMs);
  const tiles = el('section', { class: 'tiles', 'aria-label': 'KPIs over the range', id: 'tiles' });
  const series = el('div');
  const kpiAlerts = el('div', { id: 'kpi-alerts' });
  const churn = churnRiskPanel(ctx);
  const byPersona = el('div', { id: 'kpis-by-persona' });
  main.append(...[filterNote(ctx, 'every KPI, the series and the annotations count only its touchpoints, signals and contacts'),
    segmentNote(ctx, 'only the touchpoints, signals and contacts of its customers count'), tiles, panel('By persona', byPersona),
    panel(`Touchpoints and negative signals per ${interval}`, series), panel('KPI deviation alerts', kpiAlerts), churn.section].filter(Boolean));
  const what = scopeText(ctx);
  // One request each, shared by the panels that show them.
  const kpis = kpisFor(ctx, interval);
  const alerts = kpiAlertsFor(ctx);
  return Promise.all([
    churn.done,
    fill(tiles, 'KPIs', () => kpis, ({ total }) => {
      if (!total) return empty(`No touchpoints in this range${what ? ` for ${what}` : ''}: widen the range or clear the filter.`);
      return TILES.map(([field, higherIsBetter]) => {
        const now = total[field] ?? null;
        const { text, tone } = tileDelta(now, total.previous?.[field] ?? null, higherIsBetter);
        return el('div', { class: 'tile', dataset: { metric: field } },
          el('div', { class: 'label' }, metricLabel(field)),
          el('div', { class: 'value' }, formatMetric(field, now)),
          el('div', { class: `delta ${tone}` }, text));
      });
    }),
    fill(series, 'the time series', async () => {
      const [{ buckets }, notes, kpiAlertList] = await Promise.all([kpis, api(`/v1/annotations?${q({ ...range(ctx), ...scope(ctx) })}`), alerts]);
      return { buckets, annotations: notes.annotations, alerts: kpiAlertList };
    }, ({ buckets, annotations, alerts }) => {
      const rows = gapFill(buckets, ctx.fromMs, ctx.toMs, stepMs, ['events', 'signals']);
      if (!buckets.length) return empty(`No touchpoints in this range${what ? ` for ${what}` : ''}: widen the range, clear a filter, or start demo traffic (./touchstream up).`);
      const marks = annotations.map((a) => ({ xAxis: Date.parse(a.at), name: a.title, label: { formatter: a.title } }));
      // A KPI alert is pinned on the touchpoints line at its bucket, coloured by level; its words are in the tooltip.
      const eventsAt = new Map(rows.map((r) => [r.t, r.events]));
      const pins = alerts.map((a) => {
        const t = Date.parse(a.at);
        const s = kpiAlertSummary(a);
        return { coord: [t, eventsAt.get(Math.floor(t / stepMs) * stepMs) ?? 0], value: '!', name: s.text, itemStyle: { color: LEVEL_COLOURS[a.level] ?? LEVEL_COLOURS.at_risk } };
      });
      return [
        chart({
          tooltip: { trigger: 'axis' },
          legend: { top: 0 },
          grid: { left: 60, right: 60, top: 40, bottom: 70 },
          xAxis: { type: 'time', min: ctx.fromMs, max: ctx.toMs },
          yAxis: [
            { type: 'value', name: 'touchpoints', nameLocation: 'middle', nameGap: 45, minInterval: 1 },
            { type: 'value', name: 'negative signals', nameLocation: 'middle', nameGap: 40, minInterval: 1, splitLine: { show: false } },
          ],
          dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 10 }],
          series: [
            { name: 'touchpoints', type: 'line', showSymbol: false, areaStyle: { opacity: 0.1 }, data: rows.map((r) => [r.t, r.events]),
              markLine: marks.length ? { symbol: 'none', lineStyle: { color: '#7a4fd6', type: 'dashed' }, data: marks } : undefined,
              markPoint: pins.length ? { symbol: 'pin', symbolSize: 34, label: { color: '#fff', fontWeight: 'bold' }, tooltip: { trigger: 'item', formatter: (p) => p.name }, data: pins } : undefined },
            { name: 'negative signals', type: 'line', yAxisIndex: 1, showSymbol: false, data: rows.map((r) => [r.t, r.signals]) },
          ],
        }, `Touchpoints and negative signals per ${interval}; ${annotations.length} annotations and ${alerts.length} KPI deviation alerts marked`),
        el('p', { class: 'note', id: 'series-note' }, `${rows.length} ${interval}s; those without touchpoints count as 0. Annotations (dashed): ${annotations.map((a) => a.title).join(', ') || 'none in this range'}. ` +
          `KPI deviation alerts (pins, listed below): ${alerts.length || 'none in this range'}. Drag the slider to zoom into a burst.`),
      ];
    }),
    fill(kpiAlerts, 'KPI deviation alerts', () => alerts, (list) => kpiAlertTable(ctx, list)),
    personaKpis(byPersona, ctx),
  ]);
}

/** The Overview's table of KPI deviation alerts (also pinned on the time axis), newest first. */
function kpiAlertTable(ctx, alerts) {
  const rows = alerts.slice().reverse().map((a) => ({ ...a, summary: kpiAlertSummary(a) }));
  const { channel, journey } = ctx.view;
  const note = channel || journey
    ? el('p', { class: 'note filter-note' }, `Filtered to ${scopeText(ctx)}: the alerts of its own series. A series is one channel, journey or touchpoint` +
      (channel && journey ? ', so with both a channel and a journey chosen none is shown: clear one of them to see the other\'s.' : '.'))
    : null;
  return [note, dataTable('kpi-alerts', rows, [
    { key: 'at', label: 'When', cell: (a) => el('span', { class: 'nowrap' }, shortTime(a.at)) },
    { key: 'level', label: 'Level', format: (v) => v.replace('_', ' ') },
    { key: 'series', label: 'Series', csv: (a) => a.summary.series, cell: (a) => a.summary.series },
    { key: 'metric', label: 'Metric', csv: (a) => a.summary.metric, cell: (a) => a.summary.metric || '–' },
    { key: 'observed', label: 'Observed', num: true, csv: (a) => kpiAlertDetail(a)?.observed ?? '', cell: (a) => el('span', { class: 'nowrap' }, a.summary.observed || '–') },
    { key: 'expected', label: 'Expected', num: true, csv: (a) => kpiAlertDetail(a)?.expected ?? '', cell: (a) => el('span', { class: 'nowrap' }, a.summary.expected || '–') },
    { key: 'change', label: 'Change', num: true, csv: (a) => kpiAlertDetail(a)?.change ?? '', cell: (a) => el('span', { class: 'nowrap' }, a.summary.change || '–') },
    { key: 'score', label: 'Deviation score', num: true, format: (v) => Math.abs(v).toFixed(1) },
    { key: 'contributions', label: 'Most of the deviation', csv: (a) => a.summary.contributions.join('; '), cell: (a) => a.summary.contributions.join(', ') || '–' },
  ], { emptyText: 'No KPI deviation alert in this range. They are raised when a touchpoint, channel or journey departs from its usual level (rules file, anomalies: enabled; README “KPI deviation alerts”).', rowAttrs: (a) => ({ dataset: { alert: a.alert_id } }) })];
}

const PERSONA_COLUMNS = ['events', 'unique_customers', 'nps', 'csat', 'fcr', 'abandonment_rate', 'negative_signal_rate', 'reaction_time_compliance'];

/** The KPIs per persona over the range (GET /v1/kpis?by=persona), with the change against the previous period. */
function personaKpis(box, ctx) {
  return fill(box, 'the KPIs by persona', async () => {
    try {
      return await api(`/v1/kpis?${q({ ...range(ctx), interval: 'day', by: 'persona', ...segmentScope(ctx) })}`);
    } catch (err) {
      if (/PERSONAS_FILE/.test(err.message)) return null;
      throw err;
    }
  }, (res) => {
    if (!res) return empty('No personas are configured: set PERSONAS_FILE to a personas file (README: Personas) and send customer profiles.');
    if (!res.totals.length) return empty('No touchpoints in this range: widen the range.');
    return [
      el('p', { class: 'note' }, 'Each customer\'s persona as the personas file decides it now, from their latest profile; customers without a profile count under the fallback persona.'),
      dataTable('kpis-by-persona', res.totals, [
        { key: 'key', label: 'Persona' },
        ...PERSONA_COLUMNS.map((m) => ({ key: m, label: metricLabel(m), num: true, format: (v) => formatMetric(m, v),
          cell: (t) => el('span', { title: tileDelta(t[m], t.previous?.[m] ?? null, null).text }, formatMetric(m, t[m])) })),
      ], { rowAttrs: (t) => ({ dataset: { persona: t.key } }) }),
    ];
  });
}

const STATUS = [['ok', 'on target', '#d4eddf'], ['warn', 'between target and warning', '#fbeec2'], ['bad', 'worse than warning', '#f6d2ce'], ['no_data', 'no data', '#e8eaef']];

function journeys(main, ctx) {
  const box = el('div');
  const drill = el('div', { id: 'drill' });
  const inventory = el('div', { id: 'inventory' });
  const evaluation = el('div', { id: 'evaluation' });
  // Rows per stage (default), per persona (docs/architecture.md §20.6) or per churn-risk band (§22).
  const rows = ['persona', 'churn_risk'].includes(ctx.view.params.rows) ? ctx.view.params.rows : 'stage';
  const bySegment = rows !== 'stage';
  const ROW_LABEL = { stage: 'Stage', persona: 'Persona', churn_risk: 'Churn-risk band' };
  const rowKey = (row) => (rows === 'stage' ? row.stage : row[rows]);
  const form = el('form', { class: 'inline', 'aria-label': 'Heat map rows' },
    el('label', {}, 'Rows', el('select', { name: 'rows' }, [['stage', 'journey stage'], ['persona', 'persona'], ['churn_risk', 'churn-risk band']].map(([v, l]) => el('option', { value: v, selected: v === rows }, l)))),
    el('button', {}, 'Show'));
  form.addEventListener('submit', (e) => { e.preventDefault(); ctx.setParams({ rows: new FormData(form).get('rows') }); });
  main.append(panel({ stage: 'Journey stages against targets', persona: 'Personas against targets', churn_risk: 'Churn-risk bands against targets (no FCR or reaction time per band)' }[rows], filterNote(ctx, 'only its touchpoints, signals and contacts count'),
    segmentNote(ctx, 'only the touchpoints, signals and contacts of its customers count, in the drill-down too (the inventory and the evaluation show every customer)'), form, box),
    panel('Behind a cell', drill), panel('Touchpoint inventory', inventory), panel('Pain points and bright spots', evaluation));
  drill.append(empty(bySegment ? 'The drill-down is by stage: switch the rows to journey stage to open a cell.' : 'Choose a cell (click, or Tab to it and press Enter) to see the touchpoints of that stage and their customers.'));
  // The inventory is read once: its rows also say which touchpoints a channel/journey filter keeps in the evaluation.
  const inv = api(`/v1/touchpoints?${q(range(ctx))}`);
  return Promise.all([touchpointInventory(inventory, ctx, inv), touchpointEvaluation(evaluation, ctx, inv), fill(box, 'the heat map', () => api(`/v1/heatmap?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), rows })}`), (heat) => {
    if (!heat.rows.length) return empty('No touchpoints in this range: widen the range.');
    const metrics = heat.metrics.map((m) => m.metric);
    const legend = el('div', { class: 'legend', 'aria-label': 'Colours' }, STATUS.map(([, label, c]) => el('span', { style: `--c:${c}` }, label)));
    const table = el('table', { class: 'heat', dataset: { table: 'heatmap' } },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ROW_LABEL[rows]), metrics.map((m) => {
        const t = heat.metrics.find((x) => x.metric === m);
        return el('th', { scope: 'col', title: `target ${t.direction === 'higher_is_better' ? '≥' : '≤'} ${formatMetric(m, t.target)}` }, metricLabel(m));
      }))),
      el('tbody', {}, heat.rows.map((row) => el('tr', { dataset: { [rows === 'churn_risk' ? 'band' : rows]: rowKey(row) } }, el('th', { scope: 'row' }, rowKey(row) || '(no stage)'), metrics.map((m) => {
        const cell = row.cells[m];
        const name = rowKey(row) || 'no stage';
        // Persona and band rows are not opened: the drill-down is per stage.
        const open = bySegment ? {} : {
          tabindex: 0, role: 'button',
          onclick: () => drillDown(drill, ctx, row.stage, m),
          onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); drillDown(drill, ctx, row.stage, m); } },
        };
        return el('td', {
          class: `cell ${cell?.status ?? 'no_data'}`, title: cell ? heatmapCellText(m, cell) : 'no data',
          'aria-label': `${name}, ${cell ? heatmapCellText(m, cell) : 'no data'}`, ...open,
        }, formatMetric(m, cell?.value));
      })))));
    const csvRows = heat.rows.map((r) => ({ [rows]: rowKey(r), ...Object.fromEntries(metrics.map((m) => [m, r.cells[m]?.value])) }));
    return [el('div', { class: 'panel-head' }, legend, csvButton('heatmap', csvRows, [{ key: rows, label: rows }, ...metrics.map((m) => ({ key: m, label: m }))])),
      el('div', { class: 'scroll' }, table)];
  })]);
}

/** "4 Dec 15:42" (the year only when not this year; the time alone when on the same day as `sameDayAs`). */
function shortTime(iso, sameDayAs) {
  const d = new Date(iso);
  if (sameDayAs && new Date(sameDayAs).toDateString() === d.toDateString()) return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', ...(d.getFullYear() === new Date().getFullYear() ? {} : { year: 'numeric' }), hour: '2-digit', minute: '2-digit' });
}

const FLAGS = {
  uncatalogued: ['uncatalogued', 'Seen in the data but missing from the catalogue: add it to the catalogue file.'],
  no_traffic: ['no traffic', 'Catalogued, but not seen in this range.'],
  channel_mismatch: ['other channel', 'Seen, but never on its catalogued channel.'],
};

/**
 * The touchpoint inventory (GET /v1/touchpoints): the catalogue merged with the data. The endpoint takes no
 * channel/journey filter (it is the catalogue's view); with one set, the rows are the touchpoints catalogued for or
 * seen on that channel, catalogued for that journey, and the note says their figures cover every channel.
 */
/** The inventory rows a channel/journey filter keeps: catalogued for (or seen on) the channel, catalogued for the journey. */
function inventoryInScope(ctx, inv) {
  const { channel, journey } = ctx.view;
  return inv.touchpoints.filter((t) => (!channel || t.channel === channel || t.channels_seen.includes(channel)) && (!journey || t.journey === journey));
}

function touchpointInventory(box, ctx, inventory) {
  return fill(box, 'the touchpoint inventory', () => inventory, (inv) => {
    const { channel, journey } = ctx.view;
    const rows = inventoryInScope(ctx, inv);
    const parts = [];
    if (!inv.catalogue) {
      parts.push(empty('No touchpoint catalogue is configured: set TOUCHPOINTS_FILE to a catalogue file (YAML or JSON, like touchpoints/demo.yaml) and restart the query service; it is reloaded on change after that. Until then every touchpoint seen is listed as not in the catalogue.'));
      if (!rows.length) return parts;
    } else {
      const s = inv.summary;
      parts.push(el('p', { id: 'inventory-summary' }, `Catalogue ${inv.catalogue.file} (version ${inv.catalogue.version}): ${s.catalogued} catalogued, ${s.seen} seen in the range; ${s.uncatalogued} not in the catalogue, ${s.no_traffic} without traffic, ${s.channel_mismatch} on another channel than catalogued.`));
    }
    if (channel || journey) parts.push(el('p', { class: 'note filter-note' }, `Filtered to ${scopeText(ctx)}: touchpoints catalogued for${channel ? ' or seen on' : ''} it; their figures cover every channel.`));
    const rt = (t) => t.reaction_time;
    const seen = (t) => (t.first_seen ? `${shortTime(t.first_seen)} – ${shortTime(t.last_seen, t.first_seen)}` : '–');
    parts.push(dataTable('touchpoints', rows, [
      { key: 'touchpoint', label: 'Touchpoint', cell: (t) => el('span', { title: t.description ?? 'not in the catalogue' }, t.touchpoint) },
      { key: 'catalogue', label: 'Catalogued as', csv: (t) => t.channel ?? '', csvLabel: 'channel',
        cell: (t) => (t.catalogued ? [el('div', {}, `${t.channel} · ${t.stage}`), el('small', { class: 'note' }, `${t.owner} · ${t.layer.replace('_', ' ')}${t.journey ? ` · ${t.journey}` : ''}`)] : '–') },
      { key: 'stage', label: 'stage', csvOnly: true }, { key: 'owner', label: 'owner', csvOnly: true }, { key: 'layer', label: 'layer', csvOnly: true },
      { key: 'journey', label: 'journey', csvOnly: true }, { key: 'description', label: 'description', csvOnly: true },
      { key: 'events', label: 'Touchpoints', num: true, format: (v) => formatMetric('events', v) },
      { key: 'customers', label: 'Customers', num: true, format: (v) => formatMetric('events', v) },
      { key: 'seen', label: 'Seen (first – last)', cell: (t) => el('span', { class: 'nowrap' }, seen(t)), csv: (t) => t.first_seen ?? '', csvLabel: 'first_seen' },
      { key: 'last_seen', label: 'last_seen', csvOnly: true },
      { key: 'channels_seen', label: 'Seen on', format: (v) => v.join(', ') || '–', csv: (t) => t.channels_seen.join(' ') },
      { key: 'target', label: 'Reaction target', num: true, cell: (t) => formatDuration(rt(t).target_ms), csv: (t) => rt(t).target_ms ?? '', csvLabel: 'reaction_target_ms' },
      { key: 'share_met', label: 'Within target', num: true, csv: (t) => rt(t).share_met ?? '',
        cell: (t) => (rt(t).share_met == null ? '–' : [el('div', { class: 'nowrap' }, pct(rt(t).share_met)), el('small', { class: 'note nowrap' }, `of ${rt(t).measured.toLocaleString('en')} waits`)]) },
      { key: 'p90', label: 'Wait p90', num: true, cell: (t) => el('span', { class: 'nowrap' }, formatDuration(rt(t).p90_ms)), csv: (t) => rt(t).p90_ms ?? '', csvLabel: 'wait_p90_ms' },
      { key: 'trend', label: 'Trend', num: true, csv: (t) => rt(t).trend ?? '',
        cell: (t) => (rt(t).trend == null ? '–' : el('span', { class: `nowrap ${rt(t).trend > 0 ? 'yes' : rt(t).trend < 0 ? 'worse' : 'no'}`, title: `previous range: ${pct(rt(t).share_met_previous)}` },
          `${rt(t).trend > 0 ? '▲ +' : rt(t).trend < 0 ? '▼ −' : ''}${(Math.abs(rt(t).trend) * 100).toFixed(1)} pts`)) },
      { key: 'flags', label: 'Flags', csv: (t) => t.flags.join(' '),
        cell: (t) => (t.flags.length ? t.flags.map((f) => el('span', { class: `flag ${f}`, title: FLAGS[f]?.[1] ?? f }, FLAGS[f]?.[0] ?? f)) : '–') },
    ], { emptyText: `No touchpoint ${channel || journey ? `of ${scopeText(ctx)} ` : ''}is catalogued or seen in this range: widen the range or clear the filter.`, rowAttrs: (t) => ({ dataset: { touchpoint: t.touchpoint } }) }));
    return parts;
  });
}

/** The evaluation's figures: name, how a value reads, which way is better. */
const EVALUATION = {
  sentiment: ['Sentiment (−1…1)', (v) => num(v, 2), true],
  csat: ['CSAT satisfied', (v) => pct(v), true],
  ces: ['Customer effort (1–7)', (v) => num(v, 2), false],
  nps: ['NPS', (v) => num(v, 0), true],
  negative_signal_rate: ['Contacts with a negative signal', (v) => pct(v), false],
};
const evaluationValue = (metric, v) => (v == null ? '–' : EVALUATION[metric][1](v));
const evaluationInterval = (metric, ci) => (ci ? `${evaluationValue(metric, ci[0])} – ${evaluationValue(metric, ci[1])}` : '–');

/**
 * Pain points and bright spots (GET /v1/touchpoints/evaluation): per touchpoint its sentiment, the surveys answered
 * after it and the share of its contacts that raised a signal, each with a 95 % interval; judged against all
 * touchpoints. The endpoint has no channel/journey filter: with one set, the touchpoints the inventory keeps.
 */
function touchpointEvaluation(box, ctx, inventory) {
  const minSample = /^\d+$/.test(ctx.view.params.min_sample ?? '') ? ctx.view.params.min_sample : '';
  const form = el('form', { class: 'inline', 'aria-label': 'Evaluation settings' },
    el('label', {}, 'Judge a figure from (observations)', el('input', { name: 'min_sample', type: 'number', min: 2, max: 100000, value: minSample || 30 })),
    el('button', {}, 'Evaluate'));
  form.addEventListener('submit', (e) => { e.preventDefault(); ctx.setParams({ min_sample: new FormData(form).get('min_sample') }); });
  const out = el('div');
  box.replaceChildren(form, out);
  return fill(out, 'the evaluation', () => Promise.all([api(`/v1/touchpoints/evaluation?${q({ ...range(ctx), min_sample: minSample })}`), inventory]), ([ev, inv]) => {
    const filtered = Boolean(ctx.view.channel || ctx.view.journey);
    const kept = new Set(inventoryInScope(ctx, inv).map((t) => t.touchpoint));
    const inScope = (name) => !filtered || kept.has(name);
    const rows = ev.touchpoints.filter((t) => inScope(t.touchpoint));
    if (!ev.touchpoints.length) return empty('No touchpoints (other than surveys) in this range: widen the range.');
    const b = ev.baseline;
    const parts = [
      el('p', { id: 'evaluation-baseline' }, `Over all touchpoints: sentiment ${evaluationValue('sentiment', b.sentiment)}, CSAT ${evaluationValue('csat', b.csat)} satisfied, ` +
        `effort ${evaluationValue('ces', b.ces)}, NPS ${evaluationValue('nps', b.nps)}, ${evaluationValue('negative_signal_rate', b.negative_signal_rate)} of contacts with a negative signal. ` +
        `A survey counts for the last touchpoint before it within ${ev.survey_window_ms % 3600e3 === 0 ? `${ev.survey_window_ms / 3600e3} h` : formatDuration(ev.survey_window_ms)} (${ev.uncredited_surveys.toLocaleString('en')} followed none). ` +
        `A figure is judged from ${ev.min_sample} observations: a pain point when its whole 95 % interval is worse than over all touchpoints, a bright spot when it is better.`),
      filtered ? el('p', { class: 'note filter-note' }, `Filtered to ${scopeText(ctx)}: the touchpoints the inventory keeps; their figures and the comparison cover every channel.`) : null,
    ];
    const judgements = (name, list, emptyText) => {
      const shown = list.filter((j) => inScope(j.touchpoint));
      return [el('h3', {}, name === 'pain-points' ? 'Pain points (worst first)' : 'Bright spots (best first)'), dataTable(name, shown, [
        { key: 'touchpoint', label: 'Touchpoint' },
        { key: 'metric', label: 'Figure', format: (m) => EVALUATION[m]?.[0] ?? m },
        { key: 'value', label: 'Value', num: true, format: (v, j) => evaluationValue(j.metric, v) },
        { key: 'ci95', label: '95 % interval', num: true, cell: (j) => el('span', { class: 'nowrap' }, evaluationInterval(j.metric, j.ci95)), csv: (j) => j.ci95.join(' ') },
        { key: 'baseline', label: 'All touchpoints', num: true, format: (v, j) => evaluationValue(j.metric, v) },
        { key: 'n', label: 'Observations', num: true, format: (v) => v.toLocaleString('en') },
        { key: 'gap', label: 'Clear gap (share of the scale)', num: true, format: (v) => pct(v) },
      ], { emptyText, rowAttrs: (j) => ({ dataset: { touchpoint: j.touchpoint, metric: j.metric } }) })];
    };
    parts.push(...judgements('pain-points', ev.pain_points, `No pain point${filtered ? ` among the touchpoints of ${scopeText(ctx)}` : ''}: no figure with ${ev.min_sample} observations is clearly worse than over all touchpoints.`));
    parts.push(...judgements('bright-spots', ev.bright_spots, `No bright spot${filtered ? ` among the touchpoints of ${scopeText(ctx)}` : ''}: no figure with ${ev.min_sample} observations is clearly better than over all touchpoints.`));
    const figure = (metric) => ({
      key: metric, label: EVALUATION[metric][0], num: true, csv: (t) => t[metric].value ?? '',
      cell: (t) => {
        const f = t[metric];
        if (f.value == null) return '–';
        return [el('div', { class: 'nowrap' }, evaluationValue(metric, f.value)), el('small', { class: 'note nowrap', title: '95 % interval' }, `${evaluationInterval(metric, f.ci95)} · n ${f.n.toLocaleString('en')}`)];
      },
    });
    parts.push(el('h3', {}, 'Every touchpoint'), dataTable('evaluation', rows, [
      { key: 'touchpoint', label: 'Touchpoint' },
      { key: 'stage', label: 'Stage', format: (v) => v ?? '–' },
      { key: 'channel', label: 'Channel', format: (v) => v ?? '–' },
      { key: 'contacts', label: 'Contacts', num: true, format: (v) => formatMetric('events', v) },
      ...Object.keys(EVALUATION).map(figure),
    ], { emptyText: `No touchpoint of ${scopeText(ctx)} in this range: widen the range or clear the filter.`, rowAttrs: (t) => ({ dataset: { touchpoint: t.touchpoint } }) }));
    return parts;
  });
}

async function drillDown(box, ctx, stage, metric) {
  await fill(box, `touchpoints of ${stage}`, () => api(`/v1/heatmap/cell?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), limit: 25 })}&${new URLSearchParams({ stage, metric })}`), (cell) => [
    el('p', {}, `${metricLabel(metric)} of stage “${stage || '(no stage)'}” is computed from these touchpoints (${cell.touchpoints.length} kinds) and the ${cell.customers.length} customers seen last.`),
    dataTable(`cell-${stage}-${metric}-touchpoints`, cell.touchpoints, [
      { key: 'touchpoint', label: 'Touchpoint' }, { key: 'channel', label: 'Channel' }, { key: 'events', label: 'Touchpoints', num: true },
      { key: 'customers', label: 'Customers', num: true },
    ]),
    dataTable(`cell-${stage}-${metric}-customers`, cell.customers, [
      { key: 'customer_id', label: 'Customer', cell: (r) => customerLink(ctx, r.customer_id) },
      { key: 'events', label: 'Touchpoints', num: true }, { key: 'last_at', label: 'Last seen', format: fmtTime },
    ]),
  ]);
}

const customerLink = (ctx, id) => el('a', { href: `?page=customer&customer=${encodeURIComponent(id)}`, onclick: (e) => { e.preventDefault(); ctx.navigate({ page: 'customer', params: { customer: id } }); } }, id);

function funnels(main, ctx) {
  const p = ctx.view.params;
  const form = el('form', { class: 'inline', 'aria-label': 'Funnel definition' },
    el('label', {}, 'Steps (touchpoints, comma-separated, 2–10)', el('input', { name: 'steps', size: 60, value: p.steps || 'verification_start_page,document_upload,verification_confirmed_sms', required: true })),
    el('label', {}, 'Window', el('input', { name: 'window', size: 5, value: p.window || '7d', pattern: '[0-9]+[smhd]' })),
    el('label', {}, 'Ordering', el('select', { name: 'order' }, [['ordered', 'in this order'], ['unordered', 'in any order']].map(([o, text]) => el('option', { value: o, selected: (p.order || 'ordered') === o }, text)))),
    el('label', {}, 'Exclude touchpoints', el('input', { name: 'exclude', value: p.exclude || '' })),
    el('label', {}, 'Break down by', el('select', { name: 'breakdown' }, BREAKDOWNS.map(([b, text]) => el('option', { value: b, selected: (p.breakdown || '') === b }, text)))),
    el('button', { class: 'primary' }, 'Run funnel'));
  const out = el('div');
  const dropped = el('div');
  main.append(panel('Funnel', form, out), panel('Dropped customers', dropped));
  dropped.append(empty('Choose “Who dropped?” on a step to list its customers and the path they took next.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    ctx.setParams({ steps: f.get('steps'), window: f.get('window'), order: f.get('order'), exclude: f.get('exclude'), breakdown: f.get('breakdown') });
  });
  const matcher = (touchpoint) => ({ touchpoint, ...(ctx.view.channel ? { channel: ctx.view.channel } : {}), ...(ctx.view.journey ? { journey: ctx.view.journey } : {}) });
  const body = {
    ...range(ctx),
    steps: (p.steps || 'verification_start_page,document_upload,verification_confirmed_sms').split(',').map((s) => s.trim()).filter(Boolean).map(matcher),
    window: p.window || '7d',
    order: p.order || 'ordered',
    ...(p.exclude ? { exclusions: p.exclude.split(',').map((s) => s.trim()).filter(Boolean).map(matcher) } : {}),
    ...segmentScope(ctx),
  };
  const breakdown = BREAKDOWNS.some(([b]) => b && b === p.breakdown) ? p.breakdown : '';
  return fill(out, 'the funnel', () => api('/v1/funnels', { method: 'POST', body: { ...body, ...(breakdown ? { breakdown } : {}) } }), (res) => {
    if (!res.steps[0]?.customers) return empty('Nobody reached step 1 in this range: check the touchpoint names or widen the range.');
    return [
      (ctx.view.channel || ctx.view.journey) ? el('p', { class: 'note filter-note' }, `Filtered to ${scopeText(ctx)}: every step (and exclusion) matches only its touchpoints.`) : null,
      segmentNote(ctx, 'only its customers enter the funnel'),
      chart({
        tooltip: {}, grid: { left: 180, right: 40, top: 10, bottom: 30 },
        xAxis: { type: 'value', name: 'customers', nameLocation: 'middle', nameGap: 25 },
        yAxis: { type: 'category', inverse: true, data: res.steps.map((s) => `${s.step}. ${s.label}`) },
        series: [{ type: 'bar', data: res.steps.map((s) => s.customers), label: { show: true, position: 'right' } }],
      }, 'Customers per funnel step'),
      dataTable('funnel', res.steps, [
        { key: 'step', label: 'Step', num: true }, { key: 'label', label: 'Touchpoint' }, { key: 'customers', label: 'Customers', num: true },
        { key: 'conversion_from_previous', label: 'Conversion from previous', num: true, format: pct },
        { key: 'drop', label: 'Drop-off', num: true, csv: (s) => (s.conversion_from_previous == null ? '' : 1 - s.conversion_from_previous), cell: (s) => (s.conversion_from_previous == null ? '–' : pct(1 - s.conversion_from_previous)) },
        { key: 'conversion_from_first', label: 'Conversion from first', num: true, format: pct },
        { key: 'median_seconds_from_previous', label: 'Median time from previous', num: true, format: (v) => (v == null ? '–' : formatDuration(v * 1000)) },
        { key: 'who', label: '', csv: () => '', cell: (s) => (s.step > 1 ? el('button', { type: 'button', onclick: () => showDropped(dropped, ctx, body, s) }, 'Who dropped?') : '') },
      ]),
      res.breakdown ? funnelBreakdown(res) : null,
    ];
  });
}

const BREAKDOWNS = [['', 'nothing'], ['channel', 'channel of step 1'], ['first_channel', 'first channel in the range'], ['persona', 'persona'], ['churn_risk', 'churn-risk band']];

/** The funnel per breakdown group: customers per step and conversion from step 1, as a chart and a table. */
function funnelBreakdown(res) {
  const by = BREAKDOWNS.find(([b]) => b === res.breakdown.by)?.[1] ?? res.breakdown.by;
  const groups = res.breakdown.groups.map((g) => ({ ...g, key: g.key || '(none)' }));
  if (!groups.length) return empty(`No groups by ${by}.`);
  const last = res.steps.length - 1;
  const stepCols = res.steps.map((s, i) => ({ key: `s${s.step}`, label: `${s.step}. ${s.label}`, num: true,
    csv: (g) => g.steps[i]?.customers ?? 0, cell: (g) => (g.steps[i]?.customers ?? 0).toLocaleString('en') }));
  return el('div', { class: 'breakdown' },
    el('h3', {}, `By ${by}`),
    chart({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, legend: { top: 0, type: 'scroll' }, grid: { left: 60, right: 20, top: 40, bottom: 50 },
      xAxis: { type: 'category', data: res.steps.map((s) => `${s.step}. ${s.label}`), axisLabel: { interval: 0, overflow: 'truncate', width: 160 } },
      yAxis: { type: 'value', name: 'customers', nameLocation: 'middle', nameGap: 40, minInterval: 1 },
      series: groups.map((g) => ({ name: g.key, type: 'bar', data: g.steps.map((s) => s.customers) })),
    }, `Customers per funnel step by ${by}`),
    dataTable('funnel-breakdown', groups, [
      { key: 'key', label: by[0].toUpperCase() + by.slice(1) }, ...stepCols,
      { key: 'conversion', label: 'Conversion from first to last', num: true, csv: (g) => g.steps[last]?.conversion_from_first ?? '', cell: (g) => pct(g.steps[last]?.conversion_from_first) },
    ], { rowAttrs: (g) => ({ dataset: { group: g.key } }) }));
}

function showDropped(box, ctx, body, step) {
  return fill(box, `customers who dropped before ${step.label}`, () => api(`/v1/funnels/dropped?step=${step.step}`, { method: 'POST', body }), (res) => [
    el('p', {}, `${res.total} customers reached the step before “${res.label}” but not it. Shown: ${res.customers.length}.`),
    dataTable('dropped-customers', res.customers, [
      { key: 'customer_id', label: 'Customer', cell: (r) => customerLink(ctx, r.customer_id) },
      { key: 'last_step_at', label: 'Last step at', format: fmtTime },
      { key: 'next_touchpoint', label: 'Next touchpoint' }, { key: 'next_channel', label: 'Next channel' }, { key: 'next_at', label: 'Next at', format: fmtTime },
    ]),
  ]);
}

function paths(main, ctx) {
  const p = ctx.view.params;
  const form = el('form', { class: 'inline', 'aria-label': 'Path anchor' },
    el('label', {}, 'From touchpoint', el('input', { name: 'start', value: p.start ?? (p.end ? '' : 'verification_start_page') })),
    el('label', {}, 'or to touchpoint', el('input', { name: 'end', value: p.end || '' })),
    el('label', {}, 'Depth', el('input', { name: 'depth', type: 'number', min: 2, max: 10, value: p.depth || 5 })),
    el('button', { class: 'primary' }, 'Show paths'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new FormData(form); ctx.setParams({ start: f.get('start'), end: f.get('end'), depth: f.get('depth') }); });
  const out = el('div');
  main.append(panel('Paths', filterNote(ctx, 'paths are made of its touchpoints only'), segmentNote(ctx, 'only the paths of its customers'), form, out));
  const start = p.start ?? (p.end ? '' : 'verification_start_page');
  return fill(out, 'the paths', () => api(`/v1/paths?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), start, end: start ? '' : p.end, depth: p.depth || 5 })}`), (res) => {
    if (!res.edges.length) return empty('No paths from or to this touchpoint in the range: check its name or widen the range.');
    return [
      el('p', {}, `${res.customers} customers with ${res.start ?? res.end} in the range.`),
      chart({ tooltip: { trigger: 'item' }, series: [{ type: 'sankey', left: 10, right: 220, nodeGap: 10, emphasis: { focus: 'adjacency' },
        data: res.nodes.map((n) => ({ name: n.name })), links: res.edges.map((e) => ({ source: e.source, target: e.target, value: e.customers })),
        label: { formatter: (x) => x.name.replace(/^step \d+: /, '') } }] }, `Sankey of paths ${res.start ? 'from ' + res.start : 'to ' + res.end}`, { tall: true }),
      dataTable('paths', res.edges, [{ key: 'source', label: 'From' }, { key: 'target', label: 'To' }, { key: 'customers', label: 'Customers', num: true }]),
    ];
  });
}

function drivers(main, ctx) {
  const p = ctx.view.params;
  const outcome = p.outcome || 'survey_detractor';
  const form = el('form', { class: 'inline', 'aria-label': 'Outcome' },
    el('label', {}, 'Outcome (built-in or touchpoint)', el('input', { name: 'outcome', value: outcome })),
    el('button', { class: 'primary' }, 'Rank drivers'));
  form.addEventListener('submit', (e) => { e.preventDefault(); ctx.setParams({ outcome: new FormData(form).get('outcome') }); });
  const out = el('div');
  main.append(panel('Drivers', filterNote(ctx, 'the customers with a touchpoint there in the range; their factors are still everything they saw'),
    segmentNote(ctx, 'only its customers are compared'), el('p', { class: 'note' }, 'With personas configured, each customer\'s persona is a factor too (persona: …).'), form, out));
  return fill(out, 'the drivers', () => api(`/v1/drivers?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), outcome, limit: 20 })}`), (res) => {
    const population = el('p', {}, `${res.outcome_customers} of ${res.customers} customers had “${res.outcome}”. Lift = outcome rate with the factor ÷ without; bars show the 95 % interval.`);
    if (!res.drivers.length) return [population, empty(`No factor reaches the minimum support for “${outcome}” in this range: widen the range or choose another outcome.`)];
    const d = [...res.drivers].reverse();
    const name = (x) => `${x.kind}: ${x.value}`;
    return [
      population,
      chart({
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, grid: { left: 220, right: 30, top: 10, bottom: 40 },
        xAxis: { type: 'value', name: 'lift (×)', nameLocation: 'middle', nameGap: 25 },
        yAxis: { type: 'category', data: d.map(name) },
        series: [
          { name: 'ci low', type: 'bar', stack: 'ci', itemStyle: { color: 'transparent' }, data: d.map((x) => x.lift_ci_low), tooltip: { show: false } },
          { name: '95 % interval', type: 'bar', stack: 'ci', itemStyle: { color: '#c5d0f3' }, data: d.map((x) => x.lift_ci_high - x.lift_ci_low) },
          { name: 'lift', type: 'scatter', symbolSize: 10, data: d.map((x) => x.lift), itemStyle: { color: '#3558d6' } },
        ],
      }, `Drivers of ${outcome} ranked by lift with confidence intervals`, { tall: true }),
      dataTable('drivers', res.drivers, [
        { key: 'factor', label: 'Factor', cell: name, csv: name }, { key: 'lift', label: 'Lift', num: true, format: (v) => num(v) },
        { key: 'ci', label: '95 % CI', num: true, cell: (x) => `${num(x.lift_ci_low)} – ${num(x.lift_ci_high)}`, csv: (x) => `${x.lift_ci_low}-${x.lift_ci_high}` },
        { key: 'outcome_rate_with_factor', label: 'Rate with', num: true, format: pct }, { key: 'outcome_rate_without_factor', label: 'Rate without', num: true, format: pct },
        { key: 'outcome_with_factor', label: 'Outcome customers with factor', num: true },
      ]),
    ];
  });
}

const MODELS = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'markov'];
function attribution(main, ctx) {
  const p = ctx.view.params;
  const conversion = p.conversion || 'order_confirmation_email';
  const form = el('form', { class: 'inline', 'aria-label': 'Conversion' },
    el('label', {}, 'Conversion touchpoint', el('input', { name: 'conversion', value: conversion, size: 30 })),
    el('label', {}, 'Credit', el('select', { name: 'by' }, ['channel', 'touchpoint'].map((b) => el('option', { value: b, selected: (p.by || 'channel') === b }, b)))),
    el('button', { class: 'primary' }, 'Compare models'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new FormData(form); ctx.setParams({ conversion: f.get('conversion'), by: f.get('by') }); });
  const out = el('div');
  main.append(panel('Attribution', filterNote(ctx, 'only its touchpoints count, as path steps and as conversions'), segmentNote(ctx, 'only the paths and conversions of its customers'), form, out));
  return fill(out, 'the attribution', () => api(`/v1/attribution?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), conversion, by: p.by || 'channel' })}`), (res) => {
    if (!res.conversions) return empty(`No “${conversion}” conversions in this range: check the name or widen the range.`);
    return [
      el('p', {}, `${res.conversions} conversions; credit in conversions per model.`),
      chart({ tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 60, right: 20, top: 40, bottom: 50 },
        xAxis: { type: 'category', data: res.credits.map((c) => c.key), axisLabel: { interval: 0, rotate: 20 } },
        yAxis: { type: 'value', name: 'conversions', nameLocation: 'middle', nameGap: 40 },
        series: MODELS.map((m) => ({ name: m.replace('_', ' '), type: 'bar', data: res.credits.map((c) => c[m]) })) }, 'Attribution models side by side'),
      dataTable('attribution', res.credits, [{ key: 'key', label: res.by === 'channel' ? 'Channel' : 'Touchpoint' }, ...MODELS.map((m) => ({ key: m, label: m.replace('_', ' '), num: true, format: (v) => num(v) }))]),
    ];
  });
}

/** "2026-11-30" → "week of 30 Nov 2026" / "Nov 2026". */
function cohortLabel(period, day) {
  const d = new Date(`${day}T00:00:00Z`);
  return period === 'month'
    ? d.toLocaleDateString('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' })
    : `week of ${d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })}`;
}

function cohorts(main, ctx) {
  const period = ctx.view.params.period || 'week';
  const by = ['persona', 'churn_risk'].includes(ctx.view.params.by) ? ctx.view.params.by : '';
  const form = el('form', { class: 'inline', 'aria-label': 'Cohort period' },
    el('label', {}, 'Cohort period', el('select', { name: 'period' }, ['week', 'month'].map((x) => el('option', { value: x, selected: x === period }, x)))),
    el('label', {}, 'Split by', el('select', { name: 'by' }, [['', 'nothing'], ['persona', 'persona'], ['churn_risk', 'churn-risk band']].map(([v, l]) => el('option', { value: v, selected: v === by }, l)))),
    el('button', { class: 'primary' }, 'Show'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new FormData(form); ctx.setParams({ period: f.get('period'), by: f.get('by') }); });
  const out = el('div');
  main.append(panel('Retention by first-seen cohort', filterNote(ctx, 'first touch and activity count only its touchpoints, read from the raw table (as far back as its retention)'),
    segmentNote(ctx, 'only its customers make the cohorts'), form, out));
  return fill(out, 'the cohorts', () => api(`/v1/cohorts?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), period, by })}`), (res) => {
    if (!res.cohorts.length) return empty('No customers first seen in this range: widen the range.');
    const n = Math.max(...res.cohorts.map((c) => c.retention.length));
    const cols = [{ key: 'cohort', label: 'Cohort', format: (v) => cohortLabel(period, v) }, ...(by ? [{ key: by, label: by === 'persona' ? 'Persona' : 'Churn-risk band' }] : []), { key: 'customers', label: 'Customers', num: true },
      ...Array.from({ length: n }, (_, i) => ({ key: `p${i}`, label: `${period} ${i}`, num: true,
        csv: (c) => c.retention[i]?.share ?? '',
        cell: (c) => { const r = c.retention[i]; if (!r) return ''; const s = el('span', { title: `${r.active} active` }, pct(r.share)); return s; } }))];
    const table = dataTable('cohorts', res.cohorts, cols);
    for (const td of table.querySelectorAll('td[data-col^="p"]')) {
      const v = parseFloat(td.textContent);
      if (!Number.isNaN(v)) td.style.background = `rgba(53, 88, 214, ${Math.min(0.85, v / 100)})`, td.style.color = v > 55 ? '#fff' : '';
    }
    return table;
  });
}

function actions(main, ctx) {
  const form = el('form', { class: 'inline', 'aria-label': 'New annotation' },
    el('label', {}, 'Title', el('input', { name: 'title', required: true, maxlength: 200 })),
    el('label', {}, 'Took effect at', el('input', { name: 'at', type: 'datetime-local', required: true })),
    el('label', {}, 'Channel (optional)', el('input', { name: 'channel', value: ctx.view.channel })),
    el('label', {}, 'Journey (optional)', el('input', { name: 'journey', value: ctx.view.journey })),
    el('button', { class: 'primary' }, 'Add annotation'));
  const list = el('div');
  const impact = el('div');
  main.append(segmentNote(ctx) ?? '', panel('Record an action', form),
    panel('Annotations in the range', filterNote(ctx, 'the annotations that apply there: scoped to it, or to no channel / journey'), list), panel('Impact', impact));
  impact.append(empty('Choose “Impact” on an annotation to compare the window before it with the window after.'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const scope = Object.fromEntries(['channel', 'journey'].map((k) => [k, f.get(k)]).filter(([, v]) => v));
    try {
      const a = await api('/v1/annotations', { method: 'POST', body: { title: f.get('title'), at: new Date(f.get('at')).toISOString(), scope } });
      ctx.setParams({ annotation: a.id });
    } catch (err) {
      impact.replaceChildren(el('div', { class: 'state error', role: 'alert' }, `Not saved: ${err.message}`));
    }
  });
  const load = fill(list, 'annotations', () => api(`/v1/annotations?${q({ ...range(ctx), ...scope(ctx) })}`), (res) => dataTable('annotations', res.annotations, [
    { key: 'title', label: 'Title' }, { key: 'at', label: 'At', format: fmtTime },
    { key: 'scope', label: 'Scope', format: (s) => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(', ') || 'everywhere' },
    { key: 'created_by', label: 'By' },
    { key: 'impact', label: '', csv: () => '', cell: (a) => el('button', { type: 'button', onclick: () => ctx.setParams({ annotation: a.id }) }, 'Impact') },
  ], { emptyText: `No annotations in this range${scopeText(ctx) ? ` for ${scopeText(ctx)}` : ''}: record one above, widen the range or clear a filter.`, rowAttrs: (a) => ({ dataset: { annotation: a.id } }) }));
  if (!ctx.view.params.annotation) return load;
  return Promise.all([load, fill(impact, 'the impact', () => api(`/v1/annotations/${encodeURIComponent(ctx.view.params.annotation)}/impact`), (res) => [
    el('p', {}, `“${res.annotation.title}”: ${fmtTime(res.before.from)} – ${fmtTime(res.before.to)} against ${fmtTime(res.after.from)} – ${fmtTime(res.after.to)}${res.after.complete ? '' : ' (after-window still running)'}. Significant means p < 0.05.`),
    dataTable('impact', res.metrics, [
      { key: 'metric', label: 'Metric', format: metricLabel },
      { key: 'before', label: 'Before', num: true, csv: (m) => m.before.value, cell: (m) => `${formatMetric(m.metric, m.before.value)} (n=${m.before.n})` },
      { key: 'after', label: 'After', num: true, csv: (m) => m.after.value, cell: (m) => `${formatMetric(m.metric, m.after.value)} (n=${m.after.n})` },
      { key: 'difference', label: 'Difference', num: true, format: (v, m) => (v == null ? '–' : `${v > 0 ? '+' : ''}${formatMetric(m.metric, v)}`) },
      { key: 'p_value', label: 'p', num: true, format: (v) => (v == null ? '–' : v < 0.001 ? '< 0.001' : num(v, 3)) },
      { key: 'significant', label: 'Significant', cell: (m) => el('span', { class: m.improved ? 'yes' : 'no' }, m.significant ? (m.improved ? 'yes, better' : 'yes, worse') : 'no') },
    ]),
  ])]);
}

let stream;
const ALERT_KINDS = [['', 'customers and KPI deviations'], ['customer', 'customers only'], ['kpi', 'KPI deviations only']];
function alerts(main, ctx) {
  const p = ctx.view.params;
  const kind = ALERT_KINDS.some(([k]) => k && k === p.kind) ? p.kind : '';
  const form = el('form', { class: 'inline', 'aria-label': 'Alert filters' },
    el('label', {}, 'Lowest level', el('select', { name: 'level' }, ['watch', 'at_risk', 'critical'].map((l) => el('option', { value: l, selected: (p.level || 'watch') === l }, l.replace('_', ' '))))),
    el('label', {}, 'Raised by', el('select', { name: 'kind' }, ALERT_KINDS.map(([k, text]) => el('option', { value: k, selected: k === kind }, text)))),
    el('button', {}, 'Filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new FormData(form); ctx.setParams({ level: f.get('level'), kind: f.get('kind') }); });
  const badge = el('span', { class: 'badge', id: 'live' }, 'connecting…');
  const feed = el('ol', { class: 'feed', id: 'feed', 'aria-live': 'polite' });
  const note = filterNote(ctx, ctx.view.channel && ctx.view.journey
    ? 'alerts raised by one of its touchpoints, live and in the history below (a KPI deviation alert concerns one channel or one journey, so none matches both)'
    : 'alerts raised by one of its touchpoints, and KPI deviation alerts of its own series, live and in the history below');
  // The live stream knows no personas or bands: with either filter only the history (GET /v1/alerts?persona=…) is shown.
  const live = !ctx.view.persona && !ctx.view.churn_risk;
  main.append(panel('Feed', badge, form, note, segmentNote(ctx, 'the alerts of its customers in the range; new alerts are not followed live with this filter (clear it to follow them)'), feed));
  const minLevel = p.level || 'watch';
  const order = { watch: 0, at_risk: 1, critical: 2 };
  const seen = new Set();
  const add = (a, top) => {
    if (seen.has(a.alert_id) || order[a.level] < order[minLevel]) return;
    seen.add(a.alert_id);
    feed.querySelector('.state')?.remove();
    const li = isKpiAlert(a) ? kpiAlertItem(a) : el('li', { class: a.level, dataset: { alert: a.alert_id, kind: 'customer' } },
      el('div', {}, el('strong', {}, a.level.replace('_', ' ')), ' · ', customerLink(ctx, a.customer_id), ' · ',
        el('small', {}, `score ${num(a.score_before)} → ${num(a.score)} · ${fmtTime(a.at)}`)),
      el('ul', {}, (a.signals ?? []).map((s) => el('li', {}, `${s.type.replaceAll('_', ' ')} (weight ${num(s.weight)}): ${readableExplanation(s.explanation)}`))));
    top ? feed.prepend(li) : feed.append(li);
    while (feed.children.length > 200) feed.lastElementChild.remove();
  };
  stream?.close();
  stream = undefined;
  if (!live) badge.textContent = 'history only';
  if (live) stream = new EventSource(`/v1/alerts/stream?${q({ key: sessionKey(), min_level: minLevel, kind, ...scope(ctx) })}`);
  stream?.addEventListener('open', () => { badge.textContent = 'live'; badge.classList.add('on'); });
  stream?.addEventListener('error', () => { badge.textContent = 'reconnecting…'; badge.classList.remove('on'); });
  stream?.addEventListener('alert', (e) => add(JSON.parse(e.data), true));
  const closeOnLeave = () => { if (!feed.isConnected) { stream?.close(); window.removeEventListener('popstate', closeOnLeave); } };
  window.addEventListener('popstate', closeOnLeave);
  new MutationObserver((_, obs) => { if (!feed.isConnected) { stream?.close(); obs.disconnect(); } }).observe(main, { childList: true });
  feed.append(el('li', { class: 'state' }, 'Loading recent alerts…'));
  return api(`/v1/alerts?${q({ ...range(ctx), ...scope(ctx), ...segmentScope(ctx), kind, limit: 100 })}`).then((res) => {
    feed.querySelector('.state')?.remove();
    for (const a of res.alerts) add(a, false);
    if (!feed.children.length) feed.append(el('li', { class: 'state' }, 'No alerts yet in this range; new ones appear here as they are raised.'));
  });
}

/** A KPI deviation alert in the feed: the series it concerns (not a customer: no link), the figures in words. */
function kpiAlertItem(a) {
  const s = kpiAlertSummary(a);
  return el('li', { class: `${a.level} kpi`, dataset: { alert: a.alert_id, kind: 'kpi' } },
    el('div', {}, el('strong', {}, a.level.replace('_', ' ')), ' · ', el('span', { class: 'kind kpi' }, 'KPI deviation'), ' · ',
      el('strong', {}, s.metric ? `${s.metric} at ${s.series}` : s.series), ' · ', el('small', {}, fmtTime(a.at))),
    s.metric
      ? el('ul', {},
        el('li', {}, `Observed ${s.observed} against ${s.expected} expected${s.change ? ` (${s.change})` : ''}; ${s.deviation}.`),
        el('li', {}, `Over ${s.window}.`),
        s.contributions.length ? el('li', {}, `Most of the deviation: ${s.contributions.join(', ')}.`) : null)
      : el('ul', {}, el('li', {}, s.text)));
}
const sessionKey = () => session.key;

function customer(main, ctx) {
  const id = ctx.view.params.customer || '';
  const form = el('form', { class: 'inline', role: 'search', 'aria-label': 'Customer lookup' },
    el('label', {}, 'Customer id', el('input', { name: 'customer', value: id, required: true, placeholder: 'e.g. c-42' })),
    el('button', { class: 'primary' }, 'Show journey'));
  form.addEventListener('submit', (e) => { e.preventDefault(); ctx.setParams({ customer: new FormData(form).get('customer').trim() }); });
  const out = el('div');
  main.append(panel('Customer journey', form, out));
  if (!id) return out.append(empty('Enter a customer id, or open one from an alert, a funnel drop-off or a heat-map cell.'));
  // The customer_id of a KPI deviation alert (kpi:<dimension>=<value>) is a series, not someone with a journey.
  if (id.startsWith('kpi:')) {
    return out.append(empty(`“${id}” names a KPI deviation series, not a customer: its alerts are on the Overview and under Live alerts (Raised by: KPI deviations).`));
  }
  const profile = el('div', { id: 'customer-profile' });
  out.before(profile);
  // Who the customer is (docs/architecture.md §20.6): persona and latest profile attributes, when the API has them.
  api(`/v1/customers/${encodeURIComponent(id)}/profile`).then((p) => {
    if (!p.attributes.length && !p.persona) return;
    profile.replaceChildren(el('p', { class: 'note' },
      p.persona ? `Persona ${p.persona}` : 'No personas configured', ' · ',
      p.attributes.length ? p.attributes.map((a) => `${a.attribute}: ${a.value}`).join(' · ') : 'no profile attributes'));
  }).catch(() => {});
  return fill(out, `the journey of ${id}`, async () => {
    try {
      return await api(`/v1/customers/${encodeURIComponent(id)}/journey?limit=500`);
    } catch (err) {
      if (/no touchpoints/.test(err.message)) return null;
      throw err;
    }
  }, (j) => {
    if (!j || !j.entries.length) return empty(`Nothing recorded for “${id}” yet: check the id, or come back once their first touchpoint arrives.`);
    const rows = j.entries.map((e) => {
      const t = e.touchpoint, s = e.signal, a = e.alert;
      const text = e.kind === 'touchpoint' ? `${t.touchpoint}${t.reason ? ` (${t.reason})` : ''}${t.outcome ? ` → ${t.outcome}` : ''}`
        : e.kind === 'signal' ? `${s.type.replaceAll('_', ' ')}: ${readableExplanation(s.explanation)}` : `${a.level.replace('_', ' ')} alert, score ${num(a.score)}`;
      return { at: e.at, kind: e.kind, channel: t?.channel ?? '', text };
    });
    const scores = j.entries.filter((e) => e.kind === 'alert').map((e) => [Date.parse(e.at), e.alert.score]).reverse();
    const channels = [...new Set(rows.filter((r) => r.channel).map((r) => r.channel))];
    return [
      el('p', {}, j.live ? `Live score ${num(j.live.score)} · level ${j.live.level.replace('_', ' ')}` : 'No live state (the score has decayed or the customer is new).'),
      // The churn model's probability (docs/architecture.md §22), when the processor has scored the customer.
      ...(j.live?.churn_risk ? [el('p', { class: `churn-risk ${j.live.churn_risk.band}` }, `Churn risk ${Math.round(j.live.churn_risk.score * 100)} % · ${j.live.churn_risk.band} band (model ${j.live.churn_risk.model_version ?? 'unknown'})`)] : []),
      chart({
        tooltip: { trigger: 'item' }, legend: { top: 0 }, grid: { left: 90, right: 50, top: 40, bottom: 40 },
        xAxis: { type: 'time' }, yAxis: [{ type: 'category', data: [...channels, 'signals'] }, { type: 'value', name: 'score', splitLine: { show: false } }],
        series: [
          { name: 'touchpoints', type: 'scatter', symbolSize: 10, data: rows.filter((r) => r.kind === 'touchpoint').map((r) => ({ value: [Date.parse(r.at), r.channel], name: r.text })) },
          { name: 'signals', type: 'scatter', symbol: 'diamond', symbolSize: 10, data: rows.filter((r) => r.kind === 'signal').map((r) => ({ value: [Date.parse(r.at), 'signals'], name: r.text })) },
          { name: 'score at alerts', type: 'line', step: 'end', yAxisIndex: 1, data: scores },
        ],
      }, `Timeline of ${id} across ${channels.length} channels with signals and the alert score`),
      dataTable(`journey-${id}`, rows, [
        { key: 'at', label: 'When', format: (v) => new Date(v).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }) }, { key: 'kind', label: 'Kind', cell: (r) => el('span', { class: `kind ${r.kind}` }, r.kind) },
        { key: 'channel', label: 'Channel' }, { key: 'text', label: 'What happened' },
      ]),
    ];
  });
}

export const PAGES = {
  overview: { title: 'Overview', render: overview },
  journeys: { title: 'Journey map', render: journeys },
  funnels: { title: 'Funnels', render: funnels },
  paths: { title: 'Paths', render: paths },
  drivers: { title: 'Drivers', render: drivers },
  attribution: { title: 'Attribution', render: attribution },
  cohorts: { title: 'Cohorts', render: cohorts },
  actions: { title: 'Actions and impact', render: actions },
  alerts: { title: 'Live alerts', render: alerts },
  customer: { title: 'Customer', render: customer },
};
