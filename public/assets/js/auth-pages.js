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
  bindForm(form, async (v) => {
    await api('POST', '/api/auth/login', { email: v.email, password: v.password });
    location.assign(sameSitePath(next(), location.origin));
  });
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
