// Brands and uploads (B1, B2, B4, C1–C3) through wrangler dev: every field round-trips,
// another user sees nothing, bad files leave nothing behind, and the daily purge removes
// only what no brand uses.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, d1, d1Exec } from '../support/worker.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';
import { assertProblem, getJson } from '../support/http.mjs';
import { makePng } from '../support/png.mjs';
// Every raw fetch retries a kept-alive socket the server closed while idle (docs/PLATFORM.md).
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

const MAX = 100_000;
const QUOTA = 150_000;
let worker;
let ip = 0;
before(async () => {
  worker = await startWorker({ vars: { UPLOAD_MAX_BYTES: String(MAX), STORAGE_QUOTA_BYTES: String(QUOTA) } });
});
after(async () => { await worker?.stop(); });

async function user() {
  const c = new Client(worker.base, { ip: `198.18.0.${++ip}` });
  assert.equal((await c.signup({ email: uniqueEmail('lib') })).status, 201);
  return c;
}

async function upload(c, bytes, filename = 'logo.png', contentType = 'image/png') {
  const headers = { 'content-type': contentType, cookie: `__Host-blimari_session=${c.token}`, 'cf-connecting-ip': c.ip };
  const res = await fetch(`${worker.base}/api/uploads?filename=${encodeURIComponent(filename)}`, { method: 'POST', body: bytes, headers });
  const body = await res.json();
  return { status: res.status, headers: res.headers, body };
}

const r2Keys = async (prefix = 'u/') => (await getJson(worker.base, `/api/_diag/blobs?prefix=${encodeURIComponent(prefix)}`)).body.keys;
const userId = async (c) => (await c.get('/api/me')).body.id;

const FULL = {
  name: 'Fernleaf Coffee',
  description: 'A neighbourhood café roasting in small batches.',
  voice: 'Warm, neighbourly, a little playful.',
  audience: 'Locals who work from home and weekend walkers.',
  words_to_use: ['cosy', 'small-batch'],
  words_to_avoid: ['cheap', 'cheapest'],
  banned_claims: ['best coffee in the world'],
  colors: [{ hex: '#0e7c66', role: 'primary' }, { hex: '#f4d35e', role: 'accent' }, { hex: '#1b1b1e', role: 'text' }],
  fonts: ['Fraunces', 'Inter'],
  example_content: ['Weekends just got slower (in the best way).'],
};

