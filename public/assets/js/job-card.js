// One generation as a card: live status, the output, the brand check (text) or palette
// check (image), and actions.
// Used by the studio (where it updates itself until done) and the gallery.
import { api } from './api.js';
import { el } from './dom.js';
import { toast, formatDate } from './ui.js';
import { refreshBalance } from './shell.js';
import { renderPaletteCheck } from './palette-check.js';

const STATUS = { queued: 'Queued', running: 'Running', succeeded: 'Done', failed: 'Failed' };

function elapsed(job) {
  const end = job.finished_at ?? Date.now();
  const start = job.started_at ?? job.created_at;
  return `${Math.max(0, Math.round((end - start) / 1000))} s`;
}

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
    star.setAttribute('aria-pressed', String(job.favorite));
    star.addEventListener('click', () => onFavorite(job));
    actions.append(star);
  }
  if (job.status === 'succeeded' || job.status === 'failed') {
    if (onRegenerate) {
      const again = el('button', { type: 'button', className: 'button', textContent: 'Regenerate' });
      again.addEventListener('click', () => onRegenerate(job));
      actions.append(again);
    }
    if (onDelete) {
      const del = el('button', { type: 'button', className: 'button danger', textContent: 'Delete' });
      del.addEventListener('click', () => onDelete(job));
      actions.append(del);
    }
  }
  body.append(actions);
  return el('li', { className: 'card job', id: `job-${job.id}` }, head, body);
}

/** Re-renders the card until the job is done; polls gently (1 s, growing to 4 s). */
export async function follow(job, li, options) {
  let current = job;
  let wait = current.poll_after_ms ?? 1000;
  while (current.status === 'queued' || current.status === 'running') {
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(4000, Math.round(wait * 1.25));
    try { current = await api('GET', `/api/generations/${job.id}`); } catch { continue; }
    const next = renderJob(current, options);
    li.replaceWith(next);
    li = next;
  }
  refreshBalance();
  return current;
}
