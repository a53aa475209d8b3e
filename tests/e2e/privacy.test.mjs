// Data rights and retention (F3–F6, issue 12) through wrangler dev, on a worker of its own
// with a 3-second grace period and a daily-run budget of 40 operations (the least allowed), so that erasure
// and a retention backlog take several cron runs: closure ends every session (D1 and KV),
// refuses while a purchase is open, offers reopening, and after the grace period the
// daily run leaves no row, R2 object or KV entry keyed to the user (every table of the
// local D1, the bucket and the namespace are enumerated), keeps billing rows
// de-identified, and sign-in then fails exactly like an unknown address. Privacy
// requests (signed in or not, throttled, confirmed by email) and the policy notice.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, eventually, d1, kvEntries, d1Exec } from '../support/worker.mjs';
import { Client, uniqueEmail, verifyEmail, waitForEmail } from '../support/client.mjs';
import { assertProblem, getJson } from '../support/http.mjs';
import { makePng } from '../support/png.mjs';
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

const GRACE_SECONDS = 3;
const BUDGET = 40;
let worker;
let ip = 0;
before(async () => {
  worker = await startWorker({ vars: { ACCOUNT_DELETION_GRACE_SECONDS: String(GRACE_SECONDS), RETENTION_RUN_BUDGET: String(BUDGET) } });
});
after(async () => { await worker?.stop(); });

