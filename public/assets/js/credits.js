// Credits: balance, held credits, debt, the low-balance warning, buying packs, the
// purchases with their receipts, and the ledger history.
import { api } from './api.js';
import { $, el } from './dom.js';
import { formatMoney, renderPacks } from './packs.js';
import { refreshBalance, requireUser } from './shell.js';
import { formatDate, toast } from './ui.js';

const LABELS = { grant: 'Starter credits', purchase: 'Purchase', hold: 'Held for a generation', capture: 'Spent on a generation', release: 'Released: generation failed', refund: 'Refund', clawback: 'Taken back: payment refunded or disputed', adjustment: 'Adjustment' };
const SIGN = { grant: '+', purchase: '+', release: '+', refund: '−', clawback: '−', hold: '−', capture: '', adjustment: '±' };
// A website import (B5) is paid by one capture with no hold before it: it lowers the balance.
const isImport = (e) => e.kind === 'capture' && e.reference.startsWith('import:');
const label = (e) => (isImport(e) ? 'Spent on a website import' : LABELS[e.kind] ?? e.kind);
const sign = (e) => (isImport(e) ? '−' : SIGN[e.kind] ?? '');
let cursor = null;

async function loadLedger(more = false) {
  const page = await api('GET', `/api/credits/ledger?limit=25${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  const rows = page.items.map((e) => el('li', { className: 'row' },
    el('div', {}, el('strong', { textContent: label(e) }), el('p', { className: 'small muted', textContent: formatDate(e.created_at) })),
    el('span', { className: 'amount', textContent: `${sign(e)}${e.amount}` })));
  if (more) $('#ledger').append(...rows); else $('#ledger').replaceChildren(...rows);
  cursor = page.next_cursor;
  $('#ledger-more').hidden = !cursor;
}

const STATUS = { paid: ['Paid', 'success'], pending: ['Payment pending', 'warning'], failed: ['Payment failed', 'danger'], refunded: ['Refunded', 'warning'], disputed: ['Disputed', 'danger'] };

async function loadPurchases() {
  const { items } = await api('GET', '/api/billing/purchases?limit=50');
  $('#purchases-empty').hidden = items.length > 0;
  $('#purchases').replaceChildren(...items.map((p) => {
    const [label, tone] = STATUS[p.status] ?? [p.status, ''];
    const details = el('p', { className: 'small muted', textContent: `${formatDate(p.created_at)} · ${formatMoney(p.amount, p.currency)}` });
    if (p.amount_refunded) details.append(` · ${formatMoney(p.amount_refunded, p.currency)} refunded`);
    const side = el('span', {}, el('span', { className: `badge ${tone}`, textContent: label }));
    if (p.receipt_url) side.append(' ', el('a', { href: p.receipt_url, target: '_blank', rel: 'noopener', textContent: 'Receipt' }));
    return el('li', { className: 'row' }, el('div', {}, el('strong', { textContent: `${p.credits} credits` }), details), side);
  }));
}

async function loadBalance() {
  const c = await api('GET', '/api/credits');
  $('[data-credit-balance]').textContent = `${c.balance} credits`;
  $('[data-credit-held]').textContent = c.held ? `${c.held} held for generations in progress.` : 'Nothing held.';
  $('[data-low]').hidden = !c.low_balance || c.debt > 0;
  const debt = $('[data-debt]');
  debt.hidden = !c.debt;
  debt.textContent = c.debt ? `You owe ${c.debt} credits after a refund or dispute. New generations are paused until a purchase covers it.` : '';
  return c;
}

/** Back from Stripe: the credits arrive with the webhook, usually within seconds. */
async function afterCheckout() {
  toast('Payment received. Your credits arrive in a moment.');
  history.replaceState(null, '', '/credits');
  const start = (await api('GET', '/api/credits')).balance;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const c = await loadBalance();
    if (c.balance !== start) break;
  }
  await Promise.all([loadPurchases(), loadLedger(), refreshBalance()]);
}

function showBuyError(e) {
  const alert = el('div', { className: 'alert danger', textContent: e.message });
  alert.setAttribute('role', 'alert');
  $('#buy-error').replaceChildren(alert);
}

async function main() {
  if (!(await requireUser())) return;
  await loadBalance();
  $('#ledger-more').addEventListener('click', () => loadLedger(true));
  await Promise.all([loadLedger(), loadPurchases(), renderPacks($('#packs'), showBuyError)]);
  if (new URLSearchParams(location.search).get('checkout') === 'success') await afterCheckout();
}

main().catch((e) => toast(e.message));
