// Accounts, sessions and request protection (PRODUCT.md A1–A5), through wrangler dev,
// with the email stand-in receiving what the worker sends.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sharedWorker, d1, kvEntries, d1Exec } from '../support/worker.mjs';
import { Client, COOKIE, addresses, uniqueEmail, waitForEmail, tokenFrom } from '../support/client.mjs';
import { assertProblem } from '../support/http.mjs';

let worker;
const nextIp = addresses();
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

/** Each client comes from its own address, so the per-IP throttles of one test never
 * bleed into another (Cloudflare sets CF-Connecting-IP; locally the header passes). */
const client = () => new Client(worker.base, { ip: nextIp() });

async function signedUp(email = uniqueEmail()) {
  const c = client();
  const res = await c.signup({ email });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { c, email };
}

describe('sign-up', () => {
  test('creates the account, answers 201 and sets a __Host- session cookie with every attribute', async () => {
    const c = client();
    const email = uniqueEmail('Ada');
    const res = await c.signup({ name: '  Ada Lovelace ', email: `  ${email.toUpperCase()} ` });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { status: 'verification_sent', email: email.toLowerCase() });
    const cookie = c.lastSetCookie.find((x) => x.startsWith(`${COOKIE}=`));
    const attrs = cookie.split('; ').slice(1);
    for (const a of ['Secure', 'HttpOnly', 'SameSite=Lax', 'Path=/']) assert.ok(attrs.includes(a), `cookie lacks ${a}: ${cookie}`);
    assert.ok(!/Domain=/i.test(cookie));
    assert.match(c.token, /^[A-Za-z0-9_-]{43}$/);
    const me = await c.get('/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.name, 'Ada Lovelace');
    assert.equal(me.body.email, email.toLowerCase());
    assert.equal(me.body.email_verified, false);
    assert.match(me.body.id, /^usr_/);
  });

  test('KV keeps only the SHA-256 of the token, never the token', async () => {
    const { c } = await signedUp();
    const entries = kvEntries(worker);
    const hash = createHash('sha256').update(c.token).digest('hex');
    assert.ok(entries.some((e) => e.name === `session:${hash}`), 'no entry under the token hash');
    for (const e of entries) {
      assert.ok(!e.name.includes(c.token) && !e.value.includes(c.token), `raw token stored in ${e.name}`);
    }
  });

  test('the verification link confirms the address once', async () => {
    const { c, email } = await signedUp();
    const mail = await waitForEmail(worker, email, /Confirm your email/);
    const token = tokenFrom(mail, 'verify');
    const ok = await client().post('/api/auth/verify', { token });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'email_verified');
    assert.equal((await c.get('/api/me')).body.email_verified, true);
    assertProblem(await client().post('/api/auth/verify', { token }), 422);
  });

  test('an address that already has an account gets the same answer, no session, and its owner an email', async () => {
    const { email } = await signedUp();
    const again = client();
    const res = await again.signup({ email, password: 'another long passphrase' });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { status: 'verification_sent', email });
    assert.equal(again.token, null);
    await waitForEmail(worker, email, /already have a Blimari account/);
  });

  for (const [what, body, field] of [
    ['an invalid email', { name: 'A', email: 'not-an-email', password: 'correct horse battery' }, 'email'],
    ['a short password', { name: 'A', email: uniqueEmail(), password: 'short' }, 'password'],
    ['a common password', { name: 'A', email: uniqueEmail(), password: 'password123' }, 'password'],
    ['a name over 100 characters', { name: 'x'.repeat(101), email: uniqueEmail(), password: 'correct horse battery' }, 'name'],
  ]) {
    test(`${what} is refused, naming the field, and nothing is written`, async () => {
      const c = client();
      const p = assertProblem(await c.post('/api/auth/signup', body), 422);
      assert.deepEqual(p.errors.map((e) => e.field), [field]);
      assert.equal(c.token, null);
      if (body.email.includes('@')) {
        assert.deepEqual(d1(worker, `SELECT id FROM users WHERE email = '${body.email}'`), []);
      }
    });
  }

  test('unknown fields are refused', async () => {
    const p = assertProblem(await client().post('/api/auth/signup', { name: 'A', email: uniqueEmail(), password: 'correct horse battery', admin: true }), 422);
    assert.match(p.detail, /admin/);
  });
});

