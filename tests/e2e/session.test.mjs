// GET /api/auth/session: who is signed in, answered 200 either way, so the pages can ask
// without the browser logging an error for signed-out visitors (issue 15).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sharedWorker } from '../support/worker.mjs';
import { Client, COOKIE, addresses, uniqueEmail } from '../support/client.mjs';

let worker;
const nextIp = addresses();
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

test('signed out, with no cookie or an unknown one, answers 200 signed_in false', async () => {
  const anonymous = new Client(worker.base, { ip: nextIp() });
  const res = await anonymous.get('/api/auth/session');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { signed_in: false });
  assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  const forged = await anonymous.request('GET', '/api/auth/session', undefined, { cookie: `${COOKIE}=${'a'.repeat(43)}` });
  assert.equal(forged.status, 200);
  assert.deepEqual(forged.body, { signed_in: false });
});

test('signed in, it answers the same profile as /api/me; after sign-out, signed out again', async () => {
  const c = new Client(worker.base, { ip: nextIp() });
  const email = uniqueEmail('session');
  assert.equal((await c.signup({ name: 'Sess Ion', email })).status, 201);
  const session = await c.get('/api/auth/session');
  const me = await c.get('/api/me');
  assert.equal(session.status, 200);
  assert.deepEqual(session.body, { signed_in: true, user: me.body });
  assert.equal(session.body.user.email, email);
  assert.equal(session.body.user.admin, false);

  const token = c.token;
  assert.equal((await c.post('/api/auth/logout')).status, 204);
  const after = await new Client(worker.base, { ip: nextIp() }).request('GET', '/api/auth/session', undefined, { cookie: `${COOKIE}=${token}` });
  assert.equal(after.status, 200);
  assert.deepEqual(after.body, { signed_in: false });
});
