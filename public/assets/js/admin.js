// Admin (G3): find users, adjust credits, replay failed jobs, re-run webhook events,
// update privacy requests. The API answers 404 to anyone but an admin.
import { api } from './api.js';
import { $, el, showLoaded } from './dom.js';
import { requireUser } from './shell.js';
import { bindForm, formatDate, toast } from './ui.js';

let current = null;

/** A fresh Idempotency-Key per action, so a retried click acts once. */
const key = () => crypto.randomUUID();

function empty(list, text) {
  list.replaceChildren(el('li', { className: 'row muted', textContent: text }));
}

/** A section's list, or its problem with the request id, never a silent failure. */
async function fill(list, load, emptyText, render) {
  try {
    const page = await load();
    const items = page.items;
    if (!items.length) return empty(list, page.unavailable ?? emptyText);
    list.replaceChildren(...items.map(render));
  } catch (e) {
    const alert = el('li', { className: 'alert danger', textContent: e.message });
    if (e.requestId) alert.append(el('small', { textContent: ` Request id: ${e.requestId}` }));
    list.replaceChildren(alert);
  }
}

const row = (title, detail, ...actions) => el('li', { className: 'row' },
  el('div', {}, el('strong', { textContent: title }), el('p', { className: 'small muted', textContent: detail })), ...actions);

async function showUser(id) {
  const d = await api('GET', `/api/admin/users/${encodeURIComponent(id)}`);
  current = d.user;
  $('#detail-title').textContent = `${d.user.name} — ${d.user.email}`;
  const fact = (k, v) => el('div', { className: 'row' }, el('dt', { textContent: k }), el('dd', { textContent: v }));
  $('#user-facts').replaceChildren(
    fact('User id', d.user.id),
    fact('Role', d.user.role),
    fact('Email', d.user.email_verified_at ? 'verified' : 'not verified'),
    fact('Joined', formatDate(d.user.created_at)),
    fact('Credits', `${d.credits.balance} available · ${d.credits.held} held · ${d.credits.debt} debt`),
  );
  const list = (sel, items, text, render) => (items.length ? $(sel).replaceChildren(...items.map(render)) : empty($(sel), text));
  list('#user-jobs', d.recent_jobs, 'No jobs yet.', (j) => row(`${j.content_type} · ${j.status}`, `${formatDate(j.created_at)} · ${j.price} credits${j.failure_reason ? ` · ${j.failure_reason}` : ''}`));
  list('#user-sessions', d.sessions, 'No open sessions.', (s) => row(s.device, `last seen ${formatDate(s.last_seen_at)}`));
  list('#user-activity', d.activity, 'No activity yet.', (a) => row(a.kind.replaceAll('_', ' '), `${formatDate(a.created_at)}${a.device ? ` · ${a.device}` : ''}`));
  $('#user-detail').hidden = false;
}

async function loadJobs() {
  await fill($('#failed-jobs'), async () => api('GET', '/api/admin/jobs?status=failed&limit=50'), 'No failed jobs.', (j) => {
    const replay = el('button', { className: 'button', type: 'button', textContent: j.replayed_as ? 'Replayed' : 'Replay' });
    replay.disabled = Boolean(j.replayed_as);
    replay.setAttribute('aria-label', `Replay job ${j.id}`);
    replay.addEventListener('click', async () => {
      replay.disabled = true;
      try {
        const r = await api('POST', `/api/admin/jobs/${j.id}/replay`, undefined, key());
        toast(`Replayed as ${r.replay.id}.`);
        await loadJobs();
      } catch (e) {
        replay.disabled = false;
        toast(`${e.message}${e.requestId ? ` (request id ${e.requestId})` : ''}`);
      }
    });
    return row(`${j.id} · ${j.content_type}`, `${j.user_id} · ${formatDate(j.created_at)} · ${j.failure_reason ?? ''}`, replay);
  });
}

async function loadWebhooks() {
  await fill($('#webhook-events'), async () => api('GET', '/api/admin/webhook-events?limit=50'), 'No webhook events.', (w) => {
    const rerun = el('button', { className: 'button', type: 'button', textContent: 'Re-run' });
    rerun.setAttribute('aria-label', `Re-run event ${w.id}`);
    rerun.addEventListener('click', async () => {
      rerun.disabled = true;
      try {
        await api('POST', `/api/admin/webhook-events/${encodeURIComponent(w.id)}/rerun`, undefined, key());
        toast('Event queued again.');
        await loadWebhooks();
      } catch (e) {
        rerun.disabled = false;
        toast(e.message);
      }
    });
    return row(`${w.type} · ${w.status}`, `${w.id} · ${formatDate(w.created_at)} · ${w.attempts} attempts${w.last_error ? ` · ${w.last_error}` : ''}`, rerun);
  });
}

const STATUSES = ['received', 'in_progress', 'completed', 'rejected'];

async function loadPrivacy() {
  await fill($('#privacy-requests'), async () => api('GET', '/api/admin/privacy-requests?limit=50'), 'No privacy requests.', (p) => {
    const select = el('select', { className: 'input', id: `status-${p.id}` });
    select.append(...STATUSES.map((s) => el('option', { value: s, textContent: s.replace('_', ' '), selected: s === p.status })));
    const label = el('label', { htmlFor: select.id, className: 'small', textContent: 'Status ' });
    select.addEventListener('change', async () => {
      try {
        await api('PATCH', `/api/admin/privacy-requests/${encodeURIComponent(p.id)}`, { status: select.value }, key());
        toast('Status updated.');
      } catch (e) {
        select.value = p.status;
        toast(e.message);
      }
    });
    return row(`${p.kind} · ${p.email}`, `${formatDate(p.created_at)}${p.message ? ` · ${p.message}` : ''}`, el('div', {}, label, select));
  });
}

async function main() {
  const me = await requireUser();
  if (!me) return;
  showLoaded($('#admin'));
  bindForm($('#user-search'), async ({ q }) => {
    const { items } = await api('GET', `/api/admin/users?q=${encodeURIComponent(q)}`);
    if (!items.length) return empty($('#user-results'), 'No user matches.');
    $('#user-results').replaceChildren(...items.map((u) => {
      const open = el('button', { className: 'button', type: 'button', textContent: 'Open' });
      open.setAttribute('aria-label', `Open ${u.email}`);
      open.addEventListener('click', () => showUser(u.id).catch((e) => toast(e.message)));
      return row(u.email, `${u.name} · ${u.id} · ${u.role}`, open);
    }));
  });
  bindForm($('#adjust-form'), async ({ credits, reason }) => {
    const amount = Number(credits);
    const r = await api('POST', `/api/admin/users/${current.id}/adjustments`, { credits: Number.isInteger(amount) ? amount : 0, reason }, key());
    toast(`Adjusted: balance now ${r.credits.balance}.`);
    $('#adjust-form').reset();
    await showUser(current.id);
  });
  await Promise.all([loadJobs(), loadWebhooks(), loadPrivacy()]);
}

main().catch((e) => toast(e.message));
