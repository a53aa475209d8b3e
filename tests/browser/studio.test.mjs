// The studio in Chromium: the price is shown before submitting, the job card goes from
// queued to done in place, the result shows the brand check, the header balance follows,
// and the gallery lists the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { uniqueEmail, waitForEmail, tokenFrom } from '../support/client.mjs';

const suite = browserSuite();

test('a person generates a post in the studio and finds it in the gallery', async () => {
  const { page, errors } = await newPage(suite.browser);

  const email = uniqueEmail('studio');
  await page.goto(`${suite.worker.base}/signup`);
  await page.getByLabel('Name').fill('Studio User');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('studio passphrase ok');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  // The starter credits come with a confirmed address; every app page says so until then.
  await page.getByText(/Confirm your email address .* to get your free starter credits/).waitFor();
  const mail = await waitForEmail(suite.worker, email, /Confirm your email/);
  await page.goto(`${suite.worker.base}/verify#token=${tokenFrom(mail, 'verify')}`);
  await page.getByText(/is confirmed/).waitFor();
  await page.goto(`${suite.worker.base}/brands`);
  await page.evaluate(() => fetch('/api/brands', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Fernleaf', voice: 'warm', words_to_use: ['cosy'], words_to_avoid: ['cheap'] }),
  }));

  await page.getByRole('link', { name: 'Studio' }).click();
  await page.waitForURL('**/studio');
  await page.getByLabel('Content type').selectOption('product_description');
  assert.match(await page.locator('[data-price]').innerText(), /Costs 2 credits/);
  assert.equal(await page.getByRole('button', { name: /^Generate/ }).innerText(), 'Generate · 2 credits');
  await page.getByLabel('What should it say?').fill('Our new cosy winter blend');
  await page.getByRole('button', { name: /^Generate/ }).click();

  const card = page.locator('.job').first();
  await card.locator('.badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
  assert.match(await card.locator('.job-output').innerText(), /^Fernleaf: Our new cosy winter blend/);
  assert.equal(await card.locator('.brand-check').innerText(), 'Brand check passed');
  await page.locator('[data-balance]', { hasText: '48 credits' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'studio.png'), fullPage: true });

  await page.getByRole('link', { name: 'Gallery' }).click();
  await page.waitForURL('**/gallery');
  await page.locator('.job-output', { hasText: 'Our new cosy winter blend' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'gallery.png'), fullPage: true });

  await page.getByRole('link', { name: 'Credits', exact: true }).click();
  await page.waitForURL('**/credits');
  await page.getByText('Spent on a generation').waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'credits.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
