// touchstream analysts' workspace: one page per analysis, global filters (range, channel, journey, persona, churn-risk band) kept in
// the URL
// so a link restores the view, and the analyst's read key kept in this browser's localStorage only. Every figure
// comes from the query API on the same origin (docs/architecture.md §19).
import { rangeOf, searchFromView, viewFromSearch } from './format.js';
import { PAGES } from './pages.js';
import { api, disposeCharts, el, KEY_STORAGE, session } from './ui.js';

const $ = (id) => document.getElementById(id);

// A link may carry ?key=… once (as `./touchstream up` prints it): store it and keep it out of the history.
const initial = new URLSearchParams(location.search);
if (initial.get('key')) {
  localStorage.setItem(KEY_STORAGE, initial.get('key'));
  session.key = initial.get('key');
  initial.delete('key');
  history.replaceState(null, '', `${location.pathname}?${initial}`);
}

let view = viewFromSearch(location.search);
let renderToken = 0;

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

function showFilters() {
  $('range').value = view.range;
  const { fromMs, toMs } = rangeOf(view);
  $('from').value = toLocalInput(fromMs);
  $('to').value = toLocalInput(toMs);
  for (const label of document.querySelectorAll('.filters .custom')) label.hidden = view.range !== 'custom';
  for (const name of ['channel', 'journey', 'persona', 'churn_risk']) {
    const select = $(name);
    if (view[name] && ![...select.options].some((o) => o.value === view[name])) select.append(el('option', { value: view[name] }, view[name]));
    select.value = view[name];
  }
  for (const a of document.querySelectorAll('#nav a')) {
    a.href = searchFromView({ ...view, page: a.dataset.page, params: {} });
    if (a.dataset.page === view.page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Changes the view (and the URL); `replace` for page-internal parameters that need no history entry. */
export function navigate(change, { replace = false } = {}) {
  view = { ...view, ...change, params: change.params ?? (change.page && change.page !== view.page ? {} : view.params) };
  const url = `${location.pathname}${searchFromView(view)}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

async function render() {
  const token = ++renderToken;
  showFilters();
  disposeCharts();
  const page = PAGES[view.page] ?? PAGES.overview;
  document.title = `${page.title} · touchstream`;
  const main = $('page');
  main.replaceChildren(el('h2', { class: 'page-title' }, page.title));
  $('error').hidden = true;
  if (!session.key) return askForKey('Sign in to load the data: no read key is stored in this browser yet.');
  const { fromMs, toMs } = rangeOf(view);
  const ctx = {
    view,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    fromMs,
    toMs,
    stale: () => token !== renderToken,
    setParams: (params) => navigate({ params: { ...view.params, ...params } }, { replace: true }),
    navigate,
  };
  // Month as a word: the date inputs follow the browser's locale (12/04 may be either order), this line must not.
  const stamp = (ms) => new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
  $('range-note').textContent = `${stamp(fromMs)} – ${stamp(toMs)}`;
  try {
    await page.render(main, ctx);
  } catch (err) {
    $('error').hidden = false;
    $('error').textContent = `${err.message}. Check the filters and the read key, then press Apply.`;
  }
}

function askForKey(why) {
  const dialog = $('key-dialog');
  $('key-why').textContent = why || '';
  $('key-input').value = '';
  if (!dialog.open) dialog.showModal();
}
session.onUnauthorized = askForKey;

$('key-dialog').addEventListener('close', () => {
  const key = $('key-input').value.trim();
  if (!key) return;
  session.key = key;
  localStorage.setItem(KEY_STORAGE, key);
  loadFilterOptions();
  render();
});
$('change-key').addEventListener('click', () => askForKey('Replace the stored read key with another one.'));

$('range').addEventListener('change', () => {
  for (const label of document.querySelectorAll('.filters .custom')) label.hidden = $('range').value !== 'custom';
});
$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const range = $('range').value;
  const toIso = (v) => (v ? new Date(v).toISOString() : '');
  navigate({
    range,
    from: range === 'custom' ? toIso($('from').value) : '',
    to: range === 'custom' ? toIso($('to').value) : '',
    channel: $('channel').value,
    journey: $('journey').value,
    persona: $('persona').value,
    churn_risk: $('churn_risk').value,
    params: view.params,
  });
});
$('copy-link').addEventListener('click', async () => {
  await navigator.clipboard?.writeText(location.href).catch(() => {});
  $('range-note').textContent = 'Link to this view copied.';
});
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-page]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  navigate({ page: a.dataset.page, params: {} });
});
window.addEventListener('popstate', () => {
  view = viewFromSearch(location.search);
  render();
});

/** Fills the channel and journey filters with what the last 30 days contain, and the persona filter from GET /v1/personas. */
async function loadFilterOptions() {
  if (!session.key) return;
  const to = new Date().toISOString();
  const from = new Date(Date.now() - 30 * 86400e3).toISOString();
  for (const name of ['channel', 'journey']) {
    try {
      const res = await api(`/v1/kpis?from=${from}&to=${to}&interval=day&by=${name}`);
      const select = $(name);
      const keys = res.totals.map((t) => t.key).filter(Boolean).sort();
      const first = select.options[0];
      select.replaceChildren(first, ...keys.map((k) => el('option', { value: k }, k)));
      if (view[name] && !keys.includes(view[name])) select.append(el('option', { value: view[name] }, view[name]));
      select.value = view[name];
    } catch {
      // The page itself shows what went wrong.
    }
  }
  // Personas from the personas file in force (docs/architecture.md §20.6); without one the filter is disabled.
  const select = $('persona');
  try {
    const res = await api('/v1/personas');
    const names = [...res.personas.map((p) => p.name), res.fallback.name];
    select.replaceChildren(select.options[0], ...names.map((n) => el('option', { value: n }, n)));
    select.disabled = false;
    select.title = `Personas of ${res.file} (version ${res.version})`;
  } catch (err) {
    select.disabled = !view.persona;
    select.title = `No personas: ${err.message}`;
  }
  if (view.persona && ![...select.options].some((o) => o.value === view.persona)) select.append(el('option', { value: view.persona }, view.persona));
  select.value = view.persona;
}

loadFilterOptions();
render();
