// Settings, data rights (issue 12): the policy version (F6), privacy requests with their
// status (F5), and closing the account (F3). Its own module, so the settings page's other
// sections stay as they are.
import { api, clientConfig } from './api.js';
import { $, el } from './dom.js';
import { bindForm, toast, formatDate, showError } from './ui.js';

const KINDS = { access: 'Access', correction: 'Correction', deletion: 'Deletion', objection: 'Objection', other: 'Other' };
const STATUSES = { received: ['Received', ''], in_progress: ['In progress', 'warning'], completed: ['Completed', 'success'], rejected: ['Declined', 'danger'] };

async function loadRequests() {
  const list = $('#privacy-requests');
  try {
    const { items } = await api('GET', '/api/privacy-requests?limit=20');
    $('#privacy-requests-empty').hidden = items.length > 0;
    list.replaceChildren(...items.map((r) => {
      const [label, tone] = STATUSES[r.status] ?? [r.status, ''];
      return el('li', { className: 'row' },
        el('div', {}, el('strong', {}, `${KINDS[r.kind] ?? r.kind} request`),
          el('p', { className: 'small muted' }, `Sent ${formatDate(r.created_at)} · reference ${r.id}${r.message ? ` · “${r.message.slice(0, 80)}${r.message.length > 80 ? '…' : ''}”` : ''}`)),
        el('span', { className: `badge ${tone}`.trim() }, label));
    }));
  } catch (e) {
    showError($('#privacy-request-form'), e);
  }
}

export function initPrivacySettings(me) {
  if (me.policy) {
    $('[data-policy-accepted]').textContent = me.policy.accepted;
    $('[data-policy-current]').textContent = me.policy.current;
  }

  bindForm($('#privacy-request-form'), async (v) => {
    const body = { kind: v.kind };
    if (v.message.trim()) body.message = v.message;
    const made = await api('POST', '/api/privacy-requests', body);
    $('#privacy-request-form').reset();
    toast(`Request sent (reference ${made.id}). We emailed you a confirmation.`);
    await loadRequests();
  });

  bindForm($('#delete-account-form'), async (v) => {
    if (!window.confirm('Close your account? You will be signed out everywhere now.')) return;
    const closed = await api('DELETE', '/api/account', { password: v.password });
    // Signed out already; the sign-in page explains how to reopen.
    location.assign(`/login?closed=${encodeURIComponent(closed.purge_after)}`);
  });

  loadRequests();
  clientConfig().then((c) => {
    const seconds = c.account_deletion_grace_seconds;
    if (!seconds) return;
    const days = seconds / 86400;
    $('[data-grace-days]').textContent = days >= 1 ? `${Math.round(days)} day${Math.round(days) === 1 ? '' : 's'}` : `${seconds} seconds`;
  });
}
