// Settings, "Export your data" (F1) in Chromium: start an export, watch it become ready
// (the queue job through wrangler dev), download the ZIP; no console errors on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';
import { unzip } from '../support/zip.mjs';

const suite = browserSuite();

test('a person exports their data from the settings page and downloads the archive', async () => {
  const email = uniqueEmail('browser-export');
  const api = new Client(suite.worker.base);
  assert.equal((await api.signup({ name: 'Mary Somerville', email })).status, 201);
  assert.equal((await api.post('/api/brands', { name: 'Tidewater' })).status, 201);

  const { page, errors } = await newPage(suite.browser);
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard');
  await page.goto(`${suite.worker.base}/settings#export`);
  await page.getByRole('heading', { name: 'Export your data' }).waitFor();
  await page.getByText('No exports yet.').waitFor();

  await page.getByRole('button', { name: 'Export your data' }).click();
  await page.locator('.toast', { hasText: 'being prepared' }).waitFor();
  const download = page.getByRole('link', { name: /Download the export of/ });
  await download.waitFor({ timeout: 60_000 });
  assert.match(await download.getAttribute('href'), /^\/api\/account\/exports\/exp_[0-9a-f]+\/content$/);
  await page.locator('#export').screenshot({ path: join(ARTIFACTS, 'settings-export.png') });

  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  assert.match(file.suggestedFilename(), /^blimari-export-\d{4}-\d{2}-\d{2}\.zip$/);
  const { readFile } = await import('node:fs/promises');
  const entries = unzip(await readFile(await file.path()));
  const brands = JSON.parse(entries.get('brands.json').data.toString('utf8'));
  assert.deepEqual(brands.map((b) => b.name), ['Tidewater']);
  assert.ok(entries.has('manifest.json'));
  // The activity list names the export in words.
  await page.reload();
  await page.getByText('Data export requested').first().waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});
