// F1 data export through wrangler dev: the queue job, the multipart upload into R2, the
// email, and the archive compared with the API's own lists; owner-only download.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedWorker, eventually, d1, d1Exec } from '../support/worker.mjs';
import { Client, addresses, uniqueEmail, verifyEmail, waitForEmail } from '../support/client.mjs';
import { assertProblem } from '../support/http.mjs';
import { makePng } from '../support/png.mjs';
import { unzip } from '../support/zip.mjs';
// Every raw fetch retries a kept-alive socket the server closed while idle (docs/PLATFORM.md).
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

let worker;
const nextIp = addresses();
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

async function account(tag) {
  const c = new Client(worker.base, { ip: nextIp() });
  c.email = uniqueEmail(tag);
  assert.equal((await c.signup({ email: c.email })).status, 201);
  await verifyEmail(worker, c.email); // starter credits, to generate with
  assert.equal((await c.login(c.email)).status, 200);
  c.id = (await c.get('/api/me')).body.id;
  return c;
}

async function upload(c, bytes, filename) {
  const headers = { 'content-type': 'image/png', cookie: `__Host-blimari_session=${c.token}`, 'cf-connecting-ip': c.ip };
  const res = await fetch(`${worker.base}/api/uploads?filename=${encodeURIComponent(filename)}`, { method: 'POST', body: bytes, headers });
  assert.equal(res.status, 201);
  return (await res.json()).upload;
}

async function generate(c, brand_id, content_type, prompt) {
  const res = await c.post('/api/generations', { brand_id, content_type, prompt });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return eventually(async () => {
    const r = await c.get(`/api/generations/${res.body.id}`);
    return ['succeeded', 'failed'].includes(r.body.status) && r.body;
  }, { timeoutMs: 45_000, intervalMs: 300, what: `generation ${res.body.id}` });
}

