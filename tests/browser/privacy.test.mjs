// Data rights through the real pages in Chromium (issue 12): the retention page linked
// from the privacy page, the public privacy-request form, and in settings the policy
// version, privacy requests with their status, and closing the account — then reopening
// it from the sign-in page. The policy notice shows once. No console errors anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { Client, uniqueEmail, waitForEmail } from '../support/client.mjs';
import { d1, d1Exec } from '../support/worker.mjs';

const suite = browserSuite();
let ip = 0;
const nextIp = () => `100.71.${Math.floor(Math.random() * 200)}.${++ip}`;

/** A signed-up user, and a browser page signed in as them (the cookie carried over). */
async function signedInPage(viewport) {
  const email = uniqueEmail('rightsui');
  const c = new Client(suite.worker.base, { ip: nextIp() });
  assert.equal((await c.signup({ email, password: 'a long enough password' })).status, 201);
  const { page, errors } = await newPage(suite.browser, viewport);
  const url = new URL(suite.worker.base);
  await page.context().addCookies([{ name: '__Host-blimari_session', value: c.token, domain: url.hostname, path: '/', secure: true, httpOnly: true, sameSite: 'Lax' }]);
  return { page, errors, email, client: c };
}

test('the privacy page links the retention table, which renders at phone width with the footer contact', async () => {
  const { page, errors } = await newPage(suite.browser, { width: 360, height: 780 });
  await page.goto(`${suite.worker.base}/privacy`);
  await page.locator('main').getByRole('link', { name: 'data retention', exact: true }).click();
  await page.waitForURL('**/data-retention');
  assert.equal(await page.locator('h1').innerText(), 'Data retention');
  const rows = await page.locator('table.retention tbody tr').count();
  assert.ok(rows >= 12, `${rows} rows`);
  assert.ok(await page.getByRole('rowheader', { name: /^closed accounts/ }).isVisible());
  assert.match(await page.locator('table.retention').innerText(), /14 days after the closure/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport (the table scrolls in its own region)`);
  // The policy's contact address is on every page, with the links to these pages.
  const footer = page.locator('.site-footer');
  assert.ok(await footer.getByRole('link', { name: 'privacy@blimari.space' }).isVisible());
  assert.ok(await footer.getByRole('link', { name: 'Privacy request' }).isVisible());
  await page.screenshot({ path: join(ARTIFACTS, 'data-retention-360.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('signed out, the privacy request form records a request and confirms it by email', async () => {
  const { page, errors } = await newPage(suite.browser);
  const email = uniqueEmail('asker');
  await page.goto(`${suite.worker.base}/privacy-request`);
  await page.getByLabel('Your email address').fill(email);
  await page.getByLabel('What do you ask for?').selectOption('correction');
  await page.getByLabel('Details').fill('My old company name is still on an invoice.');
  await page.screenshot({ path: join(ARTIFACTS, 'privacy-request.png'), fullPage: true });
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.getByRole('heading', { name: 'Request received' }).waitFor();
  const reference = /prq_[A-Za-z0-9_-]+/.exec(await page.locator('[data-message]').innerText())[0];
  const mail = await waitForEmail(suite.worker, email, /privacy request/);
  assert.match(mail.text, new RegExp(reference));
  assert.deepEqual(errors, []);
  await page.close();
});

test('settings: policy version, a privacy request with its status, and closing the account, then reopening it', async () => {
  const { page, errors, email } = await signedInPage();
  await page.goto(`${suite.worker.base}/settings`);
  await page.getByRole('heading', { name: 'Privacy', exact: true }).waitFor();
  const versions = await page.locator('#privacy p').first().innerText();
  assert.match(versions, /accepted the privacy policy of \d{4}-\d{2}-\d{2}/);
  await page.getByText('No requests yet.').waitFor();

  await page.getByLabel('What do you ask for?').selectOption('access');
  await page.locator('#privacy-message').fill('A copy of my prompts, please.');
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.locator('.toast', { hasText: 'Request sent' }).waitFor();
  const item = page.locator('#privacy-requests li').first();
  await item.waitFor();
  assert.match(await item.innerText(), /Access request[\s\S]*Received/);
  await page.screenshot({ path: join(ARTIFACTS, 'settings-privacy.png'), fullPage: true });

  // Closing: a wrong password is said next to the field; the right one signs out everywhere.
  page.on('dialog', (d) => d.accept());
  await page.getByLabel('Your password').fill('not the password');
  await page.getByRole('button', { name: 'Close my account' }).click();
  await page.locator('#delete-password-error').waitFor();
  await page.getByLabel('Your password').fill('a long enough password');
  await page.getByRole('button', { name: 'Close my account' }).click();
  await page.waitForURL('**/login?closed=*');
  assert.match(await page.getByRole('status').first().innerText(), /account is closed/);
  await waitForEmail(suite.worker, email, /account is closed/);

  // Signing in offers to reopen it.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const reopen = page.getByRole('button', { name: 'Reopen my account' });
  await reopen.waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'login-reopen.png') });
  await reopen.click();
  await page.waitForURL('**/dashboard');
  // The browser logs the two refusals this test provokes on purpose (the wrong password,
  // the sign-in to a closed account); nothing else.
  assert.deepEqual(errors, [
    'Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)',
    'Failed to load resource: the server responded with a status of 409 (Conflict)',
  ]);
  await page.close();
});

test('a newer policy version is announced once', async () => {
  const { page, errors, client } = await signedInPage();
  const id = (await client.get('/api/me')).body.id;
  await d1Exec(suite.worker, `UPDATE users SET policy_version = '2025-01-01' WHERE id = '${id}'`);
  const acknowledged = page.waitForResponse((r) => r.url().endsWith('/api/me/policy-notice'));
  await page.goto(`${suite.worker.base}/settings`);
  const notice = page.locator('[data-policy-notice]');
  await notice.waitFor();
  assert.match(await notice.innerText(), /updated our privacy policy/);
  await page.screenshot({ path: join(ARTIFACTS, 'policy-notice.png') });
  assert.equal((await acknowledged).status(), 200);
  await page.reload();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  await page.locator('#privacy-requests-empty').waitFor({ state: 'attached' });
  assert.equal(await notice.count(), 0, 'shown once only');
  assert.equal(await page.locator('[data-policy-accepted]').innerText(), '2025-01-01');
  assert.deepEqual(errors, []);
  await page.close();
});
