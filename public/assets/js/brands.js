// Brand list: the user's brands (or archived ones), the storage meter, the first-run path.
import { api } from './api.js';
import { $, el, showLoaded } from './dom.js';
import { requireUser } from './shell.js';
import { toast, formatBytes } from './ui.js';

const archived = new URLSearchParams(location.search).get('archived') === 'true';

function card(b) {
  const swatches = el('div', { className: 'swatches' }, ...b.colors.map((c) => {
    const s = el('span', { className: 'swatch', title: `${c.role} ${c.hex}` });
    s.style.setProperty('--swatch', c.hex);
    return s;
  }));
  const logo = b.logo_upload_id
    ? el('img', { className: 'brand-logo', src: `/api/uploads/${b.logo_upload_id}/content`, alt: `${b.name} logo`, width: 48, height: 48 })
    : el('div', { className: 'brand-logo placeholder', ariaHidden: 'true', textContent: b.name.slice(0, 1).toUpperCase() });
  return el('li', {}, el('a', { className: 'card brand-card', href: `/brands/edit?id=${b.id}` },
    logo, el('div', {}, el('h3', { textContent: b.name }), el('p', { className: 'small muted', textContent: b.voice || b.description || 'No voice set yet' }), swatches)));
}

async function main() {
  if (!(await requireUser())) return;
  const [list, files] = await Promise.all([api('GET', `/api/brands?limit=100${archived ? '&archived=true' : ''}`), api('GET', '/api/uploads?limit=1')]);
  showLoaded($('#brands'));
  const { used_bytes: used, quota_bytes: quota } = files.usage;
  const meter = $('#storage-meter');
  meter.max = quota;
  meter.value = used;
  $('#storage-text').textContent = `${formatBytes(used)} of ${formatBytes(quota)} used`;
  $('#archived-toggle').href = archived ? '/brands' : '/brands?archived=true';
  $('#archived-toggle').textContent = archived ? 'Show active brands' : 'Show archived brands';
  $('#list-title').textContent = archived ? 'Archived brands' : 'Your brands';
  if (list.items.length === 0) {
    $('#empty').hidden = false;
    if (archived) $('#empty').querySelector('p').textContent = 'No archived brands.';
  }
  $('#brand-list').replaceChildren(...list.items.map(card));
  if (new URLSearchParams(location.search).get('welcome')) toast('Welcome to Blimari! Start by describing your first brand.');
}

main().catch((e) => toast(e.message));
