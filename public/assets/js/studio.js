// The studio: choose a brand and a content type (price shown), write the request,
// submit, and watch the job go queued → running → done in place; favourite, delete or
// regenerate the results.
//
// Every submit carries an Idempotency-Key. The key belongs to what the form says: it is
// kept until a submit succeeds or the person changes a field, so a double click, a second
// Enter or a retry after a lost answer all name the same job and it is charged once.
import { api } from './api.js';
import { $, showLoaded } from './dom.js';
import { bindForm, loadFailed, toast } from './ui.js';
import { refreshBalance, requireUser } from './shell.js';
import { renderJob, follow, cardOptions, hasEnded } from './job-card.js';

const form = $('#studio-form');
let types = {};
let pendingKey = null;

const options = cardOptions({ types: () => types, show });

function showPrice() {
  const t = types[form.elements.content_type.value];
  if (!t) return;
  $('[data-price]').textContent = `${t.description} Costs ${t.price} credit${t.price === 1 ? '' : 's'}.`;
  $('[data-submit]').textContent = `Generate · ${t.price} credit${t.price === 1 ? '' : 's'}`;
}

const endedToast = (job) => toast(job.status === 'succeeded' ? 'Your content is ready.' : 'The generation failed. No credits were used.');

/** Shows a job's card (once, however many answers name it) and follows it to the end. */
function show(job) {
  if (document.getElementById(`job-${job.id}`)) return;
  const li = renderJob(job, options);
  $('#jobs').prepend(li);
  if (hasEnded(job)) return;
  follow(job, li, options).then((done) => {
    if (done) endedToast(done);
  });
}

async function submit(values) {
  pendingKey ??= crypto.randomUUID();
  const job = await api('POST', '/api/generations', values, pendingKey);
  pendingKey = null;
  show(job);
  // The hold shows at once. The queue can finish a job before its submit is answered:
  // then nothing follows it, so the charge and the news come from here.
  refreshBalance();
  if (hasEnded(job)) endedToast(job);
}

async function main() {
  if (!(await requireUser())) return;
  const [brands, ct] = await Promise.all([api('GET', '/api/brands?limit=100'), api('GET', '/api/content-types')]);
  types = Object.fromEntries(ct.items.map((t) => [t.id, t]));
  showLoaded(form);
  if (brands.items.length === 0) {
    form.hidden = true;
    $('#first-run').hidden = false;
    return;
  }
  form.elements.brand_id.replaceChildren(...brands.items.map((b) => new Option(b.name, b.id)));
  form.elements.content_type.replaceChildren(...ct.items.map((t) => new Option(`${t.name} — ${t.price} credit${t.price === 1 ? '' : 's'}`, t.id)));
  const params = new URLSearchParams(location.search);
  if (params.get('brand_id')) form.elements.brand_id.value = params.get('brand_id');
  form.elements.content_type.addEventListener('change', showPrice);
  // A changed request is a new request: it gets a new key on its next submit.
  form.addEventListener('input', () => { pendingKey = null; });
  showPrice();
  bindForm(form, async (v) => {
    await submit({ brand_id: v.brand_id, content_type: v.content_type, prompt: v.prompt });
  });
  // The latest few jobs, so a reload (or coming back) shows what is still running.
  const recent = await api('GET', '/api/generations?limit=5');
  for (const job of recent.items.reverse()) show(job);
}

main().catch(loadFailed);
