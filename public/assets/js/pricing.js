// Pricing: the credit packs and what each content type costs, public; buying asks for
// sign-in first when signed out.
import { api } from './api.js';
import { $, el } from './dom.js';
import { renderPacks } from './packs.js';
import { toast } from './ui.js';

function showError(e) {
  const alert = el('div', { className: 'alert danger', textContent: e.message });
  alert.setAttribute('role', 'alert');
  if (e.requestId) alert.append(el('small', { className: 'request-id', textContent: ` Request id: ${e.requestId}` }));
  $('#pricing-error').replaceChildren(alert);
}

async function renderCosts() {
  const { items } = await api('GET', '/api/content-types');
  $('#costs').replaceChildren(...items.map((t) => el('li', { className: 'row' },
    el('div', { className: 'row-main' }, el('strong', { textContent: t.name }), el('p', { className: 'small muted', textContent: t.description })),
    el('span', { className: 'amount', textContent: `${t.price} credit${t.price === 1 ? '' : 's'}` }))));
}

if (new URLSearchParams(location.search).get('checkout') === 'cancelled') toast('Checkout cancelled. Nothing was charged.');
renderPacks($('#packs'), showError).catch(showError);
renderCosts().catch(showError);
