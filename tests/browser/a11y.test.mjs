// Accessibility and looks, page by page (issue 15, UI.md "Quality bar"): axe-core finds
// no serious or critical violation on any page, signed out and signed in (the admin page
// as an admin), in light and dark; no page scrolls sideways at 360 px; every page is
// screenshotted at 360 and 1280 px, light and dark, into test-artifacts/screenshots/ for a
// person to look at. And a keyboard-only walkthrough: sign up → brand → generate with
// Tab, Enter and Space (and typing into fields), focus always visible.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { browserSuite, ARTIFACTS } from '../support/browser.mjs';
import { uniqueEmail, verifyEmail } from '../support/client.mjs';
import { axeViolations, grantAdmin, makeAccount, settled, signInContext } from '../support/ui.mjs';

const suite = browserSuite();
const SHOTS = join(ARTIFACTS, 'screenshots');

const SIGNED_OUT = [
  ['landing', '/'], ['pricing', '/pricing'], ['privacy', '/privacy'], ['terms', '/terms'], ['login', '/login'],
  ['signup', '/signup'], ['forgot', '/forgot'], ['reset', '/reset'], ['verify', '/verify'], ['not-found', '/no-such-page'],
];
const SIGNED_IN = [
  ['dashboard', '/dashboard'], ['brands', '/brands'], ['brand-editor', '/brands/edit?id={brand}'], ['brand-new', '/brands/edit'],
  ['studio', '/studio'], ['gallery', '/gallery'], ['credits', '/credits'], ['settings', '/settings'], ['admin', '/admin'],
];

/** One page per colour scheme, signed out and (as an admin with a brand and a post) in. */
const pages = {};
let brandId;

// Made by the first test that needs it (after browserSuite's own hook has run).
let prepared;
const ready = () => (prepared ??= prepare());

async function prepare() {
  mkdirSync(SHOTS, { recursive: true });
  const account = await makeAccount(suite.worker, { name: 'Axe Person', tag: 'a11y' });
  grantAdmin(suite.worker, account.email);
  const brand = await account.client.post('/api/brands', {
    name: 'Fernleaf Coffee', description: 'A neighbourhood coffee roaster.', voice: 'Warm, neighbourly.', audience: 'Locals',
    words_to_use: ['cosy'], words_to_avoid: ['cheap'], colors: [{ hex: '#0e7c66', role: 'primary' }, { hex: '#f4d35e', role: 'accent' }],
  });
  brandId = brand.body.id;
  const job = await account.client.post('/api/generations', { brand_id: brandId, content_type: 'social_post', prompt: 'Weekend opening hours' });
  assert.equal(job.status, 202);
  for (let i = 0; i < 120; i++) {
    const j = await account.client.get(`/api/generations/${job.body.id}`);
    if (j.body.status === 'succeeded' || j.body.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const scheme of ['light', 'dark']) {
    for (const signedIn of [false, true]) {
      const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme });
      if (signedIn) await signInContext(context, suite.worker, account);
      const page = await context.newPage();
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      pages[`${scheme}:${signedIn}`] = { page, errors };
    }
  }
}

after(async () => {
  for (const { page } of Object.values(pages)) await page.context().close();
});

/** axe, the 360-px overflow check and both screenshots for one page in one scheme. */
async function check(name, path, scheme, signedIn) {
  await ready();
  const { page, errors } = pages[`${scheme}:${signedIn}`];
  errors.length = 0;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(suite.worker.base + path.replace('{brand}', brandId));
  await settled(page);
  const problems = (await axeViolations(page)).map((v) => `${scheme}: ${v}`);
  await page.screenshot({ path: join(SHOTS, `${name}-1280-${scheme}.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 780 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) problems.push(`${scheme}: at 360 px the page is ${overflow}px wider than the screen`);
  if (scheme === 'light') problems.push(...(await axeViolations(page)).map((v) => `360 px: ${v}`));
  await page.screenshot({ path: join(SHOTS, `${name}-360-${scheme}.png`), fullPage: true });
  // The 404 page's own status is the one expected console error.
  problems.push(...errors.filter((e) => !(name === 'not-found' && /status of 404/.test(e))).map((e) => `${scheme} console: ${e}`));
  return problems;
}

for (const [name, path] of SIGNED_OUT) {
  test(`signed out ${path}: no serious or critical axe violations, fits 360 px, screenshots`, async () => {
    const problems = [...await check(name, path, 'light', false), ...await check(name, path, 'dark', false)];
    assert.deepEqual(problems, []);
  });
}

for (const [name, path] of SIGNED_IN) {
  test(`signed in ${path}: no serious or critical axe violations, fits 360 px, screenshots`, async () => {
    const problems = [...await check(name, path, 'light', true), ...await check(name, path, 'dark', true)];
    assert.deepEqual(problems, []);
  });
}

/** Presses Tab until the focused element matches `selector`; its focus must be visible. */
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const state = await page.evaluate((s) => ({ hit: document.activeElement?.matches(s), visible: document.activeElement?.matches(':focus-visible') }), selector);
    if (state.hit) {
      assert.ok(state.visible, `focus on ${selector} is visible`);
      return;
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('keyboard only: sign up, create a brand, generate a post', async () => {
  await ready();
  const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const email = uniqueEmail('keyboard');

  await page.goto(`${suite.worker.base}/`);
  await tabTo(page, 'a[href="/signup"].button.primary');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/signup');
  await tabTo(page, '#name');
  await page.keyboard.type('Kay Board');
  await tabTo(page, '#email');
  await page.keyboard.type(email);
  await tabTo(page, '#password');
  await page.keyboard.type('keys all the way down');
  // The button is enabled once the page's script has bound the form.
  await page.locator('form button[type="submit"]:not([disabled])').waitFor();
  await page.keyboard.press('Enter');
  await page.waitForURL('**/brands?welcome=1');
  await verifyEmail(suite.worker, email);
  await page.reload();
  await settled(page);

  await tabTo(page, '#empty a[href="/brands/edit"]');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/brands/edit');
  await settled(page);
  await tabTo(page, '#name');
  await page.keyboard.type('Keyed Coffee');
  await tabTo(page, '#voice');
  await page.keyboard.type('Calm and brief.');
  await tabTo(page, '#brand-form button[type="submit"]');
  await page.keyboard.press('Space');
  await page.locator('.toast', { hasText: 'Brand saved.' }).waitFor();

  await tabTo(page, '.app-nav a[href="/studio"]', 80);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/studio');
  await settled(page);
  await tabTo(page, '#prompt');
  await page.keyboard.type('Our new opening hours');
  await tabTo(page, '[data-submit]');
  await page.keyboard.press('Space');
  const card = page.locator('.job').first();
  await card.locator('.badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
  assert.match(await card.locator('.job-output').innerText(), /Keyed Coffee/);
  // The result's actions are reachable too.
  await tabTo(page, '.job button[data-action="favorite"]');
  await page.keyboard.press('Space');
  await page.locator('.job button[aria-pressed="true"]').waitFor();
  await page.screenshot({ path: join(SHOTS, 'keyboard-walkthrough.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
