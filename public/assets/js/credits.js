// Credits: balance, held credits, the low-balance warning and the ledger history.
import { api } from './api.js';
import { $, el } from './dom.js';
import { requireUser } from './shell.js';
import { formatDate, toast } from './ui.js';

const LABELS = { grant: 'Starter credits', purchase: 'Purchase', hold: 'Held for a generation', capture: 'Spent on a generation', release: 'Released: generation failed', refund: 'Refund', clawback: 'Clawback', adjustment: 'Adjustment' };
const SIGN = { grant: '+', purchase: '+', release: '+', refund: '−', clawback: '−', hold: '−', capture: '', adjustment: '±' };
let cursor = null;

async function loadLedger(more = false) {
  const page = await api('GET', `/api/credits/ledger?limit=25${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  const rows = page.items.map((e) => el('li', { className: 'row' },
    el('div', {}, el('strong', { textContent: LABELS[e.kind] ?? e.kind }), el('p', { className: 'small muted', textContent: formatDate(e.created_at) })),
    el('span', { className: 'amount', textContent: `${SIGN[e.kind] ?? ''}${e.amount}` })));
  if (more) $('#ledger').append(...rows); else $('#ledger').replaceChildren(...rows);
  cursor = page.next_cursor;
  $('#ledger-more').hidden = !cursor;
}

async function main() {
  if (!(await requireUser())) return;
  const c = await api('GET', '/api/credits');
  $('[data-credit-balance]').textContent = `${c.balance} credits`;
  $('[data-credit-held]').textContent = c.held ? `${c.held} held for generations in progress.` : 'Nothing held.';
  $('[data-low]').hidden = !c.low_balance;
  $('#ledger-more').addEventListener('click', () => loadLedger(true));
  await loadLedger();
}

main().catch((e) => toast(e.message));
