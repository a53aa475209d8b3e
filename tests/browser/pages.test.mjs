// The public pages in Debian's Chromium: they render, have no console errors (which is
// also where CSP violations show), work at phone width, and the privacy page carries
// the whole published policy. Screenshots go to test-artifacts/ for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserSuite, newPage, ARTIFACTS } from '../support/browser.mjs';
import { ROOT } from '../support/worker.mjs';

const suite = browserSuite();

/** Opens a page and collects console errors and uncaught exceptions. */
async function open(path, viewport = { width: 1280, height: 900 }) {
  const { page, errors } = await newPage(suite.browser, viewport);
  const res = await page.goto(suite.worker.base + path, { waitUntil: 'load' });
  return { page, res, errors };
}

for (const [path, heading, shot] of [
  ['/', 'Your brand’s voice, in every post.', 'landing'],
  ['/privacy', 'Privacy Policy', 'privacy'],
  ['/terms', 'Terms of Service', 'terms'],
]) {
  test(`${path} renders its heading with no console errors`, async () => {
    const { page, res, errors } = await open(path);
    assert.equal(res.status(), 200);
    assert.equal((await page.locator('h1').first().innerText()).trim(), heading);
    await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('the landing page fits a 360 px phone without horizontal scrolling', async () => {
  const { page, errors } = await open('/', { width: 360, height: 780 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
  await page.screenshot({ path: join(ARTIFACTS, 'landing-360.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the first Tab stop is the skip link, and it is visible when focused', async () => {
  const { page } = await open('/');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => ({ text: document.activeElement.textContent, top: document.activeElement.getBoundingClientRect().top }));
  assert.equal(focused.text, 'Skip to content');
  assert.ok(focused.top >= 0);
  await page.close();
});

test('/privacy carries every line of the published policy and its date', async () => {
  const { page } = await open('/privacy');
  const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
  assert.ok(text.includes('Last updated: April 02, 2026'));
  // The published text lives in the steering folder beside the repository; where it
  // is not present, the headings above and in tests/e2e stand in for it.
  const seed = join(ROOT, '..', 'shared', 'seed', 'privacy-policy.txt');
  if (existsSync(seed)) {
    for (const line of readFileSync(seed, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)) {
      assert.ok(text.includes(line.replace(/\s+/g, ' ')), `privacy page lacks: ${line}`);
    }
  }
  await page.close();
});
