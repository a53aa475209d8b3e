// Throttling of sign-in, sign-up and reset (A4), and idle session expiry, on a worker
// configured with short windows so the limits can be seen to lift.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../support/worker.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';
import { assertProblem } from '../support/http.mjs';

const WINDOW_S = 10;
let worker;
before(async () => {
  worker = await startWorker({ vars: { AUTH_THROTTLE_WINDOW_SECONDS: String(WINDOW_S), SESSION_IDLE_SECONDS: '3' } });
});
after(async () => { await worker?.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Waits for the start of a fresh throttling window, so a burst fits inside one. */
async function freshWindow() {
  const ms = WINDOW_S * 1000;
  await sleep(ms - (Date.now() % ms) + 50);
}

test('sign-in is throttled per account and IP at 10 attempts, with Retry-After, lifting after the window, and never locks the owner out from elsewhere', async () => {
  const email = uniqueEmail('target');
  const owner = new Client(worker.base, { ip: '198.51.100.7' });
  assert.equal((await owner.signup({ email })).status, 201);
  await freshWindow();
  const attacker = () => new Client(worker.base, { ip: '203.0.113.66' });
  for (let i = 0; i < 10; i++) {
    assert.equal((await attacker().login(email, 'wrong password')).status, 401, `attempt ${i + 1}`);
  }
  const blocked = await attacker().login(email, 'wrong password');
  assertProblem(blocked, 429);
  const retryAfter = Number(blocked.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);
  // The owner, from their own address, is not locked out by the attacker's failures.
  assert.equal((await new Client(worker.base, { ip: '198.51.100.7' }).login(email)).status, 200);
  await sleep(retryAfter * 1000 + 100);
  assert.equal((await attacker().login(email, 'wrong password')).status, 401);
});

test('sign-up is throttled per address at 3, whichever IPs it comes from', async () => {
  await freshWindow();
  const email = uniqueEmail('popular');
  for (let i = 0; i < 3; i++) {
    assert.equal((await new Client(worker.base, { ip: `198.51.100.${20 + i}` }).signup({ email })).status, 201);
  }
  assertProblem(await new Client(worker.base, { ip: '198.51.100.30' }).signup({ email }), 429);
});

test('sign-in is throttled per IP at 50 attempts across accounts', async () => {
  await freshWindow();
  const c = new Client(worker.base, { ip: '192.0.2.50' });
  const statuses = await Promise.all(Array.from({ length: 51 }, (_, i) => c.login(uniqueEmail(`spray${i}`), 'wrong password').then((r) => r.status)));
  assert.equal(statuses.filter((s) => s === 401).length, 50);
  assert.equal(statuses.filter((s) => s === 429).length, 1);
});

test('sign-up is throttled per IP at 10', async () => {
  await freshWindow();
  const c = new Client(worker.base, { ip: '192.0.2.77' });
  for (let i = 0; i < 10; i++) {
    assert.equal((await new Client(worker.base, { ip: '192.0.2.77' }).signup({ email: uniqueEmail('bulk') })).status, 201);
  }
  assertProblem(await c.signup({ email: uniqueEmail('bulk') }), 429);
});

test('reset requests are throttled per account at 5, whether or not the account exists', async () => {
  await freshWindow();
  const email = uniqueEmail('ghost');
  for (let i = 0; i < 5; i++) {
    const res = await new Client(worker.base, { ip: `192.0.2.${100 + i}` }).post('/api/auth/reset/request', { email });
    assert.equal(res.status, 202);
  }
  assertProblem(await new Client(worker.base, { ip: '192.0.2.120' }).post('/api/auth/reset/request', { email }), 429);
});

test('a session idle past SESSION_IDLE_SECONDS gets 401', async () => {
  const c = new Client(worker.base, { ip: '192.0.2.200' });
  assert.equal((await c.signup({ email: uniqueEmail('idle') })).status, 201);
  assert.equal((await c.get('/api/me')).status, 200);
  await sleep(3500);
  assertProblem(await c.get('/api/me'), 401);
});
