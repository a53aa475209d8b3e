// Buying credits in Chromium: pricing → Stripe's (stand-in) checkout page → pay → back
// to Blimari, where the balance has risen and the purchase is listed with its receipt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { uniqueEmail, verifyEmail } from '../support/client.mjs';

// A worker of its own: the test reads what its Stripe and Sentry stand-ins received.
const suite = browserSuite({});

test('a person buys a credit pack end to end and sees the balance and the receipt', async () => {
  const { page, errors } = await newPage(suite.browser);
  const email = uniqueEmail('shopper');
  await page.goto(`${suite.worker.base}/signup`);
  await page.getByLabel('Name').fill('Shopper');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('shopping passphrase ok');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  await verifyEmail(suite.worker, email);

  await page.goto(`${suite.worker.base}/pricing`);
  await page.getByRole('heading', { name: 'Pricing' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'pricing.png'), fullPage: true });
  await page.getByRole('button', { name: 'Buy 100 credits' }).click();

  await page.waitForURL(`${suite.worker.stripe.base}/c/pay/**`);
  assert.match(await page.locator('h1').innerText(), /Pay \$9\.00/);
  await page.screenshot({ path: join(ARTIFACTS, 'checkout.png') });
  await page.getByRole('button', { name: 'Pay with card' }).click();

  await page.waitForURL('**/credits**');
  await page.locator('[data-credit-balance]', { hasText: '150 credits' }).waitFor({ timeout: 20_000 });
  // The list's loading skeleton is a `.row` too: wait for the purchase itself.
  const purchase = page.locator('#purchases .row:not(.skeleton-row)').first();
  await purchase.waitFor();
  assert.match(await purchase.innerText(), /100 credits[\s\S]*Paid/);
  const receipt = purchase.getByRole('link', { name: 'Receipt' });
  assert.match(await receipt.getAttribute('href'), new RegExp(`^${suite.worker.stripe.base}/receipts/pi_test_`));
  await page.locator('[data-balance]', { hasText: '150 credits' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'credits-after-purchase.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the pricing page is public and works at phone width', async () => {
  const { page, errors } = await newPage(suite.browser, { width: 360, height: 780 });
  await page.goto(`${suite.worker.base}/pricing`);
  await page.getByRole('button', { name: 'Buy 500 credits' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
  await page.screenshot({ path: join(ARTIFACTS, 'pricing-360.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
