// The frame every page shares, written once: skip link, header, footer and, signed in,
// the left navigation and the credit balance with its low-balance warning.
// A page says which frame it wants with <body data-frame="app"> (signed in) or
// data-frame="site" (signed out); this module puts it around the page's <main id="main">.
import { api, currentUser } from './api.js';

const SKIP_LINK = '<a class="skip-link" href="#main">Skip to content</a>';
const brandMark = (href) => `<a class="brand-mark" href="${href}"><img src="/assets/logo.svg" alt="" width="24" height="24">Blimari</a>`;

const SITE_HEADER = `<header class="site-header"><div class="container">${brandMark('/')}
  <nav class="site-nav" aria-label="Main">
    <a href="/#how">How it works</a>
    <a href="/pricing">Pricing</a>
    <a href="/login" data-signed-out>Sign in</a>
    <a class="button primary" href="/signup" data-signed-out>Start free</a>
    <a class="button primary" href="/dashboard" data-signed-in hidden>Open app</a>
  </nav>
</div></header>`;

const APP_HEADER = `<header class="site-header"><div class="container">${brandMark('/dashboard')}
  <nav class="site-nav" aria-label="Account">
    <a class="balance" href="/credits" data-balance aria-live="polite">Credits</a>
    <span class="small muted" data-user-email></span>
  </nav>
</div></header>`;

const APP_NAV = `<nav class="app-nav" aria-label="App">
  <a href="/dashboard">Dashboard</a>
  <a href="/studio">Studio</a>
  <a href="/brands">Brands</a>
  <a href="/gallery">Gallery</a>
  <a href="/credits">Credits</a>
  <a href="/settings">Settings</a>
</nav>`;

const FOOTER = `<footer class="site-footer"><div class="container">
  <p>© 2026 Blimari · <a href="mailto:privacy@blimari.space">privacy@blimari.space</a></p>
  <nav aria-label="Legal">
    <a href="/privacy">Privacy</a>
    <a href="/data-retention">Data retention</a>
    <a href="/privacy-request">Privacy request</a>
    <a href="/terms">Terms</a>
  </nav>
</div></footer>`;

/** Static markup (no user data) as nodes. */
function fragment(html) {
  const t = document.createElement('template');
  t.innerHTML = html;
  return t.content;
}

/** Marks the navigation link for this page: its own path, or a page below it (/brands/edit). */
function markCurrent(root) {
  const path = location.pathname.replace(/\.html$/, '').replace(/\/$/, '') || '/';
  for (const a of root.querySelectorAll('.app-nav a, .site-footer nav a, .site-nav a:not([data-balance])')) {
    const href = a.getAttribute('href');
    if (href === path || path.startsWith(`${href}/`)) a.setAttribute('aria-current', 'page');
  }
}

/** Signed out: the header with sign-in links. Signed in: the header with the balance,
 *  and the left navigation beside <main>. */
function frame(kind) {
  const main = document.getElementById('main');
  if (kind === 'app') {
    const shell = document.createElement('div');
    shell.className = 'app-shell container';
    main.replaceWith(shell);
    shell.append(fragment(APP_NAV), main);
    shell.before(fragment(SKIP_LINK + APP_HEADER));
  } else {
    main.before(fragment(SKIP_LINK + SITE_HEADER));
  }
  document.body.append(fragment(FOOTER));
  markCurrent(document.body);
}

frame(document.body.dataset.frame);

/** Signed-out pages: someone signed in sees "Open app" (the dashboard) instead of the
 *  sign-in and sign-up calls to action (`data-signed-out` / `data-signed-in`). */
async function showSignedIn() {
  let me = null;
  try { me = await currentUser(); } catch { return; }
  if (!me) return;
  document.querySelectorAll('[data-signed-out]').forEach((n) => { n.hidden = true; });
  document.querySelectorAll('[data-signed-in]').forEach((n) => { n.hidden = false; });
}

