// Shared UI behaviour: forms with field errors, toasts, dates, the dev mailbox note.
import { clientConfig } from './api.js';
import { el } from './dom.js';

let toastRegion;
/** A short message in the corner; it replaces the one showing and goes after 4 s. */
export function toast(message) {
  if (!toastRegion) {
    toastRegion = el('div', { className: 'toast-region' });
    toastRegion.setAttribute('role', 'status');
    toastRegion.setAttribute('aria-live', 'polite');
    document.body.append(toastRegion);
  }
  const note = el('div', { className: 'toast', textContent: message });
  toastRegion.replaceChildren(note);
  setTimeout(() => note.remove(), 4000);
}

/**
 * A page whose data could not load: the skeletons give way to the problem's detail and
 * its request id (for support), at the top of <main>.
 */
export function loadFailed(error) {
  document.querySelectorAll('[data-loading]').forEach((n) => n.remove());
  const alert = el('div', { className: 'alert danger', textContent: error.message });
  alert.setAttribute('role', 'alert');
  if (error.requestId) alert.append(el('small', { className: 'request-id', textContent: ` Request id: ${error.requestId}` }));
  document.getElementById('main')?.prepend(alert);
}

function clearErrors(form) {
  form.querySelectorAll('.error[data-for]').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((i) => { i.removeAttribute('aria-invalid'); i.removeAttribute('aria-describedby'); });
  form.querySelector('.form-error')?.replaceChildren();
}

/** Shows a problem next to the fields it names, or above the form with its request id. */
export function showError(form, error) {
  clearErrors(form);
  const fields = error.fields ?? {};
  let placed = false;
  for (const [name, message] of Object.entries(fields)) {
    const input = form.elements.namedItem(name);
    if (!input) continue;
    const p = el('p', { className: 'error', id: `${input.id}-error`, textContent: message });
    p.dataset.for = name;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', p.id);
    input.closest('.field').append(p);
    if (!placed) input.focus();
    placed = true;
  }
  if (!placed) {
    const box = form.querySelector('.form-error');
    const alert = el('div', { className: 'alert danger', textContent: error.message });
    alert.setAttribute('role', 'alert');
    if (error.requestId) alert.append(el('small', { className: 'request-id', textContent: ` Request id: ${error.requestId}` }));
    box.replaceChildren(alert);
  }
}

/**
 * Submits `form` through `action(values)`; keeps what the user typed on failure. A form
 * whose submit button starts `disabled` in the HTML (the sign-in pages) is usable from
 * here on: until its script runs, it cannot be sent natively, credentials and all.
 */
export function bindForm(form, action) {
  form.querySelector('button[type="submit"]').disabled = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    const values = Object.fromEntries(new FormData(form));
    button.disabled = true;
    clearErrors(form);
    try {
      await action(values);
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  });
}

export function formatDate(ms) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** In development, points at the local mailbox where emails land. */
export async function showDevMailbox(container) {
  const config = await clientConfig();
  if (!config.dev_mailbox_url || !container) return;
  const mailbox = el('a', { href: config.dev_mailbox_url, target: '_blank', rel: 'noopener', textContent: 'local mailbox' });
  container.append(el('p', { className: 'alert small' }, 'Development: emails go to the ', mailbox, '.'));
}

/** The token a link carries in its fragment (#token=…), kept out of server logs. */
export function tokenFromFragment() {
  return new URLSearchParams(location.hash.slice(1)).get('token');
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

let confirmDialog;
/**
 * Asks before something that cannot be undone, in the one shared <dialog>: resolves true
 * when the person confirms, false on Cancel or Escape. Focus returns where it was.
 */
export function confirmAction({ title, message, confirm }) {
  if (!confirmDialog) {
    confirmDialog = el('dialog', { className: 'confirm-dialog' },
      el('h2', { id: 'confirm-title' }), el('p', { className: 'muted', id: 'confirm-message' }),
      el('form', { method: 'dialog', className: 'actions' },
        el('button', { className: 'button', value: 'cancel', textContent: 'Cancel' }),
        el('button', { className: 'button danger', value: 'confirm', id: 'confirm-ok' })));
    confirmDialog.setAttribute('aria-labelledby', 'confirm-title');
    confirmDialog.setAttribute('aria-describedby', 'confirm-message');
    document.body.append(confirmDialog);
  }
  confirmDialog.querySelector('#confirm-title').textContent = title;
  confirmDialog.querySelector('#confirm-message').textContent = message;
  confirmDialog.querySelector('#confirm-ok').textContent = confirm;
  confirmDialog.returnValue = '';
  const opener = document.activeElement;
  confirmDialog.showModal();
  return new Promise((resolve) => {
    confirmDialog.addEventListener('close', () => {
      if (opener?.isConnected) opener.focus();
      resolve(confirmDialog.returnValue === 'confirm');
    }, { once: true });
  });
}
