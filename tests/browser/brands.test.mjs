// The brand editor in Chromium: create a brand with colours and a logo upload, see the
// logo's preview, save, and find it in the list with its logo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { uniqueEmail } from '../support/client.mjs';
import { makePng } from '../support/png.mjs';

const suite = browserSuite();

test('a person creates a brand with a logo upload and sees the logo preview', async () => {
  const { page, errors } = await newPage(suite.browser);

  await page.goto(`${suite.worker.base}/signup`);
  await page.getByLabel('Name').fill('Brand Maker');
  await page.getByLabel('Email').fill(uniqueEmail('brands'));
  await page.getByLabel('Password').fill('brand new passphrase');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/brands?welcome=1');
  await page.getByRole('link', { name: 'Create a brand' }).click();
  await page.waitForURL('**/brands/edit');

  await page.getByLabel('Brand name').fill('Fernleaf Coffee');
  await page.getByLabel('Voice and tone').fill('Warm, neighbourly.');
  await page.getByLabel('Words to avoid').fill('cheap\ncheapest');
  await page.getByLabel('Colour 1 hex value').fill('#0e7c66');
  await page.getByRole('button', { name: 'Add colour' }).click();
  await page.getByLabel('Colour 2 hex value').fill('#f4d35e');
  await page.getByLabel('Colour 2 role').selectOption('accent');
  await page.getByLabel('Logo').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: makePng(96, 96, { rgb: [14, 124, 102] }) });

  const preview = page.getByRole('img', { name: 'Logo preview' });
  await preview.waitFor();
  await page.waitForFunction(() => document.querySelector('#logo-preview img')?.naturalWidth === 96);
  await page.getByRole('button', { name: 'Save brand' }).click();
  await page.getByText('Brand saved.').waitFor();
  assert.match(page.url(), /\/brands\/edit\?id=brd_[0-9a-f]{32}$/);
  await page.screenshot({ path: join(ARTIFACTS, 'brand-editor.png'), fullPage: true });

  await page.getByRole('link', { name: 'Brands', exact: true }).click();
  await page.waitForURL('**/brands');
  const logo = page.getByRole('img', { name: 'Fernleaf Coffee logo' });
  await logo.waitFor();
  assert.equal(await logo.evaluate((img) => img.naturalWidth), 96);
  await page.screenshot({ path: join(ARTIFACTS, 'brands.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
