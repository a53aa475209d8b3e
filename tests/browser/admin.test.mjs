// The admin pages in Chromium: the Admin link only for admins, finding a user and
// adjusting their credits, the failed-jobs list; no console errors on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { ROOT } from '../support/worker.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';

// A worker of its own: the test reads what its Stripe and Sentry stand-ins received.
const suite = browserSuite({});

async function signIn(page, email, password) {
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
}

test('an admin finds a user and adjusts their credits; a member sees no Admin link and no page', async () => {
  const password = 'correct horse battery';
  const adminEmail = uniqueEmail('browser-admin');
  const memberEmail = uniqueEmail('browser-member');
  assert.equal((await new Client(suite.worker.base).signup({ name: 'Ops Person', email: adminEmail, password })).status, 201);
  assert.equal((await new Client(suite.worker.base).signup({ name: 'Member Person', email: memberEmail, password })).status, 201);
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'admin.mjs'), 'grant', adminEmail, '--persist-to', suite.worker.persist],
    { cwd: ROOT, env: { ...process.env, ...(suite.worker.neonUrl ? { DATABASE_URL: suite.worker.neonUrl } : {}) } });

  const member = await newPage(suite.browser);
  await signIn(member.page, memberEmail, password);
  await member.page.goto(`${suite.worker.base}/settings`);
  await member.page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.equal(await member.page.getByRole('link', { name: 'Admin' }).count(), 0);
  const denied = await member.page.goto(`${suite.worker.base}/admin`);
  assert.equal(denied.status(), 404);
  await member.page.close();

  const { page, errors } = await newPage(suite.browser);
  await signIn(page, adminEmail, password);
  await page.goto(`${suite.worker.base}/settings`);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.waitForURL('**/admin');
  await page.getByRole('heading', { name: 'Admin', exact: true }).waitFor();
  await page.getByText('No failed jobs.').waitFor();
  await page.getByLabel('Email or user id').fill(memberEmail);
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: `Open ${memberEmail}` }).click();
  await page.getByRole('heading', { name: `Member Person — ${memberEmail}` }).waitFor();
  await page.getByLabel('Credits (negative to remove)').fill('7');
  await page.getByLabel('Reason').fill('Welcome gift from support');
  await page.getByRole('button', { name: 'Apply adjustment' }).click();
  await page.locator('.toast', { hasText: 'Adjusted: balance now 7.' }).waitFor();
  await page.getByText('credits adjusted').first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true });

  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({ path: join(ARTIFACTS, 'admin-narrow.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
