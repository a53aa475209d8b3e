// One generation as a card: live status, the output, the brand check (text) or palette
// check (image), and actions.
// Used by the studio (where it updates itself until done) and the gallery.
import { api } from './api.js';
import { el } from './dom.js';
import { toast, formatDate, confirmAction } from './ui.js';
import { refreshBalance } from './shell.js';
import { renderPaletteCheck } from './palette-check.js';

const STATUS = { queued: 'Queued', running: 'Running', succeeded: 'Done', failed: 'Failed' };

let liveRegion;
/** Says a job's progress to screen readers once per change (the cards themselves are
 *  re-rendered on every poll, too often to be a live region). */
function announce(text) {
  if (!liveRegion) {
    liveRegion = el('div', { className: 'visually-hidden' });
    liveRegion.setAttribute('role', 'status');
    liveRegion.dataset.jobAnnouncer = '';
    document.body.append(liveRegion);
  }
  liveRegion.textContent = text;
}

function elapsed(job) {
  const end = job.finished_at ?? Date.now();
  const start = job.started_at ?? job.created_at;
  return `${Math.max(0, Math.round((end - start) / 1000))} s`;
}

/** Whether a job has ended (succeeded or failed): nothing more will change it. */
export const hasEnded = (job) => job.status === 'succeeded' || job.status === 'failed';

export function renderJob(job, { types = {}, onRegenerate, onDelete, onFavorite } = {}) {
  const badgeClass = { succeeded: 'success', failed: 'danger', running: 'warning', queued: '' }[job.status];
  const head = el('div', { className: 'job-head' },
    el('span', { className: `badge ${badgeClass}`, textContent: STATUS[job.status] }),
    el('strong', { textContent: types[job.content_type]?.name ?? job.content_type }),
    el('span', { className: 'small muted', textContent: job.status === 'queued' ? 'waiting for a worker' : `${elapsed(job)}${job.attempts > 1 ? ` · attempt ${job.attempts}` : ''}` }),
    el('span', { className: 'small muted job-time', textContent: formatDate(job.created_at) }));
  const body = el('div', { className: 'job-body' }, el('p', { className: 'small muted job-prompt', textContent: job.prompt }));
  if (job.status === 'queued' || job.status === 'running') {
    body.append(el('div', { className: 'skeleton skeleton-line' }), el('div', { className: 'skeleton skeleton-line short' }));
  }
  if (job.status === 'failed') {
    body.append(el('p', { className: 'alert danger', textContent: job.failure_reason ?? 'This generation failed. No credits were used.' }));
  }
  const actions = el('div', { className: 'actions' });
  if (job.output?.type === 'text') {
    body.append(el('p', { className: 'job-output', textContent: job.output.text }));
    const copy = el('button', { type: 'button', className: 'button', textContent: 'Copy' });
    copy.addEventListener('click', async () => { await navigator.clipboard?.writeText(job.output.text); toast('Copied.'); });
    const download = el('a', { className: 'button', textContent: 'Download', download: `${job.id}.txt`, href: URL.createObjectURL(new Blob([job.output.text], { type: 'text/plain' })) });
    actions.append(copy, download);
  }
  if (job.output?.type === 'image') {
    body.append(el('img', { className: 'job-image', src: job.output.image_url, alt: `Generated image: ${job.prompt}` }));
    actions.append(el('a', { className: 'button', textContent: 'Download', href: job.output.image_url, download: `${job.id}.png` }));
  }
  if (job.brand_check) {
    const check = el('div', { className: `brand-check ${job.brand_check.passed ? 'pass' : 'fail'}` },
      el('strong', { textContent: job.brand_check.passed ? 'Brand check passed' : 'Brand check failed' }));
    if (!job.brand_check.passed) check.append(el('ul', {}, ...job.brand_check.problems.map((p) => el('li', { textContent: p }))));
    body.append(check);
  }
  if (job.palette_check) body.append(renderPaletteCheck(job.palette_check));
  if (job.status === 'succeeded' && onFavorite) {
    const star = el('button', { type: 'button', className: `button${job.favorite ? ' active' : ''}`, textContent: job.favorite ? '★ Favourite' : '☆ Favourite' });
    star.dataset.action = 'favorite';
    star.setAttribute('aria-pressed', String(job.favorite));
    star.addEventListener('click', () => onFavorite(job, star));
    actions.append(star);
  }
  if (hasEnded(job)) {
    if (onRegenerate) {
      const again = el('button', { type: 'button', className: 'button', textContent: 'Regenerate' });
      again.addEventListener('click', () => onRegenerate(job, again));
      actions.append(again);
    }
    if (onDelete) {
      const del = el('button', { type: 'button', className: 'button danger', textContent: 'Delete' });
      del.addEventListener('click', () => onDelete(job, del));
      actions.append(del);
    }
  }
  body.append(actions);
  const card = el('li', { className: 'card job', id: `job-${job.id}` }, head, body);
  card.dataset.status = job.status;
  return card;
}

