// Brand editor: every brand field, colours with roles, logo and reference images with
// previews. New brands are created on first save; then the page edits that brand. A new
// brand can start from its website (B5): the import fills the form, nothing is saved
// until the user saves.
import { api } from './api.js';
import { $, el, showLoaded } from './dom.js';
import { refreshBalance, requireUser } from './shell.js';
import { bindForm, toast, formatBytes } from './ui.js';

const ROLES = ['primary', 'secondary', 'accent', 'background', 'text', 'other'];
const form = $('#brand-form');
let brandId = new URLSearchParams(location.search).get('id');
let logoId = null;
let referenceIds = [];
let archived = false;

const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
const paragraphs = (text) => text.split(/\n\s*\n/).map((s) => s.trim()).filter(Boolean);

function colorRow(hex = '#4f46e5', role = 'primary') {
  const n = $('#colors').children.length + 1;
  const picker = el('input', { type: 'color', value: hex, className: 'color-picker' });
  picker.setAttribute('aria-label', `Colour ${n}`);
  const text = el('input', { type: 'text', value: hex, className: 'input hex', name: 'color-hex', maxLength: 7, spellcheck: false });
  text.setAttribute('aria-label', `Colour ${n} hex value`);
  const select = el('select', { className: 'input', name: 'color-role' }, ...ROLES.map((r) => el('option', { value: r, textContent: r, selected: r === role })));
  select.setAttribute('aria-label', `Colour ${n} role`);
  picker.addEventListener('input', () => { text.value = picker.value; });
  text.addEventListener('input', () => { if (/^#[0-9a-f]{6}$/i.test(text.value)) picker.value = text.value; });
  const remove = el('button', { type: 'button', className: 'button', textContent: 'Remove' });
  remove.setAttribute('aria-label', `Remove colour ${n}`);
  const row = el('li', { className: 'color-row' }, picker, text, select, remove);
  remove.addEventListener('click', () => row.remove());
  $('#colors').append(row);
}

function preview(id, label, onRemove) {
  const img = el('img', { src: `/api/uploads/${id}/content`, alt: label, className: 'preview-img' });
  const remove = el('button', { type: 'button', className: 'button', textContent: 'Remove' });
  remove.setAttribute('aria-label', `Remove ${label}`);
  remove.addEventListener('click', onRemove);
  return el('figure', { className: 'preview' }, img, remove);
}

function renderImages() {
  $('#logo-preview').replaceChildren(...(logoId ? [preview(logoId, 'Logo preview', () => { logoId = null; renderImages(); })] : []));
  $('#reference-previews').replaceChildren(...referenceIds.map((id, i) => preview(id, `Reference image ${i + 1}`, () => {
    referenceIds = referenceIds.filter((r) => r !== id);
    renderImages();
  })));
}

async function uploadFile(file) {
  const res = await fetch(`/api/uploads?filename=${encodeURIComponent(file.name)}`, { method: 'POST', body: file, headers: { 'content-type': file.type || 'application/octet-stream' } });
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.detail), { requestId: body.request_id });
  $('#storage-text').textContent = `${formatBytes(body.usage.used_bytes)} of ${formatBytes(body.usage.quota_bytes)} used`;
  return body.upload.id;
}

async function handleFiles(input, onUploaded) {
  const status = input.closest('.field').querySelector('[data-upload-status]');
  for (const file of input.files) {
    status.textContent = `Uploading ${file.name}…`;
    try {
      onUploaded(await uploadFile(file));
      status.textContent = '';
    } catch (e) {
      status.textContent = e.message;
      status.classList.add('error');
    }
  }
  input.value = '';
  renderImages();
}

function fill(b) {
  for (const name of ['name', 'description', 'voice', 'audience']) form.elements[name].value = b[name];
  for (const name of ['words_to_use', 'words_to_avoid', 'banned_claims', 'fonts']) form.elements[name].value = b[name].join('\n');
  form.elements.example_content.value = b.example_content.join('\n\n');
  $('#colors').replaceChildren();
  b.colors.forEach((c) => colorRow(c.hex, c.role));
  logoId = b.logo_upload_id;
  referenceIds = b.reference_upload_ids;
  archived = b.archived;
  $('#page-title').textContent = b.name;
  $('#archive').textContent = archived ? 'Unarchive' : 'Archive';
  document.title = `${b.name} — Blimari`;
  $('#brand-actions').hidden = false;
  renderImages();
}

const FIELD_NAMES = {
  name: 'name', description: 'description', colors: 'colours', fonts: 'fonts', logo: 'logo', voice: 'voice',
  tone: 'tone', audience: 'audience', example_content: 'example content',
};

/** Puts an import's fields into the form: only what it found, nothing saved. */
function fillImported(fields) {
  const v = form.elements;
  for (const name of ['name', 'description', 'voice', 'audience']) if (fields[name]) v[name].value = fields[name];
  if (fields.fonts.length) v.fonts.value = fields.fonts.join('\n');
  if (fields.example_content.length) v.example_content.value = fields.example_content.join('\n\n');
  if (fields.colors.length) {
    $('#colors').replaceChildren();
    fields.colors.forEach((c) => colorRow(c.hex, c.role));
  }
  if (fields.logo_upload_id) logoId = fields.logo_upload_id;
  renderImages();
}

async function setUpImport() {
  const importForm = $('#import-form');
  const quote = await api('GET', '/api/brands/from-website');
  const price = $('#import-price');
  price.textContent = `Costs ${quote.price} credits (you have ${quote.balance}); nothing is charged if the import fails.`;
  importForm.hidden = false;
  bindForm(importForm, async ({ url }) => {
    const result = $('#import-result');
    result.replaceChildren(el('p', { className: 'muted', textContent: 'Reading your website…' }));
    try {
      const imported = await api('POST', '/api/brands/from-website', { url });
      fillImported(imported.fields);
      const missing = imported.not_found.map((f) => FIELD_NAMES[f] ?? f);
      result.replaceChildren(
        el('p', { textContent: `Filled in from ${imported.source_url} for ${imported.price} credits. Check the fields below, then save the brand.` }),
        ...(missing.length ? [el('p', { id: 'import-missing', className: 'muted', textContent: `Not found on the page: ${missing.join(', ')}.` })] : []),
      );
      toast('Imported from your website.');
      refreshBalance();
      form.elements.name.focus();
    } catch (e) {
      result.replaceChildren();
      throw e;
    }
  });
}

function values() {
  const v = form.elements;
  const colors = [...$('#colors').children].map((row) => ({ hex: row.querySelector('.hex').value, role: row.querySelector('select').value }));
  return {
    name: v.name.value, description: v.description.value, voice: v.voice.value, audience: v.audience.value,
    words_to_use: lines(v.words_to_use.value), words_to_avoid: lines(v.words_to_avoid.value),
    banned_claims: lines(v.banned_claims.value), fonts: lines(v.fonts.value),
    example_content: paragraphs(v.example_content.value), colors,
    logo_upload_id: logoId, reference_upload_ids: referenceIds,
  };
}

async function main() {
  if (!(await requireUser())) return;
  const usage = (await api('GET', '/api/uploads?limit=1')).usage;
  $('#storage-text').textContent = `${formatBytes(usage.used_bytes)} of ${formatBytes(usage.quota_bytes)} used`;
  if (brandId) fill(await api('GET', `/api/brands/${brandId}`));
  else colorRow();

  // Everything is bound before the form is shown: a form shown unbound would be sent
  // natively (a GET with every field in the address) by a quick Enter.
  $('#add-color').addEventListener('click', () => colorRow('#000000', 'other'));
  $('#logo-file').addEventListener('change', (e) => handleFiles(e.target, (id) => { logoId = id; }));
  $('#reference-files').addEventListener('change', (e) => handleFiles(e.target, (id) => { referenceIds = [...referenceIds, id]; }));

  bindForm(form, async () => {
    const saved = brandId ? await api('PATCH', `/api/brands/${brandId}`, values()) : await api('POST', '/api/brands', values());
    if (!brandId) history.replaceState(null, '', `/brands/edit?id=${saved.id}`);
    brandId = saved.id;
    $('#import-form').hidden = true;
    fill(saved);
    toast('Brand saved.');
  });
  $('#duplicate').addEventListener('click', async () => {
    const copy = await api('POST', `/api/brands/${brandId}/duplicate`, {});
    location.assign(`/brands/edit?id=${copy.id}`);
  });
  $('#archive').addEventListener('click', async () => {
    fill(await api('PATCH', `/api/brands/${brandId}`, { archived: !archived }));
    toast(archived ? 'Brand archived.' : 'Brand restored.');
  });
  const dialog = $('#delete-dialog');
  $('#delete').addEventListener('click', () => dialog.showModal());
  $('#delete-cancel').addEventListener('click', () => dialog.close());
  $('#delete-confirm').addEventListener('click', async () => {
    await api('DELETE', `/api/brands/${brandId}`);
    location.assign('/brands');
  });
  showLoaded(form);
  if (!brandId) await setUpImport();
}

main().catch((e) => toast(e.message));