describe('brands', () => {
  test('every field round-trips through create, read, update and list', async () => {
    const c = await user();
    const logo = (await upload(c, makePng(64, 32))).body.upload;
    const ref = (await upload(c, makePng(20, 20, { rgb: [200, 10, 10] }), 'ref.png')).body.upload;
    const created = await c.post('/api/brands', { ...FULL, logo_upload_id: logo.id, reference_upload_ids: [ref.id] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const brand = created.body;
    assert.match(brand.id, /^brd_/);
    for (const [k, v] of Object.entries(FULL)) assert.deepEqual(brand[k], v, k);
    assert.equal(brand.logo_upload_id, logo.id);
    assert.deepEqual(brand.reference_upload_ids, [ref.id]);
    assert.equal(brand.archived, false);
    assert.deepEqual((await c.get(`/api/brands/${brand.id}`)).body, brand);

    const patched = await c.patch(`/api/brands/${brand.id}`, { voice: 'Calm.', colors: [{ hex: '#ABC', role: 'background' }], logo_upload_id: null });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.voice, 'Calm.');
    assert.deepEqual(patched.body.colors, [{ hex: '#aabbcc', role: 'background' }]);
    assert.equal(patched.body.logo_upload_id, null);
    assert.equal(patched.body.description, FULL.description);
    assert.deepEqual((await c.get('/api/brands')).body.items.map((b) => b.id), [brand.id]);
  });

  test('lists page with a cursor; archive, duplicate and delete behave', async () => {
    const c = await user();
    const ids = [];
    for (const name of ['One', 'Two', 'Three']) ids.push((await c.post('/api/brands', { name })).body.id);
    const first = (await c.get('/api/brands?limit=2')).body;
    const second = (await c.get(`/api/brands?limit=2&cursor=${first.next_cursor}`)).body;
    assert.deepEqual([...first.items, ...second.items].map((b) => b.name), ['Three', 'Two', 'One']);

    assert.equal((await c.patch(`/api/brands/${ids[0]}`, { archived: true })).body.archived, true);
    assert.deepEqual((await c.get('/api/brands')).body.items.map((b) => b.name), ['Three', 'Two']);
    assert.deepEqual((await c.get('/api/brands?archived=true')).body.items.map((b) => b.name), ['One']);

    const copy = await c.post(`/api/brands/${ids[1]}/duplicate`);
    assert.equal(copy.status, 201);
    assert.equal(copy.body.name, 'Two (copy)');
    assert.notEqual(copy.body.id, ids[1]);

    assert.equal((await c.delete(`/api/brands/${ids[2]}`)).status, 204);
    assertProblem(await c.get(`/api/brands/${ids[2]}`), 404);
  });

  test("deleting a brand deletes the files only it used, and keeps shared ones", async () => {
    const c = await user();
    const own = (await upload(c, makePng(8, 8))).body.upload;
    const shared = (await upload(c, makePng(9, 9))).body.upload;
    const a = (await c.post('/api/brands', { name: 'A', logo_upload_id: own.id, reference_upload_ids: [shared.id] })).body;
    await c.post('/api/brands', { name: 'B', reference_upload_ids: [shared.id] });
    const uid = await userId(c);
    assert.equal((await c.delete(`/api/brands/${a.id}`)).status, 204);
    assertProblem(await c.get(`/api/uploads/${own.id}`), 404);
    assert.equal((await c.get(`/api/uploads/${shared.id}`)).status, 200);
    const keys = await r2Keys(`u/${uid}/`);
    assert.deepEqual(keys.sort(), [`u/${uid}/${shared.id}`]);
  });

  test('invalid colours and unknown fields are refused and write nothing', async () => {
    const c = await user();
    let p = assertProblem(await c.post('/api/brands', { name: 'X', colors: [{ hex: 'teal', role: 'primary' }] }), 422);
    assert.deepEqual(p.errors.map((e) => e.field), ['colors[0].hex']);
    p = assertProblem(await c.post('/api/brands', { name: 'X', colors: [{ hex: '#12345', role: 'primary' }] }), 422);
    p = assertProblem(await c.post('/api/brands', { name: 'X', tagline: 'nope' }), 422);
    assert.match(p.detail, /tagline/);
    assertProblem(await c.post('/api/brands', { name: '' }), 422);
    assert.deepEqual((await c.get('/api/brands')).body.items, []);
  });
});

describe('uploads', () => {
  test('an image is stored under a server-made key with its type, size and dimensions, and served only with safe headers', async () => {
    const c = await user();
    const png = makePng(40, 30);
    const res = await upload(c, png, '../../evil "name".html.png', 'text/html');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const u = res.body.upload;
    assert.deepEqual([u.content_type, u.size_bytes, u.width, u.height, u.filename], ['image/png', png.length, 40, 30, 'evil name.html.png']);
    assert.deepEqual(res.body.usage, { used_bytes: png.length, quota_bytes: QUOTA });
    assert.deepEqual(await r2Keys(`u/${await userId(c)}/`), [`u/${await userId(c)}/${u.id}`]);
    const content = await fetch(`${worker.base}${u.content_url}`, { headers: { cookie: `__Host-blimari_session=${c.token}` } });
    assert.equal(content.status, 200);
    assert.equal(content.headers.get('content-type'), 'image/png');
    assert.equal(content.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(content.headers.get('cache-control'), 'private, max-age=3600');
    assert.match(content.headers.get('content-disposition'), /^inline; filename="evil name\.html\.png"/);
    assert.ok(Buffer.from(await content.arrayBuffer()).equals(png));
  });

  test('multipart uploads work too', async () => {
    const c = await user();
    const form = new FormData();
    form.append('file', new Blob([makePng(5, 7)], { type: 'image/png' }), 'tiny.png');
    const res = await fetch(`${worker.base}/api/uploads`, { method: 'POST', body: form, headers: { cookie: `__Host-blimari_session=${c.token}` } });
    const body = await res.json();
    assert.equal(res.status, 201);
    assert.deepEqual([body.upload.filename, body.upload.width, body.upload.height], ['tiny.png', 5, 7]);
  });

  test('bad files are refused with a problem document and leave no row and no object', async () => {
    const c = await user();
    const uid = await userId(c);
    const ok = (await upload(c, makePng(150, 120, { noise: true }))).body.upload; // ~54 KB
    const before = d1(worker, `SELECT COUNT(*) AS n FROM uploads WHERE user_id = '${uid}'`)[0].n;

    assertProblem(await upload(c, Buffer.from('<html><script>alert(1)</script></html>'), 'logo.png'), 415);
    const empty = assertProblem(await upload(c, Buffer.alloc(0)), 422);
    assert.deepEqual(empty.errors.map((e) => e.field), ['file']);
    assertProblem(await upload(c, makePng(200, 200, { noise: true })), 413); // ~120 KB > 100 KB
    assert.equal((await upload(c, makePng(150, 120, { noise: true }))).status, 201); // ~108 KB of 150 KB used
    const quota = await upload(c, makePng(150, 120, { noise: true }));
    const p = assertProblem(quota, 413);
    assert.equal(p.type, 'https://blimari.space/problems/storage-quota-exceeded');
    assert.equal(p.usage.quota_bytes, QUOTA);

    const rows = d1(worker, `SELECT id FROM uploads WHERE user_id = '${uid}'`).map((r) => r.id);
    assert.equal(rows.length, before + 1);
    assert.ok(rows.includes(ok.id));
    assert.deepEqual((await r2Keys(`u/${uid}/`)).sort(), rows.map((id) => `u/${uid}/${id}`).sort());
  });

  test('deleting an upload removes the row and the object, and detaches it from brands', async () => {
    const c = await user();
    const u = (await upload(c, makePng(4, 4))).body.upload;
    const brand = (await c.post('/api/brands', { name: 'Logo user', logo_upload_id: u.id })).body;
    assert.equal((await c.delete(`/api/uploads/${u.id}`)).status, 204);
    assertProblem(await c.get(`/api/uploads/${u.id}`), 404);
    assert.deepEqual(await r2Keys(`u/${await userId(c)}/`), []);
    assert.equal((await c.get(`/api/brands/${brand.id}`)).body.logo_upload_id, null);
  });
});

describe('isolation', () => {
  test("another user gets 404 for every brand and upload endpoint, and lists never leak", async () => {
    const a = await user();
    const b = await user();
    const u = (await upload(a, makePng(6, 6))).body.upload;
    const brand = (await a.post('/api/brands', { name: 'Private', logo_upload_id: u.id })).body;
    const checks = [
      ['GET', `/api/brands/${brand.id}`], ['PATCH', `/api/brands/${brand.id}`, { name: 'Stolen' }],
      ['DELETE', `/api/brands/${brand.id}`], ['POST', `/api/brands/${brand.id}/duplicate`, {}],
      ['GET', `/api/uploads/${u.id}`], ['GET', `/api/uploads/${u.id}/content`], ['DELETE', `/api/uploads/${u.id}`],
    ];
    for (const [method, path, body] of checks) assertProblem(await b.request(method, path, body), 404);
    assert.deepEqual((await b.get('/api/brands')).body.items, []);
    assert.deepEqual((await b.get('/api/brands?archived=true')).body.items, []);
    assert.deepEqual((await b.get('/api/uploads')).body.items, []);
    const steal = assertProblem(await b.post('/api/brands', { name: 'Mine', logo_upload_id: u.id }), 422);
    assert.deepEqual(steal.errors.map((e) => e.field), ['logo_upload_id']);
    // Nothing changed for the owner.
    assert.equal((await a.get(`/api/brands/${brand.id}`)).body.name, 'Private');
    assert.equal((await a.get(`/api/uploads/${u.id}/content`)).status, 200);
  });
});

describe('C3: the daily purge', () => {
  test('removes an unreferenced upload older than 24 hours and keeps a referenced one', async () => {
    const c = await user();
    const uid = await userId(c);
    const loose = (await upload(c, makePng(3, 3))).body.upload;
    const used = (await upload(c, makePng(3, 4))).body.upload;
    const fresh = (await upload(c, makePng(3, 5))).body.upload;
    await c.post('/api/brands', { name: 'Keeper', reference_upload_ids: [used.id] });
    const old = Date.now() - 25 * 3600 * 1000;
    await d1Exec(worker, `UPDATE uploads SET created_at = ${old} WHERE id IN ('${loose.id}', '${used.id}')`);
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
    assertProblem(await c.get(`/api/uploads/${loose.id}`), 404);
    assert.equal((await c.get(`/api/uploads/${used.id}`)).status, 200);
    assert.equal((await c.get(`/api/uploads/${fresh.id}`)).status, 200);
    assert.deepEqual((await r2Keys(`u/${uid}/`)).sort(), [`u/${uid}/${used.id}`, `u/${uid}/${fresh.id}`].sort());
  });

  test('the sweeper removes the row of a write that died before its object was stored', async () => {
    const c = await user();
    const uid = await userId(c);
    await d1Exec(worker, `INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, status, created_at) VALUES ('upl_dead', '${uid}', 'u/${uid}/upl_dead', 'x.png', 'image/png', 10, 'pending', 0)`);
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    assert.deepEqual(d1(worker, "SELECT id FROM uploads WHERE id = 'upl_dead'"), []);
  });
});
