// Settings, "Export your data" (F1): start an export, list them with their status, and
// download the ones that are ready. Polls while one is being prepared.
import { api } from './api.js';
import { $, el } from './dom.js';
import { toast, formatDate } from './ui.js';

const STATUS = {
  queued: ['Waiting', 'warning'],
  running: ['Being prepared', 'warning'],
  ready: ['Ready', 'success'],
  failed: ['Failed', 'danger'],
  expired: ['Expired', ''],
};

function size(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

function row(x) {
  const [label, tone] = STATUS[x.status] ?? [x.status, ''];
  let detail = `Requested ${formatDate(x.created_at)}`;
  if (x.status === 'ready') detail += ` · ${size(x.size_bytes)} · available until ${formatDate(x.expires_at)}`;
  if (x.status === 'failed' && x.failure_reason) detail += ` · ${x.failure_reason}`;
  const action = x.content_url
    ? el('a', { className: 'button', href: x.content_url, download: '', textContent: 'Download' })
    : el('span', { className: `badge ${tone}`.trim() }, label);
  if (x.content_url) action.setAttribute('aria-label', `Download the export of ${formatDate(x.created_at)}`);
  const item = el('li', { className: 'row' },
    el('div', {}, el('strong', {}, x.status === 'ready' ? 'Your data' : label), el('p', { className: 'small muted' }, detail)),
    action);
  item.dataset.exportId = x.id;
  item.dataset.status = x.status;
  return item;
}

let timer = null;

async function load() {
  const { items } = await api('GET', '/api/account/exports?limit=10');
  const list = $('#export-list');
  list.replaceChildren(...(items.length ? items.map(row) : [el('li', { className: 'row muted small' }, 'No exports yet.')]));
  clearTimeout(timer);
  if (items.some((x) => x.status === 'queued' || x.status === 'running')) timer = setTimeout(() => load().catch(() => {}), 2000);
}

export function initExports() {
  const start = $('#export-start');
  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      await api('POST', '/api/account/export', {});
      toast('Your export is being prepared. We will email you when it is ready.');
      await load();
    } catch (e) {
      toast(e.message);
    } finally {
      start.disabled = false;
    }
  });
  load().catch((e) => toast(e.message));
  if (location.hash === '#export') $('#export').scrollIntoView();
}
