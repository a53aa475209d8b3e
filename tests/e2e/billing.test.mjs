// Billing with Stripe (E3–E5) through wrangler dev and the Stripe stand-in: checkout,
// signed webhooks on the billing queue, refunds, disputes, debt, reconciliation; and the
// official `stripe` library as the referee that both sides speak Stripe exactly.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import Stripe from 'stripe';
import { startWorker, eventually, d1, d1Exec } from '../support/worker.mjs';
import { Client, uniqueEmail, verifyEmail } from '../support/client.mjs';
import { assertProblem, getJson } from '../support/http.mjs';
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

let worker;
let stripeLib;
let ip = 0;
before(async () => {
  worker = await startWorker();
  const { port } = new URL(worker.stripe.base);
  stripeLib = new Stripe(worker.stripe.secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
});
after(async () => { await worker?.stop(); });

async function buyer({ verify = true } = {}) {
  const c = new Client(worker.base, { ip: `100.66.0.${++ip}` });
  const email = uniqueEmail('buy');
  assert.equal((await c.signup({ email })).status, 201);
  if (verify) await verifyEmail(worker, email);
  return c;
}

const credits = async (c) => (await c.get('/api/credits')).body;
const control = (session, action, body = {}) =>
  fetch(`${worker.stripe.base}/_test/checkout/sessions/${session}/${action}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
const untilCredits = (c, want, what) => eventually(async () => {
  const got = await credits(c);
  return got.balance === want.balance && got.debt === want.debt && got;
}, { what, timeoutMs: 20_000 });

async function checkout(c, pack = 'starter') {
  const res = await c.post('/api/billing/checkout', { pack });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Posts a raw body to the webhook with a signature the official library makes. */
function postWebhook(payload, options = {}) {
  const { secret = worker.stripe.webhookSecret, timestamp } = options;
  // `header: null` sends none at all.
  const signature = 'header' in options ? options.header : stripeLib.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  const headers = { 'content-type': 'application/json' };
  if (signature !== null) headers['stripe-signature'] = signature;
  return getJson(worker.base, '/api/webhooks/stripe', { method: 'POST', headers, body: payload });
}

/** Stops webhook delivery while `fn` runs; returns the events Stripe would have sent. */
async function withoutDelivery(fn) {
  const url = worker.stripe.webhookUrl;
  const from = worker.stripe.events.length;
  worker.stripe.webhookUrl = null;
  try { await fn(); } finally { worker.stripe.webhookUrl = url; }
  return worker.stripe.events.slice(from);
}

describe('packs and checkout', () => {
  test('packs are public; checkout needs a confirmed address and answers a session to go to', async () => {
    const packs = (await getJson(worker.base, '/api/billing/packs')).body.items;
    assert.deepEqual(packs.map((p) => [p.id, p.credits, p.amount, p.currency]), [['starter', 100, 900, 'usd'], ['studio', 500, 3900, 'usd'], ['agency', 2000, 12900, 'usd']]);
    const unverified = await buyer({ verify: false });
    assertProblem(await unverified.post('/api/billing/checkout', { pack: 'starter' }), 403);
    const c = await buyer();
    assertProblem(await c.post('/api/billing/checkout', { pack: 'nope' }), 422);
    const session = await checkout(c);
    assert.match(session.session_id, /^cs_test_/);
    assert.equal(session.url, `${worker.stripe.base}/c/pay/${session.session_id}`);
    assert.equal((await c.get('/api/billing/purchases')).body.items.length, 0, 'an open checkout is not a purchase yet');
  });

  test('the worker sends exactly what the official stripe library sends for the same session', async () => {
    const c = await buyer();
    const from = worker.stripe.requests.length;
    await checkout(c);
    const ours = worker.stripe.requests.slice(from).find((r) => r.method === 'POST');
    assert.equal(ours.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(ours.headers.authorization, 'Bearer');
    assert.ok(ours.headers['idempotency-key']);
    assert.equal(ours.form.mode, 'payment');
    assert.deepEqual(ours.form.metadata, ours.form.payment_intent_data.metadata);
    assert.equal(ours.form.metadata.credits, '100');
    assert.equal(ours.form.client_reference_id, ours.form.metadata.user_id);
    // The same parameters through the library, which encodes them its own way.
    const before = worker.stripe.requests.length;
    const created = await stripeLib.checkout.sessions.create(ours.form, { idempotencyKey: 'library-1' });
    assert.equal(created.object, 'checkout.session');
    const theirs = worker.stripe.requests[before];
    assert.match(theirs.headers['content-type'], /^application\/x-www-form-urlencoded/);
    assert.equal(theirs.headers.authorization, 'Bearer');
    assert.equal(theirs.headers['idempotency-key'], 'library-1');
    assert.deepEqual(theirs.form, ours.form);
    // The same pairs, encoded alike (the library orders nested keys its own way).
    const pairs = (raw) => [...new URLSearchParams(raw)].map(([k, v]) => `${k}=${v}`).sort();
    assert.deepEqual(pairs(theirs.raw), pairs(ours.raw));
    // The library reads what the stand-in answers, and the stand-in lists like Stripe.
    const listed = await stripeLib.checkout.sessions.list({ limit: 100 });
    assert.ok(listed.data.some((s) => s.id === created.id));
    assert.equal((await stripeLib.checkout.sessions.retrieve(created.id)).id, created.id);
    assert.ok(Array.isArray((await stripeLib.events.list({ limit: 3 })).data));
  });
});

describe('paying', () => {
  test('a card payment grants the pack once, lists the purchase with its receipt, and the library accepts every signature', async () => {
    const c = await buyer();
    const { session_id } = await checkout(c);
    const from = worker.stripe.deliveries.length;
    await control(session_id, 'pay', { async: null });
    await untilCredits(c, { balance: 150, debt: 0 }, 'the pack');
    const purchases = (await c.get('/api/billing/purchases')).body.items;
    assert.equal(purchases.length, 1);
    assert.equal(purchases[0].status, 'paid');
    assert.equal(purchases[0].credits, 100);
    assert.match(purchases[0].receipt_url, /\/receipts\/pi_test_/);
    const ledger = (await c.get('/api/credits/ledger')).body.items;
    assert.deepEqual(ledger.filter((e) => e.kind === 'purchase').map((e) => [e.reference, e.amount]), [[`purchase:${session_id}`, 100]]);
    for (const d of worker.stripe.deliveries.slice(from)) {
      const event = stripeLib.webhooks.constructEvent(d.body, d.signature, worker.stripe.webhookSecret);
      assert.equal(event.id, d.event_id);
      assert.equal(d.status, 200);
    }
  });

  test('a delayed payment grants when it succeeds, and nothing when it fails', async () => {
    const c = await buyer();
    const ok = await checkout(c);
    await control(ok.session_id, 'pay', { async: 'succeeded' });
    await untilCredits(c, { balance: 150, debt: 0 }, 'the delayed pack');
    const failed = await checkout(c);
    await control(failed.session_id, 'pay', { async: 'failed' });
    await eventually(async () => (await c.get('/api/billing/purchases')).body.items.some((p) => p.id === failed.session_id && p.status === 'failed'), { what: 'the failed purchase' });
    assert.equal((await credits(c)).balance, 150);
  });
});

describe('the webhook', () => {
  test('tampered bodies, wrong secrets, stale timestamps and missing headers get 400 and change nothing', async () => {
    const c = await buyer();
    const { session_id } = await checkout(c);
    const events = await withoutDelivery(() => control(session_id, 'pay', {}));
    const completed = JSON.stringify(events.find((e) => e.type === 'checkout.session.completed'));
    const signature = stripeLib.webhooks.generateTestHeaderString({ payload: completed, secret: worker.stripe.webhookSecret });
    for (const res of [
      await postWebhook(completed.replace('"paid"', '"paid" '), { header: signature }),
      await postWebhook(completed, { secret: 'whsec_wrong' }),
      await postWebhook(completed, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      await postWebhook(completed, { header: null }),
      await postWebhook(completed, { header: 't=abc' }),
    ]) {
      assertProblem(res, 400);
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await credits(c)).balance, 50);
    // Signed by the library with the right secret: accepted, once.
    assert.equal((await postWebhook(completed)).body.status, 'queued');
    assert.equal((await postWebhook(completed)).body.status, 'duplicate');
    await untilCredits(c, { balance: 150, debt: 0 }, 'the pack');
    const unknown = JSON.stringify({ id: 'evt_unknown_1', object: 'event', type: 'customer.created', created: 1, data: { object: {} } });
    assert.equal((await postWebhook(unknown)).body.status, 'ignored');
  });

  test('50 concurrent deliveries of one paid session grant once, duplicates and distinct event ids alike', async () => {
    const c = await buyer();
    const { session_id } = await checkout(c);
    const events = await withoutDelivery(() => control(session_id, 'pay', {}));
    const completed = events.find((e) => e.type === 'checkout.session.completed');
    const same = JSON.stringify(completed);
    const answers = await Promise.all([
      ...Array.from({ length: 50 }, () => postWebhook(same)),
      ...Array.from({ length: 50 }, (_, i) => postWebhook(JSON.stringify({ ...completed, id: `${completed.id}_copy${i}` }))),
    ]);
    assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.find((a) => a.status !== 200)?.body));
    await untilCredits(c, { balance: 150, debt: 0 }, 'the pack');
    await eventually(async () => d1(worker, `SELECT COUNT(*) AS n FROM stripe_events WHERE id LIKE '${completed.id}%' AND processed_at IS NOT NULL`)[0].n === 51,
      { what: 'every copy processed', timeoutMs: 30_000 });
    assert.equal((await credits(c)).balance, 150);
    const purchases = (await c.get('/api/credits/ledger?limit=100')).body.items.filter((e) => e.kind === 'purchase');
    assert.equal(purchases.length, 1);
  });

  test('every event type delivered three times and shuffled gives what one in-order delivery gives', async () => {
    async function history() {
      const c = await buyer();
      const { session_id } = await checkout(c);
      const second = await checkout(c);
      const events = await withoutDelivery(async () => {
        await control(session_id, 'pay', { async: 'succeeded' });
        await control(session_id, 'refund', { amount: 200 });
        await control(session_id, 'refund', { amount: 250 });
        await control(session_id, 'dispute', { status: 'won' });
        await control(second.session_id, 'pay', {});
        await control(second.session_id, 'dispute', { status: 'lost' });
      });
      return { c, events };
    }
    const summary = async (c) => {
      const cr = await credits(c);
      const ps = (await c.get('/api/billing/purchases')).body.items.map((p) => [p.credits_kept, p.status]).sort();
      return { balance: cr.balance, debt: cr.debt, ps };
    };
    const inOrder = await history();
    for (const e of inOrder.events) assert.equal((await postWebhook(JSON.stringify(e))).status, 200);
    // 100 − ⌊100 × 450/900⌋ = 50 kept (the won dispute restored); the lost one keeps 0.
    await untilCredits(inOrder.c, { balance: 100, debt: 0 }, 'the in-order result');
    const expected = await summary(inOrder.c);
    assert.deepEqual(expected.ps, [[0, 'disputed'], [50, 'refunded']]);

    const shuffled = await history();
    const deliveries = shuffled.events.flatMap((e) => [e, e, e]).map((e) => [Math.random(), e]).sort((a, b) => a[0] - b[0]).map(([, e]) => e);
    for (const e of deliveries) assert.equal((await postWebhook(JSON.stringify(e))).status, 200);
    await eventually(async () => d1(worker, `SELECT COUNT(*) AS n FROM stripe_events WHERE processed_at IS NULL`)[0].n === 0, { what: 'all events processed' });
    const got = await summary(shuffled.c);
    if (!isDeepStrictEqual(got, expected)) {
      // What the database held (it differed once, in one CI run on Neon).
      const userId = (await shuffled.c.get('/api/me')).body.id;
      const facts = JSON.stringify({
        deliveries: deliveries.map((e) => `${e.type} ${e.data.object.id}`),
        purchases: d1(worker, `SELECT session_id, status, payment_intent, credits_applied, version FROM purchases WHERE user_id = '${userId}'`),
        disputes: d1(worker, `SELECT id, payment_intent, amount, status FROM stripe_disputes WHERE id IN (${shuffled.events.filter((e) => e.type.startsWith('charge.dispute')).map((e) => `'${e.data.object.id}'`).join(', ')})`),
        events: d1(worker, `SELECT id, type, outcome FROM stripe_events WHERE id IN (${shuffled.events.map((e) => `'${e.id}'`).join(', ')})`),
      }, null, 1);
      assert.deepEqual(got, expected, facts);
    }
  });
});

describe('refunds, disputes and debt', () => {
  test('a partial refund, a second refund, a lost and a won dispute each move the ledger by exactly their share', async () => {
    const c = await buyer();
    const a = await checkout(c);
    await control(a.session_id, 'pay', {});
    await untilCredits(c, { balance: 150, debt: 0 }, 'the pack');
    await control(a.session_id, 'refund', { amount: 300 }); // ⌊100 × 300/900⌋ = 33
    await untilCredits(c, { balance: 117, debt: 0 }, 'the first refund');
    await control(a.session_id, 'refund', { amount: 150 }); // 450 in all: 50
    await untilCredits(c, { balance: 100, debt: 0 }, 'the second refund');
    const b = await checkout(c);
    await control(b.session_id, 'pay', {});
    await untilCredits(c, { balance: 200, debt: 0 }, 'the second pack');
    await control(b.session_id, 'dispute', { status: 'needs_response' });
    await untilCredits(c, { balance: 100, debt: 0 }, 'the dispute');
    await control(b.session_id, 'dispute', { status: 'won' });
    await untilCredits(c, { balance: 200, debt: 0 }, 'the won dispute');
    const d = await checkout(c);
    await control(d.session_id, 'pay', {});
    await untilCredits(c, { balance: 300, debt: 0 }, 'the third pack');
    await control(d.session_id, 'dispute', { status: 'lost' });
    await untilCredits(c, { balance: 200, debt: 0 }, 'the lost dispute');
    const statuses = Object.fromEntries((await c.get('/api/billing/purchases')).body.items.map((p) => [p.id, p.status]));
    assert.deepEqual(statuses, { [a.session_id]: 'refunded', [b.session_id]: 'paid', [d.session_id]: 'disputed' });
  });

  test('a clawback larger than the balance leaves a debt that blocks generation until a purchase pays it', async () => {
    const c = await buyer();
    const brand = await c.post('/api/brands', { name: 'Debtor' });
    const a = await checkout(c);
    await control(a.session_id, 'pay', {});
    await untilCredits(c, { balance: 150, debt: 0 }, 'the pack');
    await d1Exec(worker, `UPDATE credit_accounts SET balance = 30 WHERE user_id = (SELECT user_id FROM purchases WHERE session_id = '${a.session_id}')`);
    await control(a.session_id, 'dispute', { status: 'needs_response' });
    await untilCredits(c, { balance: 0, debt: 70 }, 'the debt');
    const refused = assertProblem(await c.post('/api/generations', { brand_id: brand.body.id, content_type: 'social_post', prompt: 'Hello' }), 402);
    assert.match(refused.detail, /unpaid balance/);
    const b = await checkout(c);
    await control(b.session_id, 'pay', {});
    await untilCredits(c, { balance: 30, debt: 0 }, 'the debt paid');
    assert.equal((await c.post('/api/generations', { brand_id: brand.body.id, content_type: 'social_post', prompt: 'Hello' })).status, 202);
  });
});

describe('reconciliation', () => {
  test('a paid session whose webhook never arrived is fulfilled by the next daily run', async () => {
    const c = await buyer();
    const { session_id } = await checkout(c);
    await control(session_id, 'pay', { deliver: false });
    assert.ok(worker.stripe.events.some((e) => e.data.object.id === session_id && e.type === 'checkout.session.completed'));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await credits(c)).balance, 50);
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
    await untilCredits(c, { balance: 150, debt: 0 }, 'the reconciled pack');
    const run = (await getJson(worker.base, '/api/_diag/cron-runs')).body.runs.find((r) => r.task === 'retention');
    assert.match(run.detail, /fulfilled by reconciliation: 1/);
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
    assert.equal((await credits(c)).balance, 150);
  });
});
