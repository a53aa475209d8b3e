// Accounts through the real pages in Chromium: sign up, sign out, sign in, change the
// password, and revoke another session, with no console errors on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, ARTIFACTS } from '../support/browser.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';

const suite = browserSuite();

test('a person signs up, signs out, signs in, changes the password and revokes another session', async () => {
  const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const email = uniqueEmail('browser');

  await page.goto(`${suite.worker.base}/`);
  await page.getByRole('link', { name: 'Start free' }).click();
  await page.waitForURL('**/signup');
  await page.getByLabel('Name').fill('Grace Hopper');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('compilers all the way down');
  await page.screenshot({ path: join(ARTIFACTS, 'signup.png') });
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  await page.getByRole('heading', { name: 'Create your first brand' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'brands-empty.png') });
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.equal(await page.getByLabel('Name').inputValue(), 'Grace Hopper');
  await page.screenshot({ path: join(ARTIFACTS, 'settings.png'), fullPage: true });

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === '__Host-blimari_session');
  assert.ok(session && session.httpOnly && session.secure && session.sameSite === 'Lax' && session.path === '/');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL('**/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('compilers all the way down');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard');
  await page.goto(`${suite.worker.base}/settings`);

  // Another device signs in; this one revokes it from the sessions list.
  const other = new Client(suite.worker.base);
  assert.equal((await other.login(email, 'compilers all the way down')).status, 200);
  await page.reload();
  const revoke = page.getByRole('button', { name: /Revoke session on/ });
  await revoke.waitFor();
  await revoke.click();
  await page.locator('.toast', { hasText: 'Session revoked.' }).waitFor();
  assert.equal((await other.get('/api/me')).status, 401);
  // The page shows the toast, then fetches the list again: wait for that before counting.
  await page.getByRole('button', { name: /Revoke session on/ }).waitFor({ state: 'detached' });
  assert.equal(await page.getByRole('button', { name: /Revoke session on/ }).count(), 0);

  await page.locator('#current_password').fill('compilers all the way down');
  await page.locator('#new_password').fill('nanoseconds are short');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('.toast', { hasText: /^Password changed/ }).waitFor();
  assert.equal((await new Client(suite.worker.base).login(email, 'nanoseconds are short')).status, 200);
  await page.getByRole('heading', { name: 'Recent activity' }).scrollIntoViewIfNeeded();
  await page.getByText('Password changed', { exact: true }).first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'settings-after.png'), fullPage: true });

  assert.deepEqual(errors, []);
  await context.close();
});

test('a wrong password shows the problem next to the form, keeping what was typed', async () => {
  const page = await suite.browser.newPage();
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill('nobody@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /email address or password is incorrect[\s\S]*Request id: [0-9a-f]{32}/);
  assert.equal(await page.getByLabel('Email').inputValue(), 'nobody@example.com');
  await page.screenshot({ path: join(ARTIFACTS, 'login-error.png') });
  await page.close();
});