const client = () => new Client(worker.base, { ip: `100.70.0.${++ip}` });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r2Keys = async (prefix) => (await getJson(worker.base, `/api/_diag/blobs?prefix=${encodeURIComponent(prefix)}`)).body.keys;
const control = (session, action, body = {}) =>
  fetch(`${worker.stripe.base}/_test/checkout/sessions/${session}/${action}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());

async function account({ verify = true } = {}) {
  const c = client();
  const email = uniqueEmail('rights');
  assert.equal((await c.signup({ email })).status, 201);
  if (verify) await verifyEmail(worker, email);
  c.email = email;
  c.id = (await c.get('/api/me')).body.id;
  return c;
}

async function upload(c, bytes) {
  const headers = { 'content-type': 'image/png', cookie: `__Host-blimari_session=${c.token}`, 'cf-connecting-ip': c.ip };
  const res = await fetch(`${worker.base}/api/uploads?filename=logo.png`, { method: 'POST', body: bytes, headers });
  assert.equal(res.status, 201);
  return (await res.json()).upload;
}

/** Fires the daily cron; returns its run record. */
async function dailyRun() {
  const before = Date.now();
  await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
  const [run] = d1(worker, `SELECT outcome, detail, started_at FROM cron_runs WHERE task = 'retention' AND started_at >= ${before - 1000} ORDER BY started_at DESC LIMIT 1`);
  assert.ok(run, 'the daily run was recorded');
  return run;
}

const operations = (run) => Number(/operations: (\d+)/.exec(run.detail)?.[1]);

/** Every table of the local D1, and the rows whose text mentions `needle`. */
function mentions(needle) {
  const tables = d1(worker, worker.neonUrl
    ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").map((t) => t.name);
  assert.ok(tables.includes('users') && tables.includes('ledger_entries') && tables.length > 15, tables.join(', '));
  const found = [];
  for (const table of tables) {
    for (const row of d1(worker, `SELECT * FROM "${table}"`)) {
      for (const [column, value] of Object.entries(row)) {
        if (typeof value === 'string' && value.includes(needle)) found.push(`${table}.${column} = ${value}`);
      }
    }
  }
  return found;
}

describe('F3: closing an account', () => {
  test('needs the password, is refused while a purchase is open, and ends every session at once (D1 and KV)', async () => {
    const c = await account();
    const other = new Client(worker.base, { ip: c.ip });
    assert.equal((await other.login(c.email)).status, 200);
    assertProblem(await c.request('DELETE', '/api/account', { password: 'not my password' }), 422);
    assertProblem(await c.request('DELETE', '/api/account', {}), 422);

    const checkout = await c.post('/api/billing/checkout', { pack: 'starter' });
    assert.equal(checkout.status, 201);
    const refused = await c.request('DELETE', '/api/account', { password: 'correct horse battery' });
    assertProblem(refused, 409);
    assert.match(refused.body.detail, /purchase/);
    assert.equal((await c.get('/api/me')).status, 200, 'nothing ended');

    await control(checkout.body.session_id, 'pay', { async: null });
    await eventually(async () => (await c.get('/api/billing/purchases')).body.items[0]?.status === 'paid', { what: 'the purchase to be paid' });
    const closed = await c.request('DELETE', '/api/account', { password: 'correct horse battery' });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.status, 'closed');
    assert.equal(closed.body.sessions_ended, 2);
    assert.ok(Math.abs(closed.body.purge_after - closed.body.closed_at - GRACE_SECONDS * 1000) < 5);
    assert.ok(c.lastSetCookie.some((h) => /Max-Age=0/.test(h)), 'the cookie is cleared');
    assert.equal(c.token, null);
    // The other device is signed out too: its KV entry is gone, its row ended.
    assertProblem(await other.get('/api/me'), 401);
    assert.deepEqual(kvEntries(worker).filter((e) => e.value.includes(c.id)), []);
    assert.deepEqual(d1(worker, `SELECT id FROM sessions WHERE user_id = '${c.id}' AND ended_at IS NULL`), []);
    assert.ok(d1(worker, `SELECT kind FROM security_events WHERE user_id = '${c.id}'`).some((e) => e.kind === 'account_closed'));
    const mail = await waitForEmail(worker, c.email, /account is closed/);
    assert.match(mail.text, /reopen/);
  });

  test('within the grace period, sign-in offers reopening, and reopening signs in', async () => {
    const c = await account({ verify: false });
    assert.equal((await c.get('/api/client-config')).body.account_deletion_grace_seconds, GRACE_SECONDS, 'the settings page says how long');
    assert.equal((await c.request('DELETE', '/api/account', { password: 'correct horse battery' })).status, 200);
    const login = await c.login(c.email);
    assertProblem(login, 409);
    assert.equal(login.body.type, 'https://blimari.space/problems/account-closing');
    assert.ok(login.body.reopen_until > Date.now());
    assert.equal(c.token, null, 'no session for a closed account');
    // A wrong password still answers like any failed sign-in.
    assertProblem(await c.login(c.email, 'wrong password!'), 401);
    assertProblem(await c.post('/api/account/reopen', { email: c.email, password: 'wrong password!' }), 401);
    const reopened = await c.post('/api/account/reopen', { email: c.email, password: 'correct horse battery' });
    assert.equal(reopened.status, 200, JSON.stringify(reopened.body));
    assert.ok(c.token);
    assert.equal((await c.get('/api/me')).body.id, c.id);
    assertProblem(await c.post('/api/account/reopen', { email: c.email, password: 'correct horse battery' }), 409);
    // The reopened account outlives the grace period and a daily run.
    await sleep(GRACE_SECONDS * 1000 + 200);
    await dailyRun();
    assert.equal((await c.get('/api/me')).status, 200);
    const kinds = (await c.get('/api/activity')).body.items.map((e) => e.kind);
    assert.ok(kinds.includes('account_closed') && kinds.includes('account_reopened'), kinds.join(', '));
  });

  test('after the grace period the daily runs erase everything keyed to the user, keep billing de-identified, and sign-in fails like an unknown address', async () => {
    const c = await account();
    const bystander = await account();
    const keep = await upload(bystander, makePng(4, 4));

    // Something in every corner: files (R2), a brand, a generation, a purchase, a privacy request.
    const logo = await upload(c, makePng(5, 5));
    const loose = await upload(c, makePng(6, 6));
    const brand = await c.post('/api/brands', { name: 'Fernleaf', logo_upload_id: logo.id });
    assert.equal(brand.status, 201);
    const job = await c.post('/api/generations', { brand_id: brand.body.id, content_type: 'image_square', prompt: 'A fern at dawn' });
    assert.equal(job.status, 202);
    await eventually(async () => (await c.get(`/api/generations/${job.body.id}`)).body.status === 'succeeded', { what: 'the generation', timeoutMs: 45_000 });
    const checkout = await c.post('/api/billing/checkout', { pack: 'starter' });
    await control(checkout.body.session_id, 'pay', { async: null });
    await eventually(async () => (await c.get('/api/billing/purchases')).body.items[0]?.status === 'paid', { what: 'the purchase to be paid' });
    assert.equal((await c.post('/api/privacy-requests', { kind: 'access', message: 'Everything, please.' })).status, 201);
    const files = await r2Keys(`u/${c.id}/`);
    assert.ok(files.length >= 3, files.join(', '));
    assert.ok(files.includes(`u/${c.id}/${loose.id}`));
    const ledgerCount = d1(worker, `SELECT COUNT(*) AS n FROM ledger_entries WHERE user_id = '${c.id}'`)[0].n;
    assert.ok(ledgerCount >= 4, `${ledgerCount} ledger entries`);

    assert.equal((await c.request('DELETE', '/api/account', { password: 'correct horse battery' })).status, 200);
    // Inside the grace period a daily run erases nothing.
    await dailyRun();
    assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM users WHERE id = '${c.id}'`)[0].n, 1);
    await sleep(GRACE_SECONDS * 1000 + 200);

    // Past it, runs of at most BUDGET operations each, until the user is gone.
    const runs = [];
    for (let i = 0; i < 15 && d1(worker, `SELECT id FROM users WHERE id = '${c.id}'`).length > 0; i++) {
      const run = await dailyRun();
      assert.equal(run.outcome, 'ok', run.detail);
      assert.ok(operations(run) <= BUDGET, run.detail);
      runs.push(run.detail);
    }
    assert.deepEqual(d1(worker, `SELECT id FROM users WHERE id = '${c.id}'`), [], runs.join('\n'));

    // No row, object or KV entry keyed to the user, or holding the address.
    assert.deepEqual(mentions(c.id), []);
    assert.deepEqual(mentions(c.email), []);
    assert.deepEqual(await r2Keys(`u/${c.id}/`), []);
    assert.deepEqual(kvEntries(worker).filter((e) => e.value.includes(c.id)), []);
    // Billing stays, de-identified under one reference.
    const [purchase] = d1(worker, `SELECT user_id, credits, amount_total, status FROM purchases WHERE session_id = '${checkout.body.session_id}'`);
    assert.match(purchase.user_id, /^anon_/);
    assert.deepEqual({ ...purchase, user_id: 'x' }, { user_id: 'x', credits: 100, amount_total: 900, status: 'paid' });
    assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM ledger_entries WHERE user_id = '${purchase.user_id}'`)[0].n, ledgerCount);
    assert.deepEqual(d1(worker, `SELECT receipt_url FROM stripe_charges c JOIN purchases p ON p.payment_intent = c.payment_intent WHERE p.session_id = '${checkout.body.session_id}'`), [{ receipt_url: null }]);
    // The receipt went to the address on file.
    const receipt = await waitForEmail(worker, c.email, /has been erased/);
    assert.match(receipt.text, /1 brand\(s\)/);
    assert.match(receipt.text, new RegExp(purchase.user_id));
    // Sign-in now fails exactly as for an address that never had an account.
    const gone = await client().login(c.email);
    const unknown = await client().login(uniqueEmail('never'));
    assertProblem(gone, 401);
    const strip = ({ request_id, instance, ...rest }) => rest;
    assert.deepEqual(strip(gone.body), strip(unknown.body));
    assertProblem(await client().post('/api/account/reopen', { email: c.email, password: 'correct horse battery' }), 401);
    // The bystander lost nothing.
    assert.equal((await bystander.get(`/api/uploads/${keep.id}`)).status, 200);
    assert.deepEqual(await r2Keys(`u/${bystander.id}/${keep.id}`), [`u/${bystander.id}/${keep.id}`]);
  });
});

describe('F4: the daily run', () => {
  test('a backlog is purged across runs, each within its budget, and what is inside its period stays', async () => {
    const c = await account({ verify: false });
    const old = Date.now() - 400 * 86_400_000;
    const fresh = Date.now() - 86_400_000;
    const events = (prefix, count, at) => d1Exec(worker, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1}) `
      + `INSERT INTO security_events (id, user_id, kind, created_at) SELECT '${prefix}' || i, '${c.id}', 'signed_in', ${at} FROM n`);
    await events('bk-old-', 2600, old);
    await events('bk-new-', 20, fresh);
    const stale = [];
    for (let i = 0; i < 14; i++) stale.push(await upload(c, makePng(7 + i, 7)));
    const recent = await upload(c, makePng(20, 20));
    await d1Exec(worker, `UPDATE uploads SET created_at = ${Date.now() - 25 * 3600 * 1000} WHERE id IN (${stale.map((u) => `'${u.id}'`).join(', ')})`);
    const left = () => d1(worker, "SELECT COUNT(*) AS n FROM security_events WHERE id LIKE 'bk-old-%'")[0].n
      + d1(worker, `SELECT COUNT(*) AS n FROM uploads WHERE id IN (${stale.map((u) => `'${u.id}'`).join(', ')})`)[0].n;
    assert.equal(left(), 2614);
    const progress = [];
    for (let i = 0; i < 20 && left() > 0; i++) {
      const run = await dailyRun();
      assert.equal(run.outcome, 'ok', run.detail);
      assert.ok(operations(run) <= BUDGET, run.detail);
      progress.push(left());
    }
    assert.equal(left(), 0, progress.join(' → '));
    assert.ok(progress.length >= 2, progress.join(' → '));
    assert.deepEqual(await r2Keys(`u/${c.id}/`), [`u/${c.id}/${recent.id}`]);
    assert.equal(d1(worker, "SELECT COUNT(*) AS n FROM security_events WHERE id LIKE 'bk-new-%'")[0].n, 20);
  });
});

