// B5, a brand from its website, through wrangler dev: the worker fetches fixture sites
// from tests/support/sites.mjs (the only host on its WEBSITE_IMPORT_ALLOW_HOSTS), parses
// them with the runtime's HTMLRewriter, asks the inference stand-in for voice and
// audience, stores the logo as an upload, and charges the price once — only on success.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sharedWorker, fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';
import { Client, addresses, uniqueEmail, verifyEmail } from '../support/client.mjs';
import { assertProblem } from '../support/http.mjs';
import { LOGO, outsideHits } from '../support/sites.mjs';

let worker;
const nextIp = addresses();
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

/** A signed-up, verified user (with the starter credits). */
async function user() {
  const c = new Client(worker.base, { ip: nextIp() });
  const email = uniqueEmail('import');
  assert.equal((await c.signup({ email })).status, 201);
  await verifyEmail(worker, email);
  return c;
}

const balance = async (c) => (await c.get('/api/credits')).body.balance;
const importCharges = async (c) => {
  const entries = (await c.get('/api/credits/ledger?limit=100')).body.items;
  return entries.filter((e) => e.reference.startsWith('import:'));
};

describe('a brand from its website', () => {
  test('the price is shown first, and a fixture site gives its name, colours, fonts, logo, copy and voice for that price, once', async () => {
    const c = await user();
    const quote = await c.get('/api/brands/from-website');
    assert.equal(quote.status, 200);
    const { price } = quote.body;
    assert.ok(price > 0);
    const before = await balance(c);
    assert.equal(quote.body.balance, before);

    const res = await c.post('/api/brands/from-website', { url: `${worker.sites.base}/fernleaf/` });

    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { fields, not_found: notFound } = res.body;
    assert.equal(res.body.source_url, `${worker.sites.base}/fernleaf/`);
    assert.equal(fields.name, 'Fernleaf Coffee');
    assert.equal(fields.description, 'Small-batch coffee, roasted weekly in Leeds.');
    assert.deepEqual(fields.colors, [
      { hex: '#0f766e', role: 'primary' }, { hex: '#f59e0b', role: 'accent' },
      { hex: '#1f2937', role: 'other' }, { hex: '#e11d48', role: 'other' },
    ]);
    assert.deepEqual(fields.fonts, ['Playfair Display', 'Inter']);
    assert.deepEqual(fields.example_content, [
      'Coffee for slow mornings', 'We roast in small batches, so every bag you open is fresh & full of flavour.',
    ]);
    assert.equal(fields.voice, 'Warm and plain-spoken, as Fernleaf Coffee writes. Tone: Friendly and unhurried.');
    assert.equal(fields.audience, 'People drawn to "Coffee for slow mornings".');
    assert.deepEqual(notFound, []);
    // The logo is the site's apple-touch-icon, stored as this user's upload, byte for byte.
    assert.equal(res.body.logo.id, fields.logo_upload_id);
    assert.equal(res.body.logo.content_type, 'image/png');
    assert.deepEqual([res.body.logo.width, res.body.logo.height], [48, 48]);
    const content = await fetch(`${worker.base}${res.body.logo.content_url}`, { headers: { cookie: `__Host-blimari_session=${c.token}` } });
    assert.deepEqual(Buffer.from(await content.arrayBuffer()), LOGO);

    assert.equal(await balance(c), before - price);
    const charges = await importCharges(c);
    assert.equal(charges.length, 1);
    assert.equal(charges[0].amount, price);
    // Nothing was saved as a brand; the editor saves what the user keeps.
    assert.deepEqual((await c.get('/api/brands')).body.items, []);
    const created = await c.post('/api/brands', {
      name: fields.name, description: fields.description, voice: fields.voice, audience: fields.audience,
      colors: fields.colors, fonts: fields.fonts, example_content: fields.example_content, logo_upload_id: fields.logo_upload_id,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  test('a site that redirects to a host not allowed is refused with a problem document, and nothing is fetched from it', async () => {
    const c = await user();
    const before = await balance(c);
    const token = randomUUID();

    const res = await c.post('/api/brands/from-website', { url: `${worker.sites.base}/away?token=${token}` });

    assertProblem(res, 422);
    assert.equal(res.body.errors[0].field, 'url');
    assert.match(res.body.detail, /redirected to "127\.0\.0\.1".*Nothing was fetched from there, and nothing was charged/);
    assert.equal(await outsideHits(worker.sites.base, token), 0);
    assert.equal(await balance(c), before);
    assert.deepEqual(await importCharges(c), []);
  });

  test('addresses that are not public are refused before anything is fetched', async () => {
    const c = await user();
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://localhost/', 'file:///etc/passwd', 'https://example.com/']) {
      const res = await c.post('/api/brands/from-website', { url });
      assertProblem(res, 422);
    }
  });

  test('a failed import costs nothing and leaves no upload', async () => {
    const c = await user();
    const before = await balance(c);
    const uploadsBefore = (await c.get('/api/uploads')).body.items.length;
    // The page's copy makes the text model refuse (the stand-in's #fail-permanent).
    const failing = await c.post('/api/brands/from-website', { url: `${worker.sites.base}/failing/` });
    assertProblem(failing, 503);
    assert.match(failing.body.detail, /Nothing was charged/);
    // A page that is not there.
    assertProblem(await c.post('/api/brands/from-website', { url: `${worker.sites.base}/missing/` }), 422);
    assert.equal(await balance(c), before);
    assert.deepEqual(await importCharges(c), []);
    assert.equal((await c.get('/api/uploads')).body.items.length, uploadsBefore);
  });

  test('a page over the size limit or the time limit is refused, for free', async () => {
    const c = await user();
    const before = await balance(c);
    const huge = await c.post('/api/brands/from-website', { url: `${worker.sites.base}/huge/` });
    assertProblem(huge, 422);
    assert.match(huge.body.detail, /larger than the limit/);
    const started = Date.now();
    const slow = await c.post('/api/brands/from-website', { url: `${worker.sites.base}/slow/` });
    assertProblem(slow, 422);
    assert.match(slow.body.detail, /took too long/);
    assert.ok(Date.now() - started < 25_000, 'the 8 s limit ended the request');
    assert.equal(await balance(c), before);
  });

  test('without enough credits the import is refused with 402', async () => {
    const c = new Client(worker.base, { ip: nextIp() });
    assert.equal((await c.signup({ email: uniqueEmail('import-poor') })).status, 201);
    assertProblem(await c.post('/api/brands/from-website', { url: `${worker.sites.base}/fernleaf/` }), 402);
  });

  test('signed out, the import is refused', async () => {
    const c = new Client(worker.base, { ip: nextIp() });
    assertProblem(await c.get('/api/brands/from-website'), 401);
    assertProblem(await c.post('/api/brands/from-website', { url: `${worker.sites.base}/fernleaf/` }), 401);
  });
});
