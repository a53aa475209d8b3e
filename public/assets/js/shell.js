// The signed-in header: the credit balance, always visible, with the low-balance warning.
import { api } from './api.js';

export async function refreshBalance() {
  const el = document.querySelector('[data-balance]');
  if (!el) return;
  try {
    const c = await api('GET', '/api/credits');
    el.textContent = `${c.balance} credits${c.held ? ` · ${c.held} held` : ''}`;
    el.classList.toggle('low', c.low_balance);
    el.title = c.low_balance ? 'Your balance is low' : 'Your credit balance';
    if (c.low_balance) el.textContent += ' · low';
  } catch {
    el.textContent = 'Credits';
  }
}

refreshBalance();
