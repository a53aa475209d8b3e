// What an adversarial review found (issue 10), each proved on the real runtime: input
// that used to crash or wedge the worker, and the rules that close the holes.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startWorker, eventually } from '../support/worker.mjs';
import { Client, uniqueEmail, verifyEmail, waitForEmail, tokenFrom, COOKIE } from '../support/client.mjs';
import { assertProblem, getJson } from '../support/http.mjs';
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

let worker;
let prod;
before(async () => { [worker, prod] = await Promise.all([startWorker(), startWorker({ environment: 'production' })]); });
after(async () => { await Promise.all([worker?.stop(), prod?.stop()]); });

let ip = 0;
const client = () => new Client(worker.base, { ip: `100.96.${Math.floor(++ip / 250)}.${ip % 250}` });

/** A signed-up, verified user with one brand. */
async function user(brand = { name: 'Fernleaf', voice: 'warm', colors: [{ hex: '#0e7c66', role: 'primary' }] }) {
  const c = client();
  c.email = uniqueEmail('hard');
  assert.equal((await c.signup({ email: c.email })).status, 201);
  await verifyEmail(worker, c.email);
  const b = await c.post('/api/brands', brand);
  assert.equal(b.status, 201);
  c.brandId = b.body.id;
  return c;
}

const submit = (c, content_type, prompt) => c.post('/api/generations', { brand_id: c.brandId, content_type, prompt });
const finished = (c, id) => eventually(async () => {
  const r = await c.get(`/api/generations/${id}`);
  return ['succeeded', 'failed'].includes(r.body.status) && r.body;
}, { timeoutMs: 60_000, intervalMs: 300, what: `job ${id} to finish` });
const credits = async (c) => (await c.get('/api/credits')).body;

describe('generation that used to crash or wedge', () => {
  test('a prompt with case-changing characters (İstanbul, the Kelvin sign) is generated, not crashed on', async () => {
    const c = await user();
    const res = await submit(c, 'social_post', 'Opening in İstanbul >>> 5 K away <<<');
    assert.equal(res.status, 202);
    const job = await finished(c, res.body.id);
    assert.equal(job.status, 'succeeded');
    assert.equal((await credits(c)).balance, 49);
  });

  test('a job that crashes its consumer every time ends failed, its credits released, while others are served', async () => {
    const c = await user();
    const other = await user();
    const doomed = await submit(c, 'social_post', 'Launch day #crash-consumer');
    assert.equal(doomed.status, 202);
    const fine = await submit(other, 'social_post', 'Launch day for everyone else');
    assert.equal((await finished(other, fine.body.id)).status, 'succeeded');
    const job = await finished(c, doomed.body.id);
    assert.equal(job.status, 'failed');
    assert.match(job.failure_reason, /No credits were used/);
    assert.deepEqual(await credits(c), { balance: 50, held: 0, debt: 0, low_balance: false });
    // The sweeper runs cleanly afterwards.
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    const runs = (await getJson(worker.base, '/api/_diag/cron-runs')).body.runs;
    assert.equal(runs.find((r) => r.task === 'sweep')?.outcome, 'ok');
  });

  test('deleting a generated image as an upload answers 204, detaches it, and the sweeper still runs', async () => {
    const c = await user();
    const res = await submit(c, 'image_square', 'A fern on a windowsill');
    const job = await finished(c, res.body.id);
    assert.equal(job.status, 'succeeded');
    const uploadId = job.output.upload_id;
    assert.equal((await c.delete(`/api/uploads/${uploadId}`)).status, 204);
    assert.equal((await c.get(`/api/generations/${res.body.id}`)).body.output, null);
    assertProblem(await c.get(`/api/uploads/${uploadId}`), 404);
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    const runs = (await getJson(worker.base, '/api/_diag/cron-runs')).body.runs;
    assert.equal(runs.find((r) => r.task === 'sweep')?.outcome, 'ok');
  });

  test('brand text that goes into the prompts is screened too', async () => {
    const c = await user({ name: 'Grim', voice: 'celebrates violence' });
    const res = await submit(c, 'social_post', 'A gentle spring sale');
    assertProblem(res, 422);
    assert.deepEqual(await credits(c), { balance: 50, held: 0, debt: 0, low_balance: false });
  });
});

