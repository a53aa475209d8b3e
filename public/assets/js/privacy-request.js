// F5: the public privacy request form. Signed in, the request is the account's (no
// address asked); signed out, the address is where the confirmation goes.
import { api, currentUser } from './api.js';
import { bindForm } from './ui.js';
import './shell.js';

const form = document.querySelector('form');
const done = document.querySelector('[data-done]');

async function main() {
  let me = null;
  try { me = await currentUser(); } catch { /* the form works signed out */ }
  if (me) {
    document.querySelector('[data-signed-in]').hidden = false;
    document.querySelector('[data-user-email]').textContent = me.email;
    const field = document.querySelector('[data-email-field]');
    field.hidden = true;
    field.querySelector('input').required = false;
  }
  bindForm(form, async (v) => {
    const body = { kind: v.kind };
    if (!me) body.email = v.email;
    if (v.message.trim()) body.message = v.message;
    const made = await api('POST', '/api/privacy-requests', body);
    form.hidden = true;
    done.hidden = false;
    done.querySelector('[data-message]').textContent = `Your reference is ${made.id}. We sent a confirmation to ${me ? me.email : v.email.trim()}.`;
    done.querySelector('h2').focus();
  });
}

main();
