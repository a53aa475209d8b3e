// Settings: profile (name, email), password, sessions, recent activity.
import { api } from './api.js';
import { $, el, showLoaded } from './dom.js';
import { requireUser } from './shell.js';
import { bindForm, toast, formatDate, showError } from './ui.js';
import { initExports } from './settings-export.js';
import { initPrivacySettings } from './privacy-settings.js';

const EVENT_LABELS = {
  signed_up: 'Account created',
  signed_in: 'Signed in',
  sign_in_failed: 'Failed sign-in attempt',
  signed_out: 'Signed out',
  signed_out_everywhere: 'Signed out everywhere',
  session_revoked: 'Session revoked',
  password_changed: 'Password changed',
  password_reset_requested: 'Password reset requested',
  password_reset: 'Password reset',
  email_verified: 'Email confirmed',
  email_change_requested: 'Email change requested',
  email_changed: 'Email changed',
  profile_updated: 'Profile updated',
  export_requested: 'Data export requested',
  export_ready: 'Data export ready',
  account_closed: 'Account closed',
  account_reopened: 'Account reopened',
  privacy_request_made: 'Privacy request sent',
  privacy_request_updated: 'Privacy request updated',
  policy_notice_seen: 'Privacy policy update seen',
};

/** An event without a label of its own, readable: `admin_role_granted` → "Admin role granted". */
function readable(kind) {
  const words = kind.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function renderProfile(me) {
  $('[data-user-name]').textContent = me.name;
  $('[data-user-email]').textContent = me.email;
  const form = $('#profile-form');
  form.elements.name.value = me.name;
  form.elements.email.value = me.pending_email ?? me.email;
  const status = $('[data-email-status]');
  status.replaceChildren();
  if (me.pending_email) {
    status.append(el('span', { className: 'badge warning' }, 'Waiting for confirmation'),
      ` We sent a link to ${me.pending_email}. Your address stays ${me.email} until you follow it.`);
  } else if (!me.email_verified) {
    const resend = el('button', { type: 'button', className: 'button', textContent: 'Send the link again' });
    resend.addEventListener('click', async () => {
      try { await api('POST', '/api/auth/verify/resend', {}); toast('Confirmation email sent.'); } catch (e) { toast(e.message); }
    });
    status.append(el('span', { className: 'badge warning' }, 'Not confirmed'), ' ', resend);
  } else {
    status.append(el('span', { className: 'badge success' }, 'Confirmed'));
  }
}

async function loadSessions() {
  const list = $('#sessions-list');
  const { items } = await api('GET', '/api/sessions');
  list.replaceChildren(...items.map((s) => {
    const action = s.current
      ? el('span', { className: 'badge success' }, 'This device')
      : el('button', { type: 'button', className: 'button danger', textContent: 'Revoke' });
    if (!s.current) {
      action.setAttribute('aria-label', `Revoke session on ${s.device}`);
      action.addEventListener('click', async () => {
        action.disabled = true;
        try { await api('DELETE', `/api/sessions/${s.id}`); toast('Session revoked.'); await loadSessions(); } catch (e) { toast(e.message); action.disabled = false; }
      });
    }
    return el('li', { className: 'row' },
      el('div', {}, el('strong', {}, s.device), el('p', { className: 'small muted' }, `Signed in ${formatDate(s.created_at)} · last active ${formatDate(s.last_seen_at)}`)),
      action);
  }));
}

async function loadActivity(cursor) {
  const list = $('#activity-list');
  const more = $('#activity-more');
  const page = await api('GET', `/api/activity?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  if (!cursor) list.replaceChildren();
  list.append(...page.items.map((e) => el('li', { className: 'row' },
    el('div', {}, el('strong', {}, EVENT_LABELS[e.kind] ?? readable(e.kind)), el('p', { className: 'small muted' }, e.device ?? '')),
    el('time', { className: 'small muted', dateTime: new Date(e.created_at).toISOString() }, formatDate(e.created_at)))));
  more.hidden = !page.next_cursor;
  more.onclick = () => loadActivity(page.next_cursor);
}

async function main() {
  const me = await requireUser();
  if (!me) return;
  showLoaded($('#settings'));
  renderProfile(me);
  if (new URLSearchParams(location.search).get('welcome')) toast('Welcome to Blimari! Check your email to confirm your address.');

  bindForm($('#profile-form'), async (v) => {
    const body = { name: v.name };
    if (v.email.trim().toLowerCase() !== me.email && v.email.trim().toLowerCase() !== me.pending_email) {
      body.email = v.email;
      body.current_password = v.current_password;
    }
    const updated = await api('PATCH', '/api/me', body);
    Object.assign(me, updated);
    renderProfile(updated);
    $('#profile-form').elements.current_password.value = '';
    toast(body.email ? 'Check your new address to confirm the change.' : 'Profile saved.');
  });

  bindForm($('#password-form'), async (v) => {
    const res = await api('POST', '/api/auth/password', { current_password: v.current_password, new_password: v.new_password });
    $('#password-form').reset();
    toast(res.other_sessions_ended ? `Password changed. ${res.other_sessions_ended} other session(s) signed out.` : 'Password changed.');
    await loadSessions();
    await loadActivity();
  });

  $('#sign-out').addEventListener('click', async () => {
    await api('POST', '/api/auth/logout', {});
    location.assign('/login');
  });
  $('#sign-out-everywhere').addEventListener('click', async () => {
    await api('DELETE', '/api/sessions');
    location.assign('/login');
  });

  initExports();
  initPrivacySettings(me);

  try {
    await Promise.all([loadSessions(), loadActivity()]);
  } catch (e) {
    showError($('#password-form'), e);
  }
}

main();