describe('accounts', () => {
  test('starter credits come with a verified address, once, and not again for a new address', async () => {
    const c = client();
    const email = uniqueEmail('starter');
    assert.equal((await c.signup({ email })).status, 201);
    assert.equal((await credits(c)).balance, 0);
    await verifyEmail(worker, email);
    assert.equal((await credits(c)).balance, 50);
    const next = uniqueEmail('starter-new');
    assert.equal((await c.patch('/api/me', { email: next, current_password: 'correct horse battery' })).status, 200);
    await verifyEmail(worker, next);
    assert.equal((await c.get('/api/me')).body.email, next);
    assert.equal((await credits(c)).balance, 50, 'no second grant for a second address');
  });

  test('a password change replaces this session\'s token and kills pending reset links', async () => {
    const c = client();
    const email = uniqueEmail('rotate');
    assert.equal((await c.signup({ email })).status, 201);
    assert.equal((await client().post('/api/auth/reset/request', { email })).status, 202);
    const resetMail = await waitForEmail(worker, email, /Reset your/);
    const before = c.token;
    const res = await c.post('/api/auth/password', { current_password: 'correct horse battery', new_password: 'a brand new passphrase' });
    assert.equal(res.status, 200);
    assert.ok(c.token && c.token !== before, 'a new session cookie');
    assert.equal((await c.get('/api/me')).status, 200);
    const stolen = client();
    stolen.token = before;
    assertProblem(await stolen.get('/api/me'), 401);
    assertProblem(await client().post('/api/auth/reset/confirm', { token: tokenFrom(resetMail, 'reset'), new_password: 'attacker passphrase here' }), 422);
  });
});

describe('requests', () => {
  test('a chunked JSON body over the limit is refused with 413 before it is read whole', async () => {
    // node:http, so the answer is read even while the rest of the body is still being
    // sent (the server stops reading at the limit and may close the connection early).
    const url = new URL('/api/auth/login', worker.base);
    const { status, type } = await new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, type: res.headers['content-type'] });
      });
      req.on('error', (e) => { if (!['EPIPE', 'ECONNRESET'].includes(e.code)) reject(e); });
      const chunk = `{"email":"${'a'.repeat(40_000)}`;
      let sent = 0;
      const pump = () => {
        while (sent < 8) {
          sent += 1;
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 413);
    assert.equal(type, 'application/problem+json');
  });

  test('an unknown method on a known path is 405 with Allow', async () => {
    const res = await fetch(`${worker.base}/api/health`, { method: 'QUERY' });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow'), /GET/);
  });

  test('in production the diagnostics routes are 404 for every method', async () => {
    for (const [method, path] of [['GET', '/api/_diag/cron-runs'], ['DELETE', '/api/_diag/kv'], ['PATCH', '/api/_diag/db'], ['GET', '/api/_diag/kv/x']]) {
      const res = await getJson(prod.base, path, { method });
      assertProblem(res, 404);
      assert.equal(res.headers.get('allow'), null, `${method} ${path}`);
    }
  });

  test('the session cookie is never accepted from another name or shape', async () => {
    const c = client();
    assert.equal((await c.signup({ email: uniqueEmail('cookie') })).status, 201);
    const res = await fetch(`${worker.base}/api/me`, { headers: { cookie: `blimari_session=${c.token}` } });
    assert.equal(res.status, 401);
    assert.equal((await fetch(`${worker.base}/api/me`, { headers: { cookie: `${COOKIE}=${c.token}` } })).status, 200);
  });
});