if (document.body.dataset.frame === 'site' && !['login', 'signup', 'forgot', 'reset', 'verify'].includes(document.body.dataset.page)) showSignedIn();

let balanceAsked = 0;

/**
 * Shows the balance in the header; "low" and a warning colour when it runs short. Only
 * the answer to the latest call is shown: an earlier, slower one would be older news.
 */
export async function refreshBalance() {
  const el = document.querySelector('[data-balance]');
  if (!el) return;
  const asked = ++balanceAsked;
  try {
    const c = await api('GET', '/api/credits');
    if (asked !== balanceAsked) return;
    el.textContent = `${c.balance} credits${c.held ? ` · ${c.held} held` : ''}`;
    // Low (or owing): the warning leads to the packs.
    const low = c.low_balance || c.debt > 0;
    el.classList.toggle('low', low);
    el.href = low ? '/pricing' : '/credits';
    el.title = c.debt > 0 ? `You owe ${c.debt} credits: buy credits to continue` : low ? 'Your balance is low: buy credits' : 'Your credit balance';
    if (c.debt > 0) el.textContent += ` · owing ${c.debt}`;
    else if (low) el.textContent += ' · low';
  } catch {
    if (asked === balanceAsked) el.textContent = 'Credits';
  }
}

/**
 * The signed-in user, shown in the header with the balance; signed out, the browser goes
 * to the sign-in page (coming back here afterwards) and this returns null.
 */
export async function requireUser() {
  const me = await currentUser();
  if (!me) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return null;
  }
  document.querySelectorAll('[data-user-email]').forEach((n) => { n.textContent = me.email; });
  if (me.admin) showAdminLink();
  refreshBalance();
  if (!me.email_verified) showVerifyNotice(me.email);
  if (me.policy?.notice) showPolicyNotice(me.policy);
  return me;
}

/** F6: a newer privacy policy than the one accepted: said once (acknowledged on showing). */
function showPolicyNotice(policy) {
  const main = document.getElementById('main');
  if (!main || main.querySelector('[data-policy-notice]')) return;
  const notice = document.createElement('div');
  notice.className = 'alert';
  notice.dataset.policyNotice = '';
  notice.setAttribute('role', 'status');
  const link = document.createElement('a');
  link.href = '/privacy';
  link.textContent = 'Read what changed';
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'button';
  close.textContent = 'Dismiss';
  close.addEventListener('click', () => notice.remove());
  notice.append(`We updated our privacy policy on ${policy.current} (you accepted the version of ${policy.accepted}). `, link, ' ', close);
  main.prepend(notice);
  api('POST', '/api/me/policy-notice').catch(() => {});
}

/** G3: the Admin link, for admins only (the admin pages and API are 404 to others). */
function showAdminLink() {
  const nav = document.querySelector('.app-nav');
  if (!nav || nav.querySelector('a[href="/admin"]')) return;
  const link = document.createElement('a');
  link.href = '/admin';
  link.textContent = 'Admin';
  nav.append(link);
  markCurrent(nav.parentElement);
}

/** E2: the starter credits come with a confirmed address; say so on every app page. */
function showVerifyNotice(email) {
  const main = document.getElementById('main');
  if (!main || main.querySelector('[data-verify-notice]')) return;
  const notice = document.createElement('div');
  notice.className = 'alert warning';
  notice.dataset.verifyNotice = '';
  notice.setAttribute('role', 'status');
  const resend = document.createElement('button');
  resend.type = 'button';
  resend.className = 'button';
  resend.textContent = 'Send the link again';
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      await api('POST', '/api/auth/verify/resend', {});
      resend.textContent = 'Sent — check your inbox';
    } catch (e) {
      resend.disabled = false;
      resend.textContent = e.message;
    }
  });
  notice.append(`Confirm your email address (${email}) to get your free starter credits. `, resend);
  main.prepend(notice);
}
