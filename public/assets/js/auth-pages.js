// Sign up, sign in, forgot password, reset password, verify email: one module, the
// page's `data-page` attribute says which.
import { api, currentUser } from './api.js';
import { bindForm, showDevMailbox, tokenFromFragment, showError } from './ui.js';
import './shell.js';
import { safeNext as sameSitePath } from './next.js';

const page = document.body.dataset.page;
const form = document.querySelector('form');
const done = document.querySelector('[data-done]');

function finish(message) {
  form.hidden = true;
  done.hidden = false;
  if (message) done.querySelector('[data-message]').textContent = message;
  done.querySelector('h2, h1')?.focus();
}

const next = () => new URLSearchParams(location.search).get('next') || '/dashboard';

if (page === 'signup') {
  bindForm(form, async (v) => {
    await api('POST', '/api/auth/signup', { name: v.name, email: v.email, password: v.password });
    if (await currentUser()) location.assign('/brands?welcome=1');
    else finish(`We sent a message to ${v.email.trim().toLowerCase()}. Follow it to continue.`);
  });
  showDevMailbox(document.querySelector('[data-dev]'));
}

if (page === 'login') {
  // Already signed in (a bookmark, the back button): straight on to where sign-in leads.
  currentUser().then((me) => { if (me) location.replace(sameSitePath(next(), location.origin)); }).catch(() => {});
  // F3: just closed (from settings): how to change one's mind.
  const closedUntil = Number(new URLSearchParams(location.search).get('closed'));
  if (closedUntil > 0) {
    const note = document.createElement('div');
    note.className = 'alert success';
    note.setAttribute('role', 'status');
    const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(closedUntil));
    note.textContent = `Your account is closed and you are signed out everywhere. We emailed you a confirmation. Until ${when} you can sign in here to reopen it.`;
    form.querySelector('.form-error').before(note);
  }
  bindForm(form, async (v) => {
    try {
      await api('POST', '/api/auth/login', { email: v.email, password: v.password });
    } catch (e) {
      // F3: the right password for a closed account within its grace period.
      if (e.problem?.type !== 'https://blimari.space/problems/account-closing') throw e;
      offerReopening(v, e.problem.reopen_until);
      return;
    }
    location.assign(sameSitePath(next(), location.origin));
  });
}

/** A closed account can be reopened until `until`: say so, with one button. */
function offerReopening(values, until) {
  const box = form.querySelector('.form-error');
  const alert = document.createElement('div');
  alert.className = 'alert warning';
  alert.setAttribute('role', 'alert');
  alert.dataset.reopen = '';
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(until));
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'button primary';
  button.textContent = 'Reopen my account';
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', '/api/account/reopen', { email: values.email, password: values.password });
      location.assign(sameSitePath(next(), location.origin));
    } catch (e) {
      button.disabled = false;
      alert.replaceChildren(e.message);
    }
  });
  alert.append(`This account is closed. It will be erased after ${when}; until then you can reopen it and keep everything. `, button);
  box.replaceChildren(alert);
  button.focus();
}

if (page === 'forgot') {
  bindForm(form, async (v) => {
    await api('POST', '/api/auth/reset/request', { email: v.email });
    finish(`If ${v.email.trim().toLowerCase()} has an account, a reset link is on its way. It works for one hour.`);
  });
  showDevMailbox(document.querySelector('[data-dev]'));
}

if (page === 'reset') {
  const token = tokenFromFragment();
  bindForm(form, async (v) => {
    if (v.new_password !== v.confirm) {
      throw Object.assign(new Error('The two passwords do not match.'), { fields: { confirm: 'The two passwords do not match.' } });
    }
    await api('POST', '/api/auth/reset/confirm', { token: token ?? '', new_password: v.new_password });
    finish();
  });
  if (!token) showError(form, new Error('This page needs the link from your email. Ask for a new one below.'));
}

if (page === 'verify') {
  const token = tokenFromFragment();
  const status = document.querySelector('[data-status]');
  (async () => {
    if (!token) {
      // Nothing to confirm: say so without asking the API (which would answer 422).
      status.textContent = 'This page needs the link from your email. Open the link in the message we sent, or send a new one from your settings.';
      status.classList.add('danger');
      return;
    }
    try {
      const res = await api('POST', '/api/auth/verify', { token: token ?? '' });
      status.textContent = res.status === 'email_changed'
        ? `Your email address is now ${res.email}.`
        : `Thanks — ${res.email} is confirmed.`;
    } catch (e) {
      status.textContent = e.message;
      status.classList.add('danger');
    }
    history.replaceState(null, '', location.pathname);
  })();
}
