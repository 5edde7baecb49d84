// Shared pieces of the workspace pages: the API call with the read key, DOM building, tables with CSV download,
// charts (ECharts, loaded by index.html as a file served from node_modules) and the loading/empty/error states.
import { toCsv } from './format.js';

export const KEY_STORAGE = 'touchstream.readKey';
export const session = { key: localStorage.getItem(KEY_STORAGE) || '', onUnauthorized: () => {} };

export class ApiError extends Error {}

/** Calls the query API (same origin) with the read key; a 401 reopens the sign-in dialog saying why. */
export async function api(path, { method = 'GET', body } = {}) {
  if (!session.key) {
    session.onUnauthorized('Sign in to load the data: no read key is stored in this browser yet.');
    throw new ApiError('a read key is needed');
  }
  const headers = { authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    session.onUnauthorized('The query service did not accept the stored key as a read key (it may have been rotated). Enter a current read key.');
    throw new ApiError('the read key was not accepted');
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(json.message || `${res.status} ${res.statusText}`);
  return json;
}

/** el('div', {class: 'x', onclick: f}, child, 'text') */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    // Through the CSSOM: the content security policy (no inline style) blocks a style attribute, not this.
    else if (k === 'style') node.style.cssText = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function panel(title, ...children) {
  const id = `h-${Math.random().toString(36).slice(2, 8)}`;
  return el('section', { class: 'panel', 'aria-labelledby': id }, el('h2', { id }, title), ...children);
}

export const loading = (what) => el('div', { class: 'state', role: 'status' }, `Loading ${what}…`);
export const empty = (text) => el('div', { class: 'state empty' }, text);
export const failed = (err, what) =>
  el('div', { class: 'state error', role: 'alert' }, `Could not load ${what}: ${err.message}. Check the filters, or that the query service answers at /readyz, then press Apply to retry.`);

/** Runs `load` with a loading state in `box`, then replaces it with what `render` returns (or the error state). */
export async function fill(box, what, load, render) {
  box.replaceChildren(loading(what));
  try {
    const data = await load();
    box.replaceChildren(...[render(data)].flat().filter(Boolean));
    return data;
  } catch (err) {
    box.replaceChildren(failed(err, what));
    return undefined;
  }
}

/**
 * A table with a "Download CSV" button. columns: [{key, label, format?, num?, csv?, cell?, csvOnly?}]; `cell(row)` may
 * return a node (a link, a button).
 */
export function dataTable(name, rows, columns, { caption, emptyText = 'Nothing in this range: widen the range or clear a filter.', rowAttrs } = {}) {
  if (!rows.length) return empty(emptyText);
  // `csvOnly` columns go into the download but not on screen (a wide table shows some figures combined).
  const shown = columns.filter((c) => !c.csvOnly);
  const table = el('table', { dataset: { table: name } },
    caption ? el('caption', { class: 'note' }, caption) : null,
    el('thead', {}, el('tr', {}, shown.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    el('tbody', {}, rows.map((r) => el('tr', rowAttrs ? rowAttrs(r) : {}, shown.map((c) => {
      const v = c.cell ? c.cell(r) : c.format ? c.format(r[c.key], r) : r[c.key] ?? '–';
      return el('td', { class: c.num ? 'num' : null, dataset: { col: c.key } }, v);
    })))),
  );
  return el('div', { class: 'table-wrap' }, el('div', { class: 'panel-head' }, el('span', { class: 'note' }, `${rows.length} ${rows.length === 1 ? 'row' : 'rows'}`), csvButton(name, rows, columns)), el('div', { class: 'scroll' }, table));
}

/** A "Download CSV" button for rows (also for rows shown some other way, like the heat map). */
export function csvButton(name, rows, columns) {
  return el('button', {
    type: 'button',
    class: 'csv',
    'aria-label': `Download ${name} as CSV`,
    onclick: () => {
      const url = URL.createObjectURL(new Blob([toCsv(rows, columns)], { type: 'text/csv' }));
      const a = el('a', { href: url, download: `${name}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  }, 'Download CSV');
}

const charts = new Set();
/** An ECharts chart in a new box, resized with the window; `label` names it for screen readers. */
export function chart(option, label, { tall = false } = {}) {
  const box = el('div', { class: tall ? 'chart tall' : 'chart', role: 'img', 'aria-label': label });
  requestAnimationFrame(() => {
    if (!box.isConnected) return;
    const c = window.echarts.init(box, null, { renderer: 'canvas' });
    c.setOption({ animation: false, textStyle: { fontFamily: 'system-ui, sans-serif' }, ...option });
    charts.add(c);
  });
  return box;
}
export function disposeCharts() {
  for (const c of charts) c.dispose();
  charts.clear();
}
window.addEventListener('resize', () => { for (const c of charts) c.resize(); });

export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }) : '–');
export const pct = (v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`);
export const num = (v, digits = 2) => (v == null ? '–' : (Math.round(v * 10 ** digits) / 10 ** digits).toLocaleString('en'));
