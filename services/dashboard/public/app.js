// touchstream dashboard: KPIs with the previous period, a chart of volume and negative signals, a breakdown,
// live alerts (Server-Sent Events, polling as fallback) and one customer's journey. Everything comes from the
// query API with the analyst's read key, kept in this browser's localStorage only.

import { breakdownRows, summarize } from './kpi-summary.js';

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

// ── number formatting

const fmt = {
  count: (v) => (v == null ? '–' : Intl.NumberFormat('en', { notation: v >= 1e5 ? 'compact' : 'standard' }).format(v)),
  pct: (v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`),
  score: (v) => (v == null ? '–' : v.toFixed(1)),
  ms: (v) => (v == null ? '–' : v >= 60e3 ? `${(v / 60e3).toFixed(1)} min` : `${(v / 1e3).toFixed(1)} s`),
};

/**
 * The tiles: label, field, formatter, and whether higher is better (for the colour of the change against the
 * previous period).
 */
const TILES = [
  ['Touchpoints', 'events', fmt.count, null],
  ['Customers', 'unique_customers', fmt.count, null],
  ['NPS', 'nps', fmt.score, true],
  ['CSAT (satisfied)', 'csat', fmt.pct, true],
  ['CES', 'ces_mean', fmt.score, false],
  ['Handling time', 'avg_handling_ms', fmt.ms, false],
  ['Wait p90', 'p90_wait_ms', fmt.ms, false],
  ['Abandonment', 'abandonment_rate', fmt.pct, false],
  ['Negative signals', 'negative_signal_rate', fmt.pct, false],
];

function renderTiles(current, previous) {
  $('tiles').replaceChildren(
    ...TILES.map(([label, field, format, higherIsBetter]) => {
      const tile = document.createElement('div');
      tile.className = 'tile';
      const now = current?.[field] ?? null;
      const before = previous?.[field] ?? null;
      let delta = '';
      let tone = 'flat';
      if (now != null && before != null && before !== 0) {
        const change = (now - before) / Math.abs(before);
        delta = `${change >= 0 ? '▲' : '▼'} ${Math.abs(change * 100).toFixed(1)} % vs previous period`;
        if (higherIsBetter !== null && Math.abs(change) > 0.005) tone = (change > 0) === higherIsBetter ? 'good' : 'bad';
      }
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
  const data = [xs, buckets.map((b) => b.events), buckets.map((b) => (b.negative_signal_rate == null ? null : b.negative_signal_rate * 100))];
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
        { label: 'negative signals (%)', stroke: '#c8372d', width: 2, scale: '%' },
      ],
      axes: [{}, { label: 'touchpoints' }, { side: 1, scale: '%', label: '%', grid: { show: false } }],
    },
    data,
    el,
  );
}

function renderBreakdown(rows) {
  const thead = $('breakdown').querySelector('thead');
  const tbody = $('breakdown').querySelector('tbody');
  thead.innerHTML = '<tr><th></th><th>touchpoints</th><th>NPS</th><th>CSAT</th><th>abandon</th><th>neg. signals</th></tr>';
  if (!rows.length) {
    tbody.innerHTML = '<tr><td colspan="6" class="empty">no touchpoints in this range</td></tr>';
    return;
  }
  const top = Math.max(...rows.map((r) => r.events));
  tbody.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      const cells = [r.key || '(none)', fmt.count(r.events), fmt.score(r.nps), fmt.pct(r.csat), fmt.pct(r.abandonment_rate), fmt.pct(r.negative_signal_rate)];
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

async function refresh() {
  if (!state.key) return askForKey();
  const [span, interval] = RANGES[state.range];
  const to = Date.now();
  const range = (from, until) => `from=${new Date(from).toISOString()}&to=${new Date(until).toISOString()}&interval=${interval}`;
  try {
    const [current, previous, breakdown] = await Promise.all([
      api(`/v1/kpis?${range(to - span, to)}`),
      api(`/v1/kpis?${range(to - 2 * span, to - span)}`),
      api(`/v1/kpis?${range(to - span, to)}&by=${encodeURIComponent(state.by)}`),
    ]);
    renderTiles(current.totals ?? summarize(current.buckets), previous.totals ?? summarize(previous.buckets));
    renderChart(current.buckets);
    renderBreakdown(breakdownRows(breakdown.buckets));
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
