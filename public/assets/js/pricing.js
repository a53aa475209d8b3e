// Pricing: the credit packs, public; buying asks for sign-in first when signed out.
import { $, el } from './dom.js';
import { renderPacks } from './packs.js';
import { toast } from './ui.js';

function showError(e) {
  const alert = el('div', { className: 'alert danger', textContent: e.message });
  alert.setAttribute('role', 'alert');
  if (e.requestId) alert.append(el('small', { className: 'request-id', textContent: ` Request id: ${e.requestId}` }));
  $('#pricing-error').replaceChildren(alert);
}

if (new URLSearchParams(location.search).get('checkout') === 'cancelled') toast('Checkout cancelled. Nothing was charged.');
renderPacks($('#packs'), showError).catch(showError);
