// The app's frame and home in Chromium (issue 15): the dashboard (first run, then with a
// brand and a generation), the pricing page and its links, signed-out visits to app pages
// going to sign-in without a console error, the left navigation staying at the top of a
// long page, toasts replacing each other and going away, and the studio charging a double
// click once (Idempotency-Key), with favourite and delete on its cards, and a job the
// queue finished before its submit was answered still reaching the header's balance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserSuite, ARTIFACTS } from '../support/browser.mjs';
import { makeAccount, signInContext, settled } from '../support/ui.mjs';

const suite = browserSuite();

/** A signed-in page for `account`, recording console errors. */
async function pageFor(account, viewport = { width: 1280, height: 900 }) {
  const context = await suite.browser.newContext({ viewport });
  await signInContext(context, suite.worker, account);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

const FERNLEAF = { name: 'Fernleaf', voice: 'warm', words_to_use: ['cosy'], words_to_avoid: ['cheap'], colors: [{ hex: '#0e7c66', role: 'primary' }, { hex: '#f4d35e', role: 'accent' }] };

test('signed-out visits to app pages go to sign-in with next=, without a console error, and come back after', async () => {
  const context = await suite.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  for (const path of ['/dashboard', '/studio', '/brands', '/brands/edit', '/gallery', '/credits', '/settings']) {
    await page.goto(suite.worker.base + path);
    await page.waitForURL('**/login?next=**');
    assert.equal(new URL(page.url()).searchParams.get('next'), path);
  }
  await page.goto(`${suite.worker.base}/gallery?brand_id=x`);
  await page.waitForURL('**/login?next=**');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/gallery?brand_id=x');
  assert.deepEqual(errors, []);

  // Signing in from there leads back; signing in without next= leads to the dashboard.
  const account = await makeAccount(suite.worker, { tag: 'ui-next' });
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/gallery?brand_id=x');
  await settled(page);
  await context.clearCookies();
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard');
  await page.getByRole('heading', { name: 'Welcome, Ui' }).waitFor();
  // The landing, signed in, offers the app instead of sign-up.
  await page.goto(`${suite.worker.base}/`);
  await page.getByRole('link', { name: 'Open app' }).click();
  await page.waitForURL('**/dashboard');
  // The sign-in page, signed in, goes on to where signing in would lead.
  await page.goto(`${suite.worker.base}/login?next=%2Fcredits`);
  await page.waitForURL('**/credits');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the dashboard leads a new account from its first brand to its first post, then shows balance, jobs and brands', async () => {
  const account = await makeAccount(suite.worker, { name: 'Dana Board', tag: 'ui-dash' });
  const { context, page, errors } = await pageFor(account);
  await page.goto(`${suite.worker.base}/dashboard`);
  await settled(page);
  assert.equal(await page.locator('h1').innerText(), 'Welcome, Dana');
  const firstRun = page.getByRole('region', { name: 'Get started in two steps' });
  await firstRun.waitFor();
  assert.equal(await page.locator('[data-dash-balance]').innerText(), '50 credits');
  assert.equal(await page.locator('[data-dash-brand-count]').innerText(), '0');
  assert.match(await page.locator('#recent-empty').innerText(), /Nothing generated yet/);
  // Before a brand, generating is not offered; the one thing to do is create one.
  assert.equal(await page.getByRole('link', { name: 'New generation' }).count(), 0);
  assert.equal(await firstRun.getByRole('link', { name: 'Open the studio' }).getAttribute('aria-disabled'), 'true');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-first-run.png'), fullPage: true });
  await firstRun.getByRole('link', { name: 'Create a brand' }).click();
  await page.waitForURL('**/brands/edit');

  const brand = (await account.client.post('/api/brands', FERNLEAF)).body;
  await page.goto(`${suite.worker.base}/dashboard`);
  await settled(page);
  assert.match(await firstRun.locator('li.done h3').innerText(), /^Create your first brand\s*Done$/);
  await firstRun.getByRole('link', { name: 'Generate your first post' }).click();
  await page.waitForURL(`**/studio?brand_id=${brand.id}`);
  await page.getByLabel('What should it say?').fill('Weekend opening hours');
  await page.getByRole('button', { name: /^Generate/ }).click();
  await page.locator('.job .badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.waitForURL('**/dashboard');
  await settled(page);
  assert.equal(await firstRun.isHidden(), true);
  assert.equal(await page.locator('[data-dash-balance]').innerText(), '49 credits');
  assert.equal(await page.locator('[data-dash-brand-count]').innerText(), '1');
  const job = page.locator('#recent li').first();
  assert.match(await job.innerText(), /Social post · Fernleaf[\s\S]*Weekend opening hours[\s\S]*Done/);
  await page.getByRole('link', { name: 'Generate for Fernleaf' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current'), 'page');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('pricing lists the packs and what each content type costs, and is linked from the landing and the header', async () => {
  const context = await suite.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${suite.worker.base}/`);
  await page.getByRole('link', { name: /^Full pricing/ }).click();
  await page.waitForURL('**/pricing');
  await settled(page);
  assert.deepEqual(await page.locator('.pack h3').allInnerTexts(), ['100 credits', '500 credits', '2000 credits']);
  assert.match(await page.locator('#costs').innerText(), /Social post[\s\S]*1 credit\b/);
  assert.match(await page.locator('#costs').innerText(), /Product description[\s\S]*2 credits/);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pricing' }).getAttribute('aria-current'), 'page');
  // Signed out, buying asks for sign-in and comes back to pricing.
  await page.getByRole('button', { name: 'Buy 100 credits' }).click();
  await page.waitForURL('**/login?next=%2Fpricing');
  await page.goto(`${suite.worker.base}/pricing`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL('**/signup');
  // A 401 from the checkout is the one expected console error here.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});

test('on a long page the left navigation stays at the top and in view; toasts replace each other and go away', async () => {
  const account = await makeAccount(suite.worker, { tag: 'ui-nav', verify: false });
  const { context, page, errors } = await pageFor(account, { width: 1280, height: 720 });
  await page.goto(`${suite.worker.base}/brands/edit`);
  await settled(page);
  const nav = page.getByRole('navigation', { name: 'App' });
  const navTop = async () => (await nav.boundingBox()).y;
  const mainTop = (await page.locator('main').boundingBox()).y;
  const long = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(long > 1400, `the editor is long (${long}px)`);
  assert.ok(Math.abs((await navTop()) - mainTop) < 2, 'the navigation starts level with the page content');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  const top = await navTop();
  assert.ok(top >= 0 && top < 80, `scrolled to the end, the navigation is at the top of the view (at ${top}px)`);

  await page.evaluate(async () => {
    const { toast } = await import('/assets/js/ui.js');
    toast('First');
    toast('Second');
    toast('Third');
  });
  assert.deepEqual(await page.locator('.toast').allInnerTexts(), ['Third']);
  await page.locator('.toast').waitFor({ state: 'detached', timeout: 6000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a double click on Generate makes one job and one charge; studio cards can be favourited and deleted', async () => {
  const account = await makeAccount(suite.worker, { tag: 'ui-double' });
  const brand = (await account.client.post('/api/brands', FERNLEAF)).body;
  const { context, page, errors } = await pageFor(account);
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/generations')) posts.push(r.headers()['idempotency-key']); });
  await page.goto(`${suite.worker.base}/studio`);
  await settled(page);
  await page.getByLabel('Content type').selectOption('product_description');
  await page.getByLabel('What should it say?').fill('Our new cosy winter blend');
  await page.getByRole('button', { name: /^Generate/ }).dblclick();
  await page.locator('.job .badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
  // Screen readers hear the progress once per change, from one status region.
  await page.locator('[data-job-announcer]', { hasText: 'Product description: done.' }).waitFor({ state: 'attached' });
  assert.equal(await page.locator('[data-job-announcer]').getAttribute('role'), 'status');
  // Two submits in the same moment (a double Enter, or a click that gets through): both
  // carry the same key, the server answers both with the same job.
  await page.getByLabel('What should it say?').fill('Our spring blend');
  await page.evaluate(() => { const f = document.getElementById('studio-form'); f.requestSubmit(); f.requestSubmit(); });
  await page.locator('.job', { hasText: 'Our spring blend' }).locator('.badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });

  const jobs = (await account.client.get('/api/generations?limit=10')).body.items;
  assert.deepEqual(jobs.map((j) => j.prompt), ['Our spring blend', 'Our new cosy winter blend']);
  assert.equal(await page.locator('.job').count(), 2);
  assert.ok(posts.length >= 2, `${posts.length} submits`);
  assert.ok(posts.every((k) => /^[0-9a-f-]{36}$/.test(k)), 'every submit carries an Idempotency-Key');
  assert.equal(new Set(posts).size, 2, 'one key per request, the repeated submit reusing it');
  const ledger = (await account.client.get('/api/credits/ledger?limit=50')).body.items;
  assert.equal(ledger.filter((e) => e.kind === 'capture').length, 2);
  assert.equal((await account.client.get('/api/credits')).body.balance, 50 - 2 - 2);

  // Favourite, then delete (asked first; Cancel keeps it).
  const card = page.locator('.job', { hasText: 'Our new cosy winter blend' });
  await card.getByRole('button', { name: '☆ Favourite' }).click();
  await card.getByRole('button', { name: '★ Favourite', pressed: true }).waitFor();
  assert.equal((await account.client.get(`/api/generations/${jobs[1].id}`)).body.favorite, true);
  await card.getByRole('button', { name: 'Delete' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete this generation?' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await card.count(), 1);
  await card.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await card.waitFor({ state: 'detached' });
  await page.locator('.toast', { hasText: 'Deleted.' }).waitFor();
  assert.equal((await account.client.get(`/api/generations/${jobs[1].id}`)).status, 404);
  await page.screenshot({ path: join(ARTIFACTS, 'studio-cards.png'), fullPage: true });
  assert.equal(brand.name, 'Fernleaf');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a job the queue finished before its submit was answered shows as done, is announced and charged in the header; an older balance never replaces a newer', async () => {
  const account = await makeAccount(suite.worker, { tag: 'ui-raced' });
  await account.client.post('/api/brands', FERNLEAF);
  const { context, page, errors } = await pageFor(account);
  // The race made certain: the real submit's answer is held until the real job has
  // ended, then handed over with the job as the API then shows it (what the handler
  // answers when the consumer wins, since it reads the job back after the send).
  await page.route('**/api/generations', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    const answer = await route.fetch();
    const job = await answer.json();
    for (let i = 0; i < 300; i++) {
      const now = (await account.client.get(`/api/generations/${job.id}`)).body;
      if (now.status === 'succeeded' || now.status === 'failed') return route.fulfill({ response: answer, json: now });
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${job.id} did not end`);
  });
  // And the page's first balance (50, read on arrival) is answered last of all: older
  // news, which must not replace the newer balance.
  let release;
  const held = new Promise((r) => { release = r; });
  let first = true;
  await page.route('**/api/credits', async (route) => {
    if (!first) return route.fallback();
    first = false;
    const stale = await route.fetch();
    await held;
    await route.fulfill({ response: stale });
  });
  await page.goto(`${suite.worker.base}/studio`);
  await settled(page);
  await page.getByLabel('Content type').selectOption('product_description');
  await page.getByLabel('What should it say?').fill('Our new cosy winter blend');
  await page.getByRole('button', { name: /^Generate/ }).click();
  await page.locator('.job .badge', { hasText: 'Done' }).waitFor({ timeout: 30_000 });
  await page.locator('.toast', { hasText: 'Your content is ready.' }).waitFor();
  await page.locator('[data-balance]', { hasText: '48 credits' }).waitFor();
  const staleAnswer = page.waitForResponse((r) => r.url().endsWith('/api/credits'));
  release();
  await (await staleAnswer).finished();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
  assert.match(await page.locator('[data-balance]').innerText(), /^48 credits/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('while their data loads, list pages show skeletons, never an empty state', async () => {
  const account = await makeAccount(suite.worker, { tag: 'ui-skeleton', verify: false });
  const { context, page, errors } = await pageFor(account);
  // Every API answer is held back until the page has been looked at, as on a very slow
  // connection: what shows then is what shows while the data loads. (A gate, not a
  // delay, so a loaded machine cannot make the data arrive before the look.)
  let release = () => {};
  let gate = Promise.resolve();
  await page.route('**/api/**', async (route) => {
    await gate;
    await route.continue();
  });
  for (const path of ['/dashboard', '/brands', '/studio', '/gallery', '/credits', '/settings', '/pricing']) {
    gate = new Promise((resolve) => { release = resolve; });
    // 'commit': the page's module scripts await the (held) API, so DOMContentLoaded may
    // wait for the gate.
    await page.goto(suite.worker.base + path, { waitUntil: 'commit' });
    await page.waitForFunction(() => document.querySelector('#main .skeleton')?.getClientRects().length > 0, undefined, { timeout: 15_000 });
    const emptyShown = await page.evaluate(() => [...document.querySelectorAll('#main .empty, #main [id$="-empty"]')].some((n) => n.getClientRects().length > 0));
    assert.equal(emptyShown, false, `${path} shows an empty state before its data arrived`);
    release();
    await settled(page);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('the sign-in forms cannot be sent before their script has bound them (no password in a URL)', async () => {
  const context = await suite.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  for (const path of ['/login', '/signup', '/forgot', '/reset']) {
    await page.goto(suite.worker.base + path);
    assert.equal(await page.locator('form').getAttribute('method'), 'post');
    assert.equal(await page.locator('form button[type="submit"]').isDisabled(), true, path);
  }
  await page.goto(`${suite.worker.base}/login`);
  await page.getByLabel('Email').fill('someone@example.com');
  await page.getByLabel('Password').fill('not in the url');
  await page.getByLabel('Password').press('Enter');
  assert.equal(new URL(page.url()).search, '');
  await context.close();
});
