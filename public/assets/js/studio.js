// The studio: choose a brand and a content type (price shown), write the request,
// submit, and watch the job go queued → running → done in place.
import { api } from './api.js';
import { $ } from './dom.js';
import { bindForm, toast } from './ui.js';
import { refreshBalance, requireUser } from './shell.js';
import { renderJob, follow } from './job-card.js';

const form = $('#studio-form');
let types = {};

function showPrice() {
  const t = types[form.elements.content_type.value];
  if (!t) return;
  $('[data-price]').textContent = `${t.description} Costs ${t.price} credit${t.price === 1 ? '' : 's'}.`;
  $('[data-submit]').textContent = `Generate · ${t.price} credit${t.price === 1 ? '' : 's'}`;
}

async function submit(values, key) {
  const job = await api('POST', '/api/generations', values, key);
  const options = { types, onRegenerate: (j) => submit({ brand_id: j.brand_id, content_type: j.content_type, prompt: j.prompt }) };
  const li = renderJob(job, options);
  $('#jobs').prepend(li);
  refreshBalance();
  follow(job, li, options).then((done) => toast(done.status === 'succeeded' ? 'Your content is ready.' : 'The generation failed. No credits were used.'));
}

async function main() {
  if (!(await requireUser())) return;
  const [brands, ct] = await Promise.all([api('GET', '/api/brands?limit=100'), api('GET', '/api/content-types')]);
  types = Object.fromEntries(ct.items.map((t) => [t.id, t]));
  if (brands.items.length === 0) {
    $('#first-run').hidden = false;
    return;
  }
  form.elements.brand_id.replaceChildren(...brands.items.map((b) => new Option(b.name, b.id)));
  form.elements.content_type.replaceChildren(...ct.items.map((t) => new Option(`${t.name} — ${t.price} credit${t.price === 1 ? '' : 's'}`, t.id)));
  const params = new URLSearchParams(location.search);
  if (params.get('brand_id')) form.elements.brand_id.value = params.get('brand_id');
  form.elements.content_type.addEventListener('change', showPrice);
  showPrice();
  form.hidden = false;
  bindForm(form, async (v) => {
    await submit({ brand_id: v.brand_id, content_type: v.content_type, prompt: v.prompt });
  });
}

main().catch((e) => toast(e.message));
