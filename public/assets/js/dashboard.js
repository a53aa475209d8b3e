// The signed-in home: balance, the latest generations, the brands, and — for a new
// account — the first-run path (create a brand → generate). Composed from the existing
// API (me, credits, brands, generations, content types); nothing here is new data.
import { api } from './api.js';
import { $, el, showLoaded } from './dom.js';
import { requireUser } from './shell.js';
import { formatDate, loadFailed } from './ui.js';

const STATUS = { queued: ['Queued', ''], running: ['Running', 'warning'], succeeded: ['Done', 'success'], failed: ['Failed', 'danger'] };

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function renderBalance(c) {
  $('[data-dash-balance]').textContent = plural(c.balance, 'credit');
  const held = $('[data-dash-held]');
  held.replaceChildren();
  if (c.debt > 0) {
    held.append(el('span', { className: 'badge danger', textContent: `Owing ${c.debt}` }), ' Buy credits to continue.');
  } else if (c.low_balance) {
    held.append(el('span', { className: 'badge warning', textContent: 'Low' }), ' ', el('a', { href: '/pricing', textContent: 'Buy credits' }));
  } else {
    held.textContent = c.held ? `${c.held} held for generations in progress` : 'Nothing held';
  }
}

function jobRow(job, brands, types) {
  const [label, tone] = STATUS[job.status] ?? [job.status, ''];
  const what = `${types[job.content_type]?.name ?? job.content_type} · ${brands[job.brand_id]?.name ?? 'Deleted brand'}`;
  return el('li', { className: 'row' },
    el('div', { className: 'row-main' },
      el('strong', { textContent: what }),
      el('p', { className: 'small muted clamp', textContent: job.prompt })),
    el('div', { className: 'row-side' },
      el('span', { className: `badge ${tone}`, textContent: label }),
      el('span', { className: 'small muted', textContent: formatDate(job.created_at) })));
}

function brandRow(b) {
  const swatches = el('span', { className: 'swatches', ariaHidden: 'true' }, ...b.colors.slice(0, 5).map((c) => {
    const s = el('span', { className: 'swatch' });
    s.style.setProperty('--swatch', c.hex);
    return s;
  }));
  const generate = el('a', { className: 'button', href: `/studio?brand_id=${encodeURIComponent(b.id)}`, textContent: 'Generate' });
  generate.setAttribute('aria-label', `Generate for ${b.name}`);
  return el('li', { className: 'row' },
    el('div', { className: 'row-main' },
      el('a', { href: `/brands/edit?id=${encodeURIComponent(b.id)}`, className: 'strong-link', textContent: b.name }),
      el('p', { className: 'small muted clamp', textContent: b.voice || b.description || 'No voice set yet' })),
    el('div', { className: 'row-side' }, swatches, generate));
}

/** A new account: two steps; the first done once a brand exists. */
function renderFirstRun(brands, jobs) {
  const show = brands.length === 0 || jobs.length === 0;
  $('#first-run').hidden = !show;
  if (!show) return;
  const step = (name) => $(`[data-step="${name}"]`);
  const done = brands.length > 0;
  step('brand').classList.toggle('done', done);
  if (done) {
    const action = step('brand').querySelector('[data-step-action]');
    action.className = 'button';
    action.textContent = 'Edit your brand';
    action.href = `/brands/edit?id=${encodeURIComponent(brands[0].id)}`;
    step('brand').querySelector('h3').append(el('span', { className: 'badge success', textContent: 'Done' }));
    const go = step('generate').querySelector('[data-step-action]');
    go.className = 'button primary';
    go.textContent = 'Generate your first post';
    go.href = `/studio?brand_id=${encodeURIComponent(brands[0].id)}`;
  } else {
    const go = step('generate').querySelector('[data-step-action]');
    go.setAttribute('aria-disabled', 'true');
    go.removeAttribute('href');
    go.setAttribute('role', 'link');
    go.title = 'Create a brand first';
  }
  $('#new-generation').hidden = !done;
}

async function main() {
  const me = await requireUser();
  if (!me) return;
  const [credits, brandPage, jobPage, ct] = await Promise.all([
    api('GET', '/api/credits'),
    api('GET', '/api/brands?limit=100'),
    api('GET', '/api/generations?limit=5'),
    api('GET', '/api/content-types'),
  ]);
  const brands = brandPage.items;
  const byId = Object.fromEntries(brands.map((b) => [b.id, b]));
  const types = Object.fromEntries(ct.items.map((t) => [t.id, t]));
  $('#greeting').textContent = `Welcome, ${me.name.split(/\s+/)[0]}`;
  renderBalance(credits);
  $('[data-dash-brand-count]').textContent = brandPage.next_cursor ? '100+' : String(brands.length);
  $('#recent').replaceChildren(...jobPage.items.map((j) => jobRow(j, byId, types)));
  $('#recent-empty').hidden = jobPage.items.length > 0;
  $('#dash-brands').replaceChildren(...brands.slice(0, 6).map(brandRow));
  $('#dash-brands-empty').hidden = brands.length > 0;
  renderFirstRun(brands, jobPage.items);
  showLoaded($('#dashboard'));
}

main().catch(loadFailed);
