// F5: the public privacy request form. The address is where the confirmation goes.
// (Signed in, the request is the account's and confirmed to its address; settings lists
// it with its status. The page does not ask who is signed in: a signed-out visitor's
// browser would log the 401.)
import { api } from './api.js';
import { bindForm } from './ui.js';
import './shell.js';

const form = document.querySelector('form');
const done = document.querySelector('[data-done]');

bindForm(form, async (v) => {
  const body = { kind: v.kind, email: v.email };
  if (v.message.trim()) body.message = v.message;
  const made = await api('POST', '/api/privacy-requests', body);
  form.hidden = true;
  done.hidden = false;
  done.querySelector('[data-message]').textContent = `Your reference is ${made.id}. We sent a confirmation by email.`;
  done.querySelector('h2').focus();
});