describe('F5: privacy requests', () => {
  test('signed out: recorded, confirmed by email, throttled; signed in: listed with its status for its requester only', async () => {
    const anon = client();
    const email = uniqueEmail('asker');
    const made = await anon.post('/api/privacy-requests', { kind: 'deletion', email, message: 'Please erase what you hold on me.' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual({ kind: made.body.kind, status: made.body.status }, { kind: 'deletion', status: 'received' });
    const mail = await waitForEmail(worker, email, /privacy request/);
    assert.match(mail.text, new RegExp(made.body.id));
    assert.match(mail.text, /privacy@blimari\.space/);
    assertProblem(await anon.post('/api/privacy-requests', { kind: 'access' }), 422);
    assertProblem(await anon.post('/api/privacy-requests', { kind: 'erase', email }), 422);
    assertProblem(await anon.get('/api/privacy-requests'), 401);
    // Five per IP per window: the sixth is refused.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await anon.post('/api/privacy-requests', { kind: 'other', email: uniqueEmail('asker') })).status);
    assert.deepEqual(statuses, [201, 201, 201, 201, 429]);

    const c = await account({ verify: false });
    const mine = await c.post('/api/privacy-requests', { kind: 'access' });
    assert.equal(mine.status, 201);
    await waitForEmail(worker, c.email, /privacy request/);
    const list = (await c.get('/api/privacy-requests')).body;
    assert.deepEqual(list.items.map((r) => [r.id, r.status]), [[mine.body.id, 'received']]);
    assert.equal(list.next_cursor, null);
    const stranger = await account({ verify: false });
    assert.deepEqual((await stranger.get('/api/privacy-requests')).body.items, []);
    assert.ok((await c.get('/api/activity')).body.items.some((e) => e.kind === 'privacy_request_made'));
  });
});

describe('F6: policy versions', () => {
  test('the accepted version is shown; a newer published one gives a notice until it is acknowledged', async () => {
    const c = await account({ verify: false });
    const me = (await c.get('/api/me')).body;
    assert.deepEqual(me.policy, { accepted: me.policy.current, current: me.policy.current, notice: false });
    assert.match(me.policy.current, /^\d{4}-\d{2}-\d{2}$/);
    await d1Exec(worker, `UPDATE users SET policy_version = '2025-01-01' WHERE id = '${c.id}'`);
    assert.deepEqual((await c.get('/api/me')).body.policy, { accepted: '2025-01-01', current: me.policy.current, notice: true });
    const ack = await c.post('/api/me/policy-notice');
    assert.equal(ack.status, 200);
    assert.equal(ack.body.notice, false);
    assert.equal((await c.get('/api/me')).body.policy.notice, false);
    assert.equal((await c.get('/api/me')).body.policy.accepted, '2025-01-01', 'the accepted version stays what was accepted');
  });
});
