// Debian's Chromium through playwright-core, with the flags that work offline as root.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { ROOT, sharedWorker, startWorker } from './worker.mjs';

/** Screenshots land here for a person to look at (not committed). */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Registers before/after hooks that get a worker (the shared one, or with
 * `workerOptions` one of the file's own) and start a browser for one test file, and
 * always stop both. Read `suite.worker` and `suite.browser` inside tests.
 */
export function browserSuite(workerOptions) {
  const suite = {};
  before(async () => {
    suite.worker = workerOptions ? await startWorker(workerOptions) : await sharedWorker();
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.worker?.stop();
  });
  return suite;
}

/** A new page that records console errors and uncaught exceptions in `errors`. */
export async function newPage(browser, viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  // A navigation that fails (a timeout waiting for "load" happened once, with nothing in
  // the worker's log) says which of the page's requests had not finished, and for how long.
  const inFlight = new Map();
  page.on('request', (r) => inFlight.set(r, Date.now()));
  for (const end of ['requestfinished', 'requestfailed']) page.on(end, (r) => inFlight.delete(r));
  const goto = page.goto.bind(page);
  page.goto = async (url, options) => {
    try {
      return await goto(url, options);
    } catch (e) {
      const open = [...inFlight].map(([r, at]) => `${r.method()} ${r.url()} (${r.resourceType()}, ${Date.now() - at} ms)`);
      e.message += `\nrequests not finished then: ${open.join('; ') || 'none'}`;
      throw e;
    }
  };
  return { page, errors };
}
