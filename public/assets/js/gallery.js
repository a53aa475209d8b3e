// The gallery (D7): outputs by brand, type and prompt text, with download, delete and
// regenerate.
import { api } from './api.js';
import { $, showLoaded } from './dom.js';
import { requireUser } from './shell.js';
import { loadFailed, toast } from './ui.js';
import { renderJob, follow, cardOptions } from './job-card.js';

let types = {};
let cursor = null;

const options = cardOptions({
  types: () => types,
  show: (job, opts) => {
    const li = renderJob(job, opts);
    $('#gallery').prepend(li);
    $('#gallery-empty').hidden = true;
    follow(job, li, opts);
  },
});

async function load(more = false) {
  const f = new FormData($('#filters'));
  const q = new URLSearchParams({ limit: '20' });
  for (const [k, v] of f) if (v) q.set(k, v === 'on' ? 'true' : v);
  if (more && cursor) q.set('cursor', cursor);
  const page = await api('GET', `/api/generations?${q}`);
  const items = page.items.map((j) => renderJob(j, options));
  if (more) $('#gallery').append(...items); else $('#gallery').replaceChildren(...items);
  cursor = page.next_cursor;
  $('#gallery-more').hidden = !cursor;
  $('#gallery-empty').hidden = more || page.items.length > 0;
}

async function main() {
  if (!(await requireUser())) return;
  const [brands, ct] = await Promise.all([api('GET', '/api/brands?limit=100'), api('GET', '/api/content-types')]);
  types = Object.fromEntries(ct.items.map((t) => [t.id, t]));
  $('#f-brand').append(...brands.items.map((b) => new Option(b.name, b.id)));
  $('#f-type').append(...ct.items.map((t) => new Option(t.name, t.id)));
  $('#filters').addEventListener('submit', (e) => { e.preventDefault(); load().catch((err) => toast(err.message)); });
  $('#gallery-more').addEventListener('click', () => load(true).catch((err) => toast(err.message)));
  await load();
  showLoaded($('#gallery'));
}

main().catch(loadFailed);
