// Credit packs (E3), shared by the pricing and credits pages: each pack as a card with
// a buy button that opens Stripe Checkout. Signed out, buying leads to sign-in first.
import { api } from './api.js';
import { el } from './dom.js';

export function formatMoney(minor, currency) {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(minor / 100);
}

/** Starts a checkout for `pack` and sends the browser to Stripe's page. */
export async function buy(pack) {
  try {
    const { url } = await api('POST', '/api/billing/checkout', { pack }, crypto.randomUUID());
    location.assign(url);
  } catch (e) {
    if (e.status === 401) {
      location.assign(`/login?next=${encodeURIComponent('/pricing')}`);
      return;
    }
    throw e;
  }
}

/** Renders the packs into `container`; `onError` shows what went wrong. */
export async function renderPacks(container, onError) {
  const { items } = await api('GET', '/api/billing/packs');
  container.replaceChildren(...items.map((p) => {
    const button = el('button', { type: 'button', className: 'button primary full', textContent: `Buy ${p.credits} credits` });
    button.addEventListener('click', async () => {
      button.disabled = true;
      try { await buy(p.id); } catch (e) { onError(e); button.disabled = false; }
    });
    const each = formatMoney(Math.round((p.amount / p.credits) * 100) / 100, p.currency);
    return el('article', { className: 'card pack' },
      el('h3', { textContent: `${p.credits} credits` }),
      el('p', { className: 'price', textContent: formatMoney(p.amount, p.currency) }),
      el('p', { className: 'small muted', textContent: `${each} per credit · one payment through Stripe Checkout` }),
      button);
  }));
}
