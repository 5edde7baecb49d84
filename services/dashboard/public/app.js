// touchstream dashboard: KPIs with the previous period, a chart of volume and negative signals, a breakdown,
// live alerts (Server-Sent Events, polling as fallback) and one customer's journey. Everything comes from the
// query API with the analyst's read key, kept in this browser's localStorage only.

import { heatmapCellText, tileDelta } from './format.js';

const KEY_STORAGE = 'touchstream.readKey';
const RANGES = { '1h': [3600e3, 'minute'], '24h': [86400e3, 'hour'], '7d': [7 * 86400e3, 'hour'], '30d': [30 * 86400e3, 'day'] };
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
if (params.get('key')) {
  localStorage.setItem(KEY_STORAGE, params.get('key'));
  // Keep the key out of the address bar and the browser history.
  history.replaceState(null, '', location.pathname);
}
const state = { key: localStorage.getItem(KEY_STORAGE) || '', range: '24h', by: 'channel' };

class ApiError extends Error {}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${state.key}` } });
  if (res.status === 401) {
    askForKey('That key was not accepted as a read key.');
    throw new ApiError('a valid read key is needed');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body.message || `${res.status} ${res.statusText}`);
  return body;
}

function showError(err) {
  const box = $('error');
  if (!err) return void (box.hidden = true);
  box.hidden = false;
  box.textContent = `${err.message}. Check the query service (/readyz) and your read key, then reload.`;
}

function askForKey(why) {
  const dialog = $('key-dialog');
  dialog.querySelector('p').dataset.why = why || '';
  if (!dialog.open) dialog.showModal();
}

$('key-dialog').addEventListener('close', () => {
  const key = $('key-input').value.trim();
  if (!key) return;
  state.key = key;
  localStorage.setItem(KEY_STORAGE, key);
  refresh();
  connectAlerts();
});
$('change-key').addEventListener('click', () => askForKey());
$('range').addEventListener('change', (e) => { state.range = e.target.value; refresh(); });
$('by').addEventListener('change', (e) => { state.by = e.target.value; $('by-label').textContent = state.by; refresh(); });

// ── number formatting (units as /v1/kpis gives them: csat and negative signals already × 100)

const fmt = {
  count: (v) => (v == null ? '–' : Intl.NumberFormat('en', { notation: v >= 1e5 ? 'compact' : 'standard' }).format(v)),
  share: (v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`),
  percent: (v) => (v == null ? '–' : `${v.toFixed(1)} %`),
  score: (v) => (v == null ? '–' : v.toFixed(1)),
  ms: (v) => (v == null ? '–' : v >= 60e3 ? `${(v / 60e3).toFixed(1)} min` : `${(v / 1e3).toFixed(1)} s`),
  per100: (v) => (v == null ? '–' : `${v.toFixed(1)} / 100`),
};

/** The tiles: label, field, formatter, and whether higher is better (colours the change vs the previous period). */
const TILES = [
  ['Touchpoints', 'events', fmt.count, null],
  ['Customers', 'unique_customers', fmt.count, null],
  ['NPS', 'nps', fmt.score, true],
  ['CSAT (satisfied)', 'csat', fmt.percent, true],
  ['CES', 'ces_mean', fmt.score, false],
  ['First-contact resolution', 'fcr', fmt.share, true],
  ['Handling time', 'avg_handling_ms', fmt.ms, false],
  ['Wait p90', 'p90_wait_ms', fmt.ms, false],
  ['Abandonment', 'abandonment_rate', fmt.share, false],
  ['Journey completion', 'completion_rate', fmt.share, true],
  ['Negative signals', 'negative_signal_rate', fmt.per100, false],
];

function renderTiles(current, previous) {
  $('tiles').replaceChildren(
    ...TILES.map(([label, field, format, higherIsBetter]) => {
      const tile = document.createElement('div');
      tile.className = 'tile';
      const { text: delta, tone } = tileDelta(current?.[field] ?? null, previous?.[field] ?? null, higherIsBetter);
      const now = current?.[field] ?? null;
      tile.innerHTML = `<div class="label"></div><div class="value"></div><div class="delta ${tone}"></div>`;
      tile.querySelector('.label').textContent = label;
      tile.querySelector('.value').textContent = format(now);
      tile.querySelector('.delta').textContent = delta;
      return tile;
    }),
  );
}

