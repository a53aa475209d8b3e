// "Start from your website" in the brand editor (B5), in Chromium: the price is shown
// first, the import fills the form (colours, fonts, logo, voice, audience, copy), says
// what the page did not give, and nothing is saved until the person saves the brand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { Client, uniqueEmail, verifyEmail } from '../support/client.mjs';

const suite = browserSuite();

test('a person imports their website into a new brand, checks the fields and saves it', async () => {
  const { page, errors } = await newPage(suite.browser);
  const email = uniqueEmail('import-ui');
  await page.goto(`${suite.worker.base}/signup`);
  await page.getByLabel('Name').fill('Site Owner');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('brand new passphrase');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  await verifyEmail(suite.worker, email);

  await page.goto(`${suite.worker.base}/brands/edit`);
  await page.getByRole('heading', { name: 'Start from your website' }).waitFor();
  const quote = await page.getByText(/Costs \d+ credits \(you have \d+\)/).textContent();
  const [, price, had] = quote.match(/Costs (\d+) credits \(you have (\d+)\)/).map(Number);
  await page.getByLabel('Your website', { exact: true }).fill(`${suite.worker.sites.base}/fernleaf/`);
  await page.getByRole('button', { name: 'Import from website' }).click();
  await page.getByText(/Filled in from .*fernleaf/).waitFor({ timeout: 30_000 });
  // The header's balance follows the charge.
  await page.locator('[data-balance]').getByText(`${had - price} credits`).waitFor();

  assert.equal(await page.getByLabel('Brand name').inputValue(), 'Fernleaf Coffee');
  assert.equal(await page.getByLabel('Description').inputValue(), 'Small-batch coffee, roasted weekly in Leeds.');
  assert.match(await page.getByLabel('Voice and tone').inputValue(), /Warm and plain-spoken.*Tone: Friendly/);
  assert.match(await page.getByLabel('Audience').inputValue(), /Coffee for slow mornings/);
  assert.equal(await page.getByLabel('Fonts').inputValue(), 'Playfair Display\nInter');
  assert.match(await page.getByLabel('Example content').inputValue(), /^Coffee for slow mornings\n\nWe roast in small batches/);
  assert.equal(await page.getByLabel('Colour 1 hex value').inputValue(), '#0f766e');
  assert.equal(await page.getByLabel('Colour 1 role').inputValue(), 'primary');
  assert.equal(await page.getByLabel('Colour 2 hex value').inputValue(), '#f59e0b');
  assert.equal(await page.getByLabel('Colour 2 role').inputValue(), 'accent');
  await page.waitForFunction(() => document.querySelector('#logo-preview img')?.naturalWidth === 48);
  assert.equal(await page.locator('#import-missing').count(), 0, 'the fixture site has everything');
  await page.screenshot({ path: join(ARTIFACTS, 'brand-import.png'), fullPage: true });

  // Nothing is saved until the person saves.
  const api = new Client(suite.worker.base);
  api.token = (await page.context().cookies()).find((c) => c.name === '__Host-blimari_session').value;
  assert.deepEqual((await api.get('/api/brands')).body.items, []);
  await page.getByRole('button', { name: 'Save brand' }).click();
  await page.getByText('Brand saved.').waitFor();
  const [brand] = (await api.get('/api/brands')).body.items;
  assert.equal(brand.name, 'Fernleaf Coffee');
  assert.ok(brand.logo_upload_id);
  assert.equal(await page.locator('#import-form').isHidden(), true);
  // The ledger names the charge.
  await page.goto(`${suite.worker.base}/credits`);
  await page.getByText('Spent on a website import').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('an address that may not be fetched is explained next to the field', async () => {
  const { page, errors } = await newPage(suite.browser);
  await page.goto(`${suite.worker.base}/signup`);
  await page.getByLabel('Name').fill('Curious Person');
  await page.getByLabel('Email').fill(uniqueEmail('import-ui-refused'));
  await page.getByLabel('Password').fill('brand new passphrase');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  await page.goto(`${suite.worker.base}/brands/edit`);
  await page.getByLabel('Your website', { exact: true }).fill('http://169.254.169.254/');
  await page.getByRole('button', { name: 'Import from website' }).click();
  await page.locator('#import-url-error').waitFor();
  assert.equal(await page.getByLabel('Your website', { exact: true }).getAttribute('aria-invalid'), 'true');
  // The failed request logs a console error in Chromium (a 4xx fetch); nothing else may.
  assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), []);
  await page.close();
});
