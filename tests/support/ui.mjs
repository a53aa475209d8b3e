// Helpers for the browser tests of the whole UI (tests/browser/ui.test.mjs,
// a11y.test.mjs): accounts made through the API and handed to a browser context as its
// session cookie (so the per-IP sign-up limit is spent by the API client's own address,
// not the browser's), axe-core runs, and "the page has loaded" waits.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './worker.mjs';
import { Client, COOKIE, addresses, uniqueEmail, verifyEmail } from './client.mjs';

const nextIp = addresses();

/** A new account (verified unless `verify: false`, which brings the starter credits). */
export async function makeAccount(worker, { name = 'Ui Person', verify = true, tag = 'ui' } = {}) {
  const email = uniqueEmail(tag);
  const password = 'interface passphrase ok';
  const client = new Client(worker.base, { ip: nextIp() });
  const res = await client.signup({ name, email, password });
  if (res.status !== 201) throw new Error(`signup: ${res.status} ${JSON.stringify(res.body)}`);
  if (verify) {
    await verifyEmail(worker, email);
    // Verification may end the session it was made for; sign in afresh.
    const login = await client.login(email, password);
    if (login.status !== 200) throw new Error(`login: ${login.status}`);
  }
  return { client, email, password };
}

/** Gives a browser context the account's session, as signing in would. */
export async function signInContext(context, worker, account) {
  // By domain and path: Chromium refuses a __Host- cookie given by an http:// URL.
  const { hostname } = new URL(worker.base);
  await context.addCookies([{ name: COOKIE, value: account.client.token, domain: hostname, path: '/', httpOnly: true, secure: true, sameSite: 'Lax' }]);
}

/** Makes the account an admin (G3), as the operator's `npm run admin grant` does. */
export function grantAdmin(worker, email) {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'admin.mjs'), 'grant', email, '--persist-to', worker.persist],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(worker.neonUrl ? { DATABASE_URL: worker.neonUrl } : {}) } });
}

/**
 * Waits until the page's skeletons have given way to its content. Generous: with the
 * whole suite running several files at once in Neon mode, a page's API calls can take
 * seconds each on 2 cores (a wait, never a timing assertion).
 */
export async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('[data-loading], .skeleton') && document.querySelector('h1')?.offsetParent !== null,
    undefined, { timeout: 30_000 });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page, as readable lines (rule, help,
 * the offending nodes). Injected through the DevTools protocol, which the page's CSP
 * (no inline script) does not govern.
 */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} (${n.failureSummary?.split('\n').slice(1).join(' ').trim()})`).join('; ')}`);
}