let chart;
function renderChart(buckets) {
  const xs = buckets.map((b) => Date.parse(b.bucket) / 1000);
  const data = [xs, buckets.map((b) => b.events), buckets.map((b) => b.negative_signal_rate)];
  const el = $('chart');
  const width = el.clientWidth || 800;
  chart?.destroy();
  chart = new window.uPlot(
    {
      width,
      height: 260,
      series: [
        {},
        { label: 'touchpoints', stroke: '#3558d6', fill: '#3558d61a', width: 2 },
        { label: 'negative signals per 100 touchpoints', stroke: '#c8372d', width: 2, scale: 'rate' },
      ],
      axes: [{}, { label: 'touchpoints' }, { side: 1, scale: 'rate', label: 'per 100', grid: { show: false } }],
    },
    data,
    el,
  );
}

function renderBreakdown(rows) {
  const thead = $('breakdown').querySelector('thead');
  const tbody = $('breakdown').querySelector('tbody');
  thead.innerHTML = '<tr><th></th><th>touchpoints</th><th>NPS</th><th>CSAT</th><th>FCR</th><th>abandon</th><th>neg. / 100</th></tr>';
  if (!rows.length) {
    tbody.innerHTML = '<tr><td colspan="7" class="empty">no touchpoints in this range</td></tr>';
    return;
  }
  const top = Math.max(...rows.map((r) => r.events));
  tbody.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      const cells = [r.key || '(none)', fmt.count(r.events), fmt.score(r.nps), fmt.percent(r.csat), fmt.share(r.fcr), fmt.share(r.abandonment_rate), fmt.score(r.negative_signal_rate)];
      tr.innerHTML = cells.map(() => '<td></td>').join('');
      cells.forEach((c, i) => (tr.children[i].textContent = c));
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(2, (r.events / top) * 80)}px`;
      tr.children[1].prepend(bar);
      return tr;
    }),
  );
}

const HEATMAP_FORMATS = {
  nps: fmt.score, csat: fmt.percent, csat_mean: fmt.score, ces_mean: fmt.score, fcr: fmt.share, avg_handling_ms: fmt.ms,
  avg_wait_ms: fmt.ms, p90_wait_ms: fmt.ms, abandonment_rate: fmt.share, completion_rate: fmt.share,
  sentiment_mean: fmt.score, negative_signal_rate: fmt.score,
};

function renderHeatmap(heat) {
  const table = $('heatmap');
  const metrics = heat.metrics.map((m) => m.metric);
  table.querySelector('thead').innerHTML = '<tr><th>stage</th>' + metrics.map(() => '<th></th>').join('') + '</tr>';
  metrics.forEach((m, i) => (table.querySelector('thead tr').children[i + 1].textContent = m.replaceAll('_', ' ')));
  const tbody = table.querySelector('tbody');
  if (!heat.rows.length) {
    tbody.innerHTML = `<tr><td colspan="${metrics.length + 1}" class="empty">no touchpoints in this range</td></tr>`;
    return;
  }
  tbody.replaceChildren(
    ...heat.rows.map((row) => {
      const tr = document.createElement('tr');
      const head = document.createElement('td');
      head.textContent = row.stage || '(no stage)';
      tr.append(head);
      for (const m of metrics) {
        const cell = row.cells[m];
        const td = document.createElement('td');
        td.className = `cell ${cell?.status ?? 'no_data'}`;
        td.textContent = cell ? (cell.value == null ? '–' : (HEATMAP_FORMATS[m] ?? fmt.score)(cell.value)) : '–';
        if (cell) td.title = heatmapCellText(m, cell);
        tr.append(td);
      }
      return tr;
    }),
  );
}

async function refresh() {
  if (!state.key) return askForKey();
  const [span, interval] = RANGES[state.range];
  const to = Date.now();
  const range = `from=${new Date(to - span).toISOString()}&to=${new Date(to).toISOString()}`;
  try {
    const [kpis, breakdown, heat] = await Promise.all([
      api(`/v1/kpis?${range}&interval=${interval}`),
      api(`/v1/kpis?${range}&interval=${interval}&by=${encodeURIComponent(state.by)}`),
      api(`/v1/heatmap?${range}`),
    ]);
    const total = kpis.totals[0];
    renderTiles(total, total?.previous);
    renderChart(kpis.buckets);
    renderBreakdown([...breakdown.totals].sort((a, b) => b.events - a.events));
    renderHeatmap(heat);
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// ── alerts: live over SSE when the stream endpoint exists, otherwise polled

const shownAlerts = new Set();
function addAlert(alert, { prepend = true } = {}) {
  if (shownAlerts.has(alert.alert_id)) return;
  shownAlerts.add(alert.alert_id);
  const li = document.createElement('li');
  li.className = alert.level;
  const why = (alert.signals ?? []).map((s) => s.explanation || s.type).join(' · ');
  li.innerHTML = '<div><strong></strong> <a href="#"></a> <small></small></div><div class="why"></div>';
  li.querySelector('strong').textContent = alert.level.replace('_', ' ');
  const link = li.querySelector('a');
  link.textContent = alert.customer_id;
  link.addEventListener('click', (e) => { e.preventDefault(); $('customer').value = alert.customer_id; showJourney(alert.customer_id); });
  li.querySelector('small').textContent = `score ${fmt.score(alert.score_before)} → ${fmt.score(alert.score)} · ${new Date(alert.at).toLocaleString()}`;
  li.querySelector('.why').textContent = why;
  const list = $('alerts');
  prepend ? list.prepend(li) : list.append(li);
  while (list.children.length > 200) list.lastElementChild.remove();
}

let stream;
let poller;
async function pollAlerts() {
  try {
    const { alerts } = await api(`/v1/alerts?from=${new Date(Date.now() - 86400e3).toISOString()}&limit=50`);
    for (const a of [...alerts].reverse()) addAlert(a);
  } catch (err) {
    showError(err);
  }
}

async function connectAlerts() {
  stream?.close();
  clearInterval(poller);
  if (!state.key) return;
  await pollAlerts();
  // An older query service has no stream: look at the status only, then hang up.
  const abort = new AbortController();
  const probe = await fetch(`/v1/alerts/stream?key=${encodeURIComponent(state.key)}`, { signal: abort.signal }).catch(() => null);
  abort.abort();
  const badge = $('live');
  if (!probe || probe.status === 404) {
    badge.textContent = 'refreshing every 10 s';
    poller = setInterval(pollAlerts, 10_000);
    return;
  }
  // EventSource cannot send headers: the stream takes the read key as a query parameter.
  stream = new EventSource(`/v1/alerts/stream?key=${encodeURIComponent(state.key)}`);
  stream.addEventListener('open', () => { badge.textContent = 'live'; badge.classList.add('on'); });
  stream.addEventListener('error', () => { badge.textContent = 'reconnecting…'; badge.classList.remove('on'); });
  const onAlert = (e) => addAlert(JSON.parse(e.data));
  stream.addEventListener('alert', onAlert);
  stream.addEventListener('message', onAlert);
}

// ── one customer's journey

async function showJourney(customerId) {
  const box = $('journey');
  box.textContent = 'loading…';
  try {
    const j = await api(`/v1/customers/${encodeURIComponent(customerId)}/journey?limit=100`);
    const items = [
      ...j.timeline.map((t) => ({ at: t.occurred_at, kind: 'touchpoint', text: `${t.channel} · ${t.touchpoint}${t.reason ? ` (${t.reason})` : ''}${t.outcome ? ` → ${t.outcome}` : ''}` })),
      ...j.signals.map((s) => ({ at: s.occurred_at, kind: 'signal', text: `${s.type}: ${s.explanation}` })),
      ...j.alerts.map((a) => ({ at: a.at, kind: 'alert', text: `${a.level.replace('_', ' ')} alert, score ${fmt.score(a.score)}` })),
    ].sort((a, b) => b.at.localeCompare(a.at));
    const live = j.live ? `live score ${fmt.score(j.live.score)} · level ${j.live.level} · ${j.live.events} touchpoints` : 'no live state';
    box.innerHTML = '<p></p><ol></ol>';
    box.querySelector('p').textContent = `${j.customer_id}: ${live}`;
    box.querySelector('ol').replaceChildren(
      ...(items.length ? items : [{ at: '', kind: '', text: 'nothing recorded for this customer' }]).map((i) => {
        const li = document.createElement('li');
        li.innerHTML = '<span class="kind"></span> <time></time> <span class="text"></span>';
        li.querySelector('.kind').textContent = i.kind;
        li.querySelector('.kind').classList.add(i.kind);
        li.querySelector('time').textContent = i.at ? new Date(i.at).toLocaleString() : '';
        li.querySelector('.text').textContent = i.text;
        return li;
      }),
    );
  } catch (err) {
    box.textContent = err.message;
  }
}
$('journey-form').addEventListener('submit', (e) => { e.preventDefault(); showJourney($('customer').value.trim()); });

refresh();
connectAlerts();
setInterval(refresh, 30_000);