/**
 * Re-renders the card until the job is done; polls gently (1 s, growing to 4 s). Stops
 * (resolving null) when the card left the page or the job is gone.
 */
export async function follow(job, li, options) {
  let current = job;
  let wait = current.poll_after_ms ?? 1000;
  while (current.status === 'queued' || current.status === 'running') {
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(4000, Math.round(wait * 1.25));
    try {
      current = await api('GET', `/api/generations/${job.id}`);
    } catch (e) {
      if (e.status === 404) return null;
      continue;
    }
    const shown = document.getElementById(`job-${job.id}`);
    if (!shown) return null;
    const focused = shown.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const before = shown.dataset.status;
    const next = renderJob(current, options);
    shown.replaceWith(next);
    if (focused) next.querySelector(`[data-action="${focused}"]`)?.focus();
    if (before !== current.status) {
      const name = options?.types?.[current.content_type]?.name ?? 'Generation';
      announce(current.status === 'failed'
        ? `${name}: failed. ${current.failure_reason ?? ''} No credits were used.`
        : `${name}: ${STATUS[current.status].toLowerCase()}.`);
    }
  }
  refreshBalance();
  return current;
}

/**
 * What every list of cards (studio, gallery) does with them: favourite, delete (asked
 * first), regenerate (a new job under its own Idempotency-Key, so one click is one job).
 * `show(job)` puts a new job's card in the list and follows it; `types()` gives the
 * content types by id.
 */
export function cardOptions({ types, show }) {
  const options = {
    get types() { return types(); },
    onFavorite: async (job, button) => {
      button.disabled = true;
      try {
        const updated = await api('PATCH', `/api/generations/${job.id}`, { favorite: !job.favorite });
        const card = renderJob(updated, options);
        document.getElementById(`job-${job.id}`)?.replaceWith(card);
        card.querySelector('[data-action="favorite"]')?.focus();
        toast(updated.favorite ? 'Added to favourites.' : 'Removed from favourites.');
      } catch (e) {
        button.disabled = false;
        toast(e.message);
      }
    },
    onDelete: async (job, button) => {
      const sure = await confirmAction({
        title: 'Delete this generation?',
        message: 'The result (and its image) is deleted for good. Credits already spent are not returned.',
        confirm: 'Delete',
      });
      if (!sure) return;
      button.disabled = true;
      try {
        await api('DELETE', `/api/generations/${job.id}`);
        const card = document.getElementById(`job-${job.id}`);
        const next = card?.nextElementSibling ?? card?.previousElementSibling;
        card?.remove();
        next?.querySelector('button')?.focus();
        toast('Deleted.');
      } catch (e) {
        button.disabled = false;
        toast(e.message);
      }
    },
    onRegenerate: async (job, button) => {
      button.disabled = true;
      try {
        const fresh = await api('POST', '/api/generations', { brand_id: job.brand_id, content_type: job.content_type, prompt: job.prompt }, crypto.randomUUID());
        show(fresh, options);
        refreshBalance();
        toast('Regenerating with the same settings.');
      } catch (e) {
        toast(e.message);
      } finally {
        button.disabled = false;
      }
    },
  };
  return options;
}