/** Every item of a paged list. */
async function all(c, path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await c.get(`${path}${sep}limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return items;
}

async function download(c, path) {
  const headers = { cookie: `__Host-blimari_session=${c.token}`, 'cf-connecting-ip': c.ip };
  const res = await fetch(`${worker.base}${path}`, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const ready = (c, id) => eventually(async () => {
  const r = await c.get(`/api/account/exports/${id}`);
  assert.equal(r.status, 200);
  assert.notEqual(r.body.status, 'failed', JSON.stringify(r.body));
  return r.body.status === 'ready' && r.body;
}, { timeoutMs: 60_000, intervalMs: 500, what: `export ${id} to be ready` });

const byId = (items) => new Map(items.map((i) => [i.id, i]));

describe('data export (F1)', () => {
  let ada;
  let bob;
  let exported;
  let files;

  before(async () => {
    [ada, bob] = await Promise.all([account('exp-ada'), account('exp-bob')]);
    // Ada: two brands (one archived), two images, a text and an image generation, a
    // purchase, a privacy request, and security events from signing in.
    const logo = await upload(ada, makePng(24, 16, { noise: true }), 'logo.png');
    const photo = await upload(ada, makePng(40, 30, { rgb: [200, 40, 40] }), 'shop front.png');
    const brand = await ada.post('/api/brands', { name: 'Fernleaf', voice: 'warm', logo_upload_id: logo.id, reference_upload_ids: [photo.id] });
    assert.equal(brand.status, 201);
    assert.equal((await ada.post('/api/brands', { name: 'Old range', archived: true })).status, 201);
    assert.equal((await generate(ada, brand.body.id, 'social_post', 'A post about our autumn teas')).status, 'succeeded');
    assert.equal((await generate(ada, brand.body.id, 'image_square', 'A cup of tea on a wooden table')).status, 'succeeded');
    const now = Date.now();
    await d1Exec(worker, `INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, created_at, updated_at)
      VALUES ('cs_test_export_${ada.id}', '${ada.id}', 'starter', 100, 900, 'usd', 'paid', ${now}, ${now})`);
    await d1Exec(worker, `INSERT INTO privacy_requests (id, user_id, email, kind, message, status, created_at, updated_at)
      VALUES ('prq_export_${ada.id}', '${ada.id}', '${ada.email}', 'access', 'Please send me my data.', 'received', ${now}, ${now})`);
    // Bob has things of his own, which must not appear in Ada's archive.
    const bobBrand = await bob.post('/api/brands', { name: 'Bobs Bakes' });
    assert.equal(bobBrand.status, 201);
    await upload(bob, makePng(10, 10), 'bob.png');
    bob.brandId = bobBrand.body.id;
  });

  test('starting queues one export; a second start while it runs is refused', async () => {
    const res = await ada.post('/api/account/export');
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'queued');
    assert.equal(res.headers.get('location'), `/api/account/exports/${res.body.id}`);
    assert.ok(res.body.expires_at > res.body.created_at);
    const again = await ada.post('/api/account/export');
    // The first may already be done on a fast machine; then a second one is fine too.
    if (again.status !== 202) assertProblem(again, 409);
    exported = await ready(ada, res.body.id);
    if (again.status === 202) await ready(ada, again.body.id);
    assert.ok(exported.size_bytes > 0);
    assert.equal(exported.content_url, `/api/account/exports/${exported.id}/content`);
    const listed = await all(ada, '/api/account/exports');
    assert.ok(listed.some((e) => e.id === exported.id && e.status === 'ready'));
    const mail = await waitForEmail(worker, ada.email, /data export is ready/);
    assert.match(mail.text, /\/settings#export/);
  });

  test('the archive holds every item the API lists, and its images byte for byte', async () => {
    const res = await download(ada, exported.content_url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.match(res.headers.get('content-disposition'), /^attachment; filename="blimari-export-\d{4}-\d{2}-\d{2}\.zip"$/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.bytes.length, exported.size_bytes);
    files = unzip(res.bytes);
    const json = (name) => {
      assert.ok(files.has(name), `${name} in ${[...files.keys()]}`);
      assert.equal(files.get(name).method, 8, `${name} is deflated`);
      const text = files.get(name).data.toString('utf8');
      assert.match(text, /\n {2}/, `${name} is pretty-printed`);
      return JSON.parse(text);
    };

    const manifest = json('manifest.json');
    assert.equal(manifest.export_id, exported.id);
    assert.equal(manifest.user_id, ada.id);
    assert.match(manifest.policy_version, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(manifest.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(exported.counts, manifest.counts);
    for (const f of manifest.files) {
      assert.ok(f.path === 'files/' || files.has(f.path), f.path);
      assert.ok(f.description.length > 10);
    }

    const profile = json('profile.json');
    const me = (await ada.get('/api/me')).body;
    assert.deepEqual([profile.account.id, profile.account.name, profile.account.email], [me.id, me.name, me.email]);
    assert.deepEqual(profile.credits.balance, (await ada.get('/api/credits')).body.balance);

    const brands = json('brands.json');
    const apiBrands = [...await all(ada, '/api/brands'), ...await all(ada, '/api/brands?archived=true')];
    assert.equal(brands.length, 2);
    assert.deepEqual(byId(brands), byId(apiBrands));

    const uploads = json('uploads.json');
    const apiUploads = await all(ada, '/api/uploads');
    assert.equal(uploads.length, 3, 'two uploads and one generated image');
    assert.deepEqual(byId(uploads.map((u) => u.upload)), byId(apiUploads.map(({ content_url, ...u }) => u)));
    for (const u of uploads) {
      const served = await download(ada, `/api/uploads/${u.upload.id}/content`);
      assert.equal(files.get(u.file).method, 0, 'images are stored, not recompressed');
      assert.ok(files.get(u.file).data.equals(served.bytes), u.file);
    }
    assert.equal(manifest.counts.files, 3);

    const generations = json('generations.json');
    const apiGenerations = await all(ada, '/api/generations');
    assert.deepEqual(generations.map((g) => g.id).sort(), apiGenerations.map((g) => g.id).sort());
    for (const g of apiGenerations) {
      const mine = generations.find((x) => x.id === g.id);
      assert.equal(mine.prompt, g.prompt);
      assert.equal(mine.status, g.status);
      if (g.output.type === 'text') assert.equal(mine.output_text, g.output.text);
      else assert.ok(files.get(mine.output_file).data.equals((await download(ada, g.output.image_url)).bytes));
    }

    assert.deepEqual(json('credit_ledger.json'), await all(ada, '/api/credits/ledger'));
    assert.deepEqual(json('purchases.json'), await all(ada, '/api/billing/purchases'));
    assert.equal(json('purchases.json').length, 1);

    // Events: all of them up to the export; the API has one more since (export_ready).
    const events = json('security_events.json');
    const apiEvents = await all(ada, '/api/activity');
    assert.deepEqual(byId(events), byId(apiEvents.filter((e) => e.created_at <= events[0].created_at && e.kind !== 'export_ready')));
    const kinds = events.map((e) => e.kind);
    for (const k of ['signed_up', 'email_verified', 'signed_in', 'export_requested']) assert.ok(kinds.includes(k), k);
    assert.ok(apiEvents.some((e) => e.kind === 'export_ready'), 'A5: the finished export is in the activity');

    const requests = json('privacy_requests.json');
    assert.deepEqual(requests.map((r) => [r.id, r.kind, r.message]), [[`prq_export_${ada.id}`, 'access', 'Please send me my data.']]);
    assert.ok(json('sessions.json').length >= 2);
  });

  test('nothing of another account is in the archive', async () => {
    const bobIds = [bob.id, bob.email, bob.brandId, ...(await all(bob, '/api/uploads')).map((u) => u.id)];
    for (const [name, { data }] of files) {
      const text = data.toString('latin1');
      for (const id of bobIds) assert.ok(!text.includes(id), `${name} holds ${id}`);
    }
  });

  test('another user gets 404 on the export and its content; a signed-out visitor 401', async () => {
    assertProblem(await bob.get(`/api/account/exports/${exported.id}`), 404);
    const content = await bob.get(`/api/account/exports/${exported.id}/content`);
    assertProblem(content, 404);
    assert.ok(!(await all(bob, '/api/account/exports')).some((e) => e.id === exported.id));
    assertProblem(await new Client(worker.base, { ip: nextIp() }).get(`/api/account/exports/${exported.id}/content`), 401);
    assertProblem(await ada.get('/api/account/exports/exp_nope'), 404);
  });

  test('an expired export answers 410 with a problem document, and its status says so', async () => {
    await d1Exec(worker, `UPDATE exports SET expires_at = ${Date.now() - 1000} WHERE id = '${exported.id}'`);
    const res = await ada.get(`/api/account/exports/${exported.id}/content`);
    assertProblem(res, 410);
    const view = (await ada.get(`/api/account/exports/${exported.id}`)).body;
    assert.equal(view.status, 'expired');
    assert.equal(view.content_url, null);
  });

  test('an export not yet ready has no content (409)', async () => {
    const c = await account('exp-carol');
    const id = (await c.get('/api/me')).body.id;
    // An export under way that no queue message will finish (the API's own would race
    // the consumer); an account has at most one unfinished export.
    const now = Date.now();
    const exportId = `exp_wait_${id}`;
    await d1Exec(worker, `INSERT INTO exports (id, user_id, status, r2_key, created_at, expires_at)
      VALUES ('${exportId}', '${id}', 'running', 'exports/${id}/${exportId}.zip', ${now}, ${now + 86_400_000})`);
    assert.equal((await c.get(`/api/account/exports/${exportId}`)).body.status, 'running');
    assertProblem(await c.get(`/api/account/exports/${exportId}/content`), 409);
  });

  test('an archive of several 5 MiB parts (two 3 MB images) is whole', async () => {
    const c = await account('exp-large');
    const images = [makePng(1000, 1000, { noise: true }), makePng(1000, 1000, { noise: true, rgb: [1, 2, 3] })];
    assert.ok(images.every((b) => b.length > 2_900_000), 'noise does not compress');
    const ids = [];
    for (const [n, bytes] of images.entries()) ids.push((await upload(c, bytes, `big-${n}.png`)).id);
    const started = await c.post('/api/account/export');
    assert.equal(started.status, 202);
    const done = await ready(c, started.body.id);
    assert.ok(done.size_bytes > 5 * 1024 * 1024, `${done.size_bytes} bytes: more than one part`);
    const res = await download(c, done.content_url);
    assert.equal(res.bytes.length, done.size_bytes);
    const entries = unzip(res.bytes);
    const uploads = JSON.parse(entries.get('uploads.json').data.toString('utf8'));
    for (const [n, id] of ids.entries()) {
      const file = uploads.find((u) => u.upload.id === id).file;
      assert.ok(entries.get(file).data.equals(images[n]), file);
    }
  });
});