describe('sign-in and sessions', () => {
  test('a wrong password and an unknown email get the same 401', async () => {
    const { email } = await signedUp();
    const wrong = assertProblem(await client().login(email, 'not my password'), 401);
    const unknown = assertProblem(await client().login(uniqueEmail('nobody'), 'not my password'), 401);
    assert.equal(wrong.detail, unknown.detail);
    assert.equal(wrong.type, unknown.type);
  });

  test('every sign-in gets a new token, and the sessions list shows both devices', async () => {
    const { c: first, email } = await signedUp();
    const second = client();
    const res = await second.request('POST', '/api/auth/login', { email, password: 'correct horse battery' }, { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; rv:140.0) Gecko/20100101 Firefox/140.0' });
    assert.equal(res.status, 200);
    assert.equal(res.body.email, email);
    assert.notEqual(second.token, first.token);
    const list = await second.get('/api/sessions');
    assert.equal(list.body.items.length, 2);
    assert.deepEqual(list.body.items.filter((s) => s.current).map((s) => s.device), ['Firefox on Windows']);
  });

  test('signing out ends the session: the old cookie gets 401', async () => {
    const { c } = await signedUp();
    const token = c.token;
    const out = await c.post('/api/auth/logout');
    assert.equal(out.status, 204);
    assert.ok(c.lastSetCookie.some((x) => x.startsWith(`${COOKIE}=;`) && /Max-Age=0/.test(x)));
    const replay = new Client(worker.base);
    replay.token = token;
    assertProblem(await replay.get('/api/me'), 401);
  });

  test('a revoked session gets 401 at once; the revoking one keeps working', async () => {
    const { c: a, email } = await signedUp();
    const b = client();
    await b.login(email);
    const other = (await a.get('/api/sessions')).body.items.find((s) => !s.current);
    assert.equal((await a.delete(`/api/sessions/${other.id}`)).status, 204);
    assertProblem(await b.get('/api/me'), 401);
    assert.equal((await a.get('/api/me')).status, 200);
  });

  test('signing out everywhere ends every session', async () => {
    const { c: a, email } = await signedUp();
    const b = client();
    await b.login(email);
    assert.equal((await b.delete('/api/sessions')).status, 204);
    assertProblem(await a.get('/api/me'), 401);
    assertProblem(await b.get('/api/me'), 401);
  });

  test("another user's session cannot be revoked: 404", async () => {
    const { c: a } = await signedUp();
    const { c: b } = await signedUp();
    const bSession = (await b.get('/api/sessions')).body.items[0];
    assertProblem(await a.delete(`/api/sessions/${bSession.id}`), 404);
    assert.equal((await b.get('/api/me')).status, 200);
  });

  test('without a session the account endpoints answer 401', async () => {
    for (const [method, path] of [['GET', '/api/me'], ['GET', '/api/sessions'], ['GET', '/api/activity'], ['PATCH', '/api/me'], ['POST', '/api/auth/password']]) {
      assertProblem(await client().request(method, path, method === 'GET' ? undefined : {}), 401);
    }
  });
});

describe('passwords', () => {
  test('changing the password needs the current one, ends the other sessions and keeps this one', async () => {
    const { c: a, email } = await signedUp();
    const b = client();
    await b.login(email);
    const wrong = assertProblem(await a.post('/api/auth/password', { current_password: 'nope nope nope', new_password: 'a brand new passphrase' }), 422);
    assert.deepEqual(wrong.errors.map((e) => e.field), ['current_password']);
    const ok = await a.post('/api/auth/password', { current_password: 'correct horse battery', new_password: 'a brand new passphrase' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.other_sessions_ended, 1);
    assertProblem(await b.get('/api/me'), 401);
    assert.equal((await a.get('/api/me')).status, 200);
    assertProblem(await client().login(email), 401);
    assert.equal((await client().login(email, 'a brand new passphrase')).status, 200);
  });

  test('the stored hash is PBKDF2-HMAC-SHA256 with 100,000 iterations and its parameters', async () => {
    const { email } = await signedUp();
    const [row] = d1(worker, `SELECT password_hash FROM users WHERE email = '${email}'`);
    const [scheme, iterations, salt, hash] = row.password_hash.split('$');
    assert.equal(scheme, 'pbkdf2-sha256');
    assert.equal(iterations, '100000');
    const { pbkdf2Sync } = await import('node:crypto');
    const expected = pbkdf2Sync('correct horse battery', Buffer.from(salt, 'base64'), 100000, 32, 'sha256');
    assert.equal(expected.toString('base64').replace(/=+$/, ''), hash);
  });

  test('a sign-in with an old parameter set upgrades the stored hash', async () => {
    const { email } = await signedUp();
    const { pbkdf2Sync } = await import('node:crypto');
    const salt = Buffer.alloc(16, 7);
    const old = `pbkdf2-sha256$1000$${salt.toString('base64').replace(/=+$/, '')}$${pbkdf2Sync('correct horse battery', salt, 1000, 32, 'sha256').toString('base64').replace(/=+$/, '')}`;
    await d1Exec(worker, `UPDATE users SET password_hash = '${old}' WHERE email = '${email}'`);
    assert.equal((await client().login(email)).status, 200);
    const [row] = d1(worker, `SELECT password_hash FROM users WHERE email = '${email}'`);
    assert.match(row.password_hash, /^pbkdf2-sha256\$100000\$/);
    assert.equal((await client().login(email)).status, 200);
  });

  test('a reset link works once, ends every session, and the answer never says whether the account exists', async () => {
    const { c, email } = await signedUp();
    const known = await client().post('/api/auth/reset/request', { email });
    const unknown = await client().post('/api/auth/reset/request', { email: uniqueEmail('ghost') });
    assert.equal(known.status, 202);
    assert.deepEqual(known.body, unknown.body);
    assert.equal(unknown.status, 202);
    const token = tokenFrom(await waitForEmail(worker, email, /Reset your Blimari password/), 'reset');
    const ok = await client().post('/api/auth/reset/confirm', { token, new_password: 'reset passphrase ok' });
    assert.equal(ok.status, 200);
    assertProblem(await c.get('/api/me'), 401);
    assertProblem(await client().post('/api/auth/reset/confirm', { token, new_password: 'another passphrase' }), 422);
    assert.equal((await client().login(email, 'reset passphrase ok')).status, 200);
  });

  test('an expired reset link is refused', async () => {
    const { email } = await signedUp();
    await client().post('/api/auth/reset/request', { email });
    const token = tokenFrom(await waitForEmail(worker, email, /Reset your Blimari password/), 'reset');
    await d1Exec(worker, `UPDATE email_tokens SET expires_at = 0 WHERE purpose = 'reset_password' AND user_id = (SELECT id FROM users WHERE email = '${email}')`);
    assertProblem(await client().post('/api/auth/reset/confirm', { token, new_password: 'reset passphrase ok' }), 422);
    assert.equal((await client().login(email)).status, 200);
  });
});

describe('profile and email change', () => {
  test('the name changes at once; the email only after the new address confirms, and the old one is told', async () => {
    const { c, email } = await signedUp();
    const renamed = await c.patch('/api/me', { name: 'Ada King' });
    assert.equal(renamed.body.name, 'Ada King');
    const newEmail = uniqueEmail('new');
    assertProblem(await c.patch('/api/me', { email: newEmail }), 422);
    const pending = await c.patch('/api/me', { email: newEmail, current_password: 'correct horse battery' });
    assert.equal(pending.status, 200);
    assert.equal(pending.body.email, email);
    assert.equal(pending.body.pending_email, newEmail);
    await waitForEmail(worker, email, /email address is changing/);
    const token = tokenFrom(await waitForEmail(worker, newEmail, /Confirm your email/), 'verify');
    const done = await client().post('/api/auth/verify', { token });
    assert.equal(done.body.status, 'email_changed');
    const me = (await c.get('/api/me')).body;
    assert.equal(me.email, newEmail);
    assert.equal(me.pending_email, null);
    assert.equal((await client().login(newEmail)).status, 200);
  });

  test('recent activity lists the security events, newest first, in pages', async () => {
    const { c, email } = await signedUp();
    await client().login(email, 'wrong password here');
    await client().login(email);
    await c.post('/api/auth/password', { current_password: 'correct horse battery', new_password: 'a brand new passphrase' });
    const all = (await c.get('/api/activity')).body.items.map((e) => e.kind);
    assert.deepEqual(all, ['password_changed', 'signed_in', 'sign_in_failed', 'signed_up']);
    const first = (await c.get('/api/activity?limit=2')).body;
    assert.equal(first.items.length, 2);
    const second = (await c.get(`/api/activity?limit=2&cursor=${first.next_cursor}`)).body;
    assert.deepEqual([...first.items, ...second.items].map((e) => e.kind), all);
  });
});

describe('cross-origin protection (Go CrossOriginProtection cases)', () => {
  const host = () => new URL(worker.base).host;
  const cases = [
    ['same-origin', { 'sec-fetch-site': 'same-origin' }, 204],
    ['none (typed URL, bookmark)', { 'sec-fetch-site': 'none' }, 204],
    ['cross-site', { 'sec-fetch-site': 'cross-site' }, 403],
    ['same-site', { 'sec-fetch-site': 'same-site' }, 403],
    ['no headers (non-browser client)', {}, 204],
    ['matching Origin without Sec-Fetch-Site', { origin: () => `http://${host()}` }, 204],
    ['mismatched Origin without Sec-Fetch-Site', { origin: 'https://attacker.example' }, 403],
    ['null Origin', { origin: 'null' }, 403],
    ['cross-site with a matching Origin', { 'sec-fetch-site': 'cross-site', origin: () => `http://${host()}` }, 403],
  ];
  for (const [name, headers, status] of cases) {
    test(`POST ${name} → ${status}`, async () => {
      const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, typeof v === 'function' ? v() : v]));
      const res = await client().request('POST', '/api/auth/logout', {}, h);
      assert.equal(res.status, status);
      if (status === 403) assertProblem(res, 403);
    });
  }

  test('safe methods pass even cross-site', async () => {
    const res = await client().request('GET', '/api/health', undefined, { 'sec-fetch-site': 'cross-site' });
    assert.equal(res.status, 200);
  });

  test('a cross-site request cannot change a signed-in account', async () => {
    const { c } = await signedUp();
    const res = await c.request('PATCH', '/api/me', { name: 'Mallory' }, { 'sec-fetch-site': 'cross-site' });
    assertProblem(res, 403);
    assert.equal((await c.get('/api/me')).body.name, 'Ada Lovelace');
  });
});
