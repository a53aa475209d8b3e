// The palette check on an image's card (B3, issue 15): in the gallery, an off-brand image
// shows "Palette check failed" with its colours as swatches and the off-brand ones named;
// an image in the brand's colours shows "Palette check passed".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { Client, addresses, uniqueEmail, verifyEmail } from '../support/client.mjs';
import { eventually } from '../support/worker.mjs';

const suite = browserSuite();

test('image cards show the palette check with the colours that broke it', async () => {
  const c = new Client(suite.worker.base, { ip: addresses()() });
  const email = uniqueEmail('palette-ui');
  assert.equal((await c.signup({ email, password: 'palette passphrase ok' })).status, 201);
  await verifyEmail(suite.worker, email);
  const brand = await c.post('/api/brands', { name: 'Fernleaf', colors: [{ hex: '#0e7c66', role: 'primary' }, { hex: '#f5f0e1', role: 'background' }] });
  const ids = [];
  for (const prompt of ['A cup on a table', 'A poster #paint-d11f1f']) {
    ids.push((await c.post('/api/generations', { brand_id: brand.body.id, content_type: 'image_square', prompt })).body.id);
  }
  for (const id of ids) {
    await eventually(async () => (await c.get(`/api/generations/${id}`)).body.status === 'succeeded', { timeoutMs: 45_000, what: `job ${id}` });
  }

  const { page, errors } = await newPage(suite.browser);
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('palette passphrase ok');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  await page.goto(`${suite.worker.base}/gallery`);

  const off = page.locator(`#job-${ids[1]} .palette-check`);
  await off.waitFor();
  assert.equal(await off.locator('strong').innerText(), 'Palette check failed');
  assert.deepEqual(await off.locator('.swatch').allInnerTexts(), ['#d11f1f 100%']);
  assert.equal(await off.locator('.swatch.off_brand .swatch-chip').evaluate((n) => getComputedStyle(n).backgroundColor), 'rgb(209, 31, 31)');
  assert.match(await off.innerText(), /Off-brand colour #d11f1f covers 100% of the image/);

  const on = page.locator(`#job-${ids[0]} .palette-check`);
  assert.equal(await on.locator('strong').innerText(), 'Palette check passed');
  assert.deepEqual((await on.locator('.swatch').allInnerTexts()).sort(), ['#0e7c66 50%', '#f5f0e1 50%']);
  await page.screenshot({ path: join(ARTIFACTS, 'palette-check.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
