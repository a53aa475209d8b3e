// A local stand-in for Stripe: the parts of its REST API Blimari uses, a hosted
// checkout page, and signed webhook delivery, so the worker's real client runs in
// `npm start` and the tests. Kept in memory.
//
//   POST /v1/checkout/sessions            form-encoded like Stripe (bracketed keys), bearer
//                                         secret key, Idempotency-Key honoured
//   GET  /v1/checkout/sessions/:id        one session
//   GET  /v1/checkout/sessions            list: created[gte|gt|lte|lt], status, limit, starting_after
//   GET  /v1/events                       the events sent so far, newest first (type, limit)
//   GET  /c/pay/:id                       the hosted checkout page a person pays on
//   GET  /receipts/:charge                a receipt page (the charge's receipt_url)
// Test controls (each state change sends Stripe's webhook events, signed, to the app):
//   POST /_test/checkout/sessions/:id/pay      {"async": null | "succeeded" | "failed", "deliver": true}
//   POST /_test/checkout/sessions/:id/refund   {"amount": minor units}
//   POST /_test/checkout/sessions/:id/dispute  {"status": "needs_response" | "won" | "lost"}
//   GET  /_test/requests                       API requests received (method, path, headers, form)
//   GET  /_test/deliveries                     webhook deliveries (raw body, signature header, status)
//
// `"deliver": false` on pay records the events (GET /v1/events) but sends no webhook:
// a lost webhook, for the reconciliation tests.
import { createServer } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const id = (prefix) => `${prefix}_test_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size > limit) { reject(new Error('too large')); req.destroy(); } else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Stripe's bracket notation (`a[b][0][c]=v`) into nested objects and arrays. */
export function parseForm(text) {
  const root = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) { node[part] = value; return; }
      if (node[part] === undefined) node[part] = /^\d+$/.test(path[i + 1]) ? [] : {};
      node = node[part];
    });
  }
  return root;
}

/** Stripe's signature: HMAC-SHA256 of `${t}.${body}` with the endpoint secret. */
export function signatureHeader(body, secret, t = now()) {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/**
 * The webhook request `npm run bench` and `npm run profile` send over and over: one
 * `customer.updated` event padded to about `bytes`, signed with `secret` (verified, then
 * found already stored on every repeat).
 */
export function paddedWebhookRequest(secret, tag, bytes = 64 * 1024) {
  const body = JSON.stringify({
    id: `evt_${tag}_${Date.now()}`, object: 'event', type: 'customer.updated', api_version: '2024-06-20', created: now(),
    data: { object: { id: `cus_${tag}`, object: 'customer', metadata: { padding: 'x'.repeat(bytes - 300) } } },
  });
  return {
    method: 'POST', path: '/api/webhooks/stripe', body,
    headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(body, secret) },
  };
}

const stripeError = (res, status, type, message, extra = {}) => send(res, status, { error: { type, message, ...extra } });
function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'request-id': id('req') });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

const SESSION_PARAMS = new Set(['mode', 'success_url', 'cancel_url', 'client_reference_id', 'customer_email', 'line_items', 'metadata', 'payment_intent_data', 'expand']);

/**
 * @param {{ port?: number, secretKey?: string, webhookSecret?: string, webhookUrl?: string }} options
 * `webhookSecret` may list several (comma-separated); the first signs. `webhookUrl` can be
 * set later (`standin.webhookUrl = …`) once the app's address is known.
 */
export function startStripeStandin({ port = 0, secretKey = 'sk_test_blimari_local', webhookSecret = 'whsec_blimari_local', webhookUrl = null } = {}) {
  const sessions = new Map();
  const charges = new Map(); // by payment intent
  const events = [];
  const requests = [];
  const deliveries = [];
  const idempotency = new Map();
  const state = { webhookUrl, base: '' };
  const signingSecret = webhookSecret.split(',')[0].trim();

  async function emit(type, object, deliver = true) {
    const event = {
      id: id('evt'), object: 'event', api_version: '2024-06-20', created: now(), livemode: false,
      pending_webhooks: deliver ? 1 : 0, request: { id: null, idempotency_key: null }, type, data: { object: structuredClone(object) },
    };
    events.push(event);
    if (deliver && state.webhookUrl) await deliverEvent(event);
    return event;
  }

  async function deliverEvent(event) {
    const body = JSON.stringify(event, null, 2);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const header = signatureHeader(body, signingSecret);
      const record = { event_id: event.id, type: event.type, body, signature: header, status: 0, attempt };
      deliveries.push(record);
      try {
        const res = await fetch(state.webhookUrl, {
          method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
        });
        record.status = res.status;
        await res.text();
        if (res.ok) return;
      } catch { /* the app is not answering: Stripe retries */ }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }

  function auth(req, res) {
    const header = req.headers.authorization ?? '';
    const basic = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString().replace(/:$/, '') : null;
    const key = header.startsWith('Bearer ') ? header.slice(7) : basic;
    if (key === secretKey) return true;
    stripeError(res, 401, 'invalid_request_error', key ? `Invalid API Key provided: ${key.slice(0, 8)}***` : 'You did not provide an API key.');
    return false;
  }

  function createSession(params) {
    for (const key of Object.keys(params)) {
      if (!SESSION_PARAMS.has(key)) return [400, { type: 'invalid_request_error', code: 'parameter_unknown', param: key, message: `Received unknown parameter: ${key}` }];
    }
    for (const key of ['mode', 'success_url', 'cancel_url']) {
      if (!params[key]) return [400, { type: 'invalid_request_error', code: 'parameter_missing', param: key, message: `Missing required param: ${key}.` }];
    }
    if (params.mode !== 'payment') return [400, { type: 'invalid_request_error', code: 'parameter_invalid', param: 'mode', message: 'Only payment mode is supported here.' }];
    const items = params.line_items;
    if (!Array.isArray(items) || items.length === 0) return [400, { type: 'invalid_request_error', code: 'parameter_missing', param: 'line_items', message: 'line_items is required in payment mode.' }];
    let amount = 0;
    let currency = 'usd';
    for (const [i, item] of items.entries()) {
      const quantity = Number(item.quantity ?? 1);
      if (item.price) { amount += 900 * quantity; continue; } // a stand-in for any Price
      const pd = item.price_data;
      if (!pd || !/^[a-z]{3}$/.test(pd.currency ?? '') || !/^\d+$/.test(pd.unit_amount ?? '') || !pd.product_data?.name) {
        return [400, { type: 'invalid_request_error', code: 'parameter_invalid', param: `line_items[${i}]`, message: 'Each line item needs a price or price_data with currency, unit_amount and product_data[name].' }];
      }
      amount += Number(pd.unit_amount) * quantity;
      currency = pd.currency;
    }
    const session = {
      id: id('cs'), object: 'checkout.session', mode: 'payment', status: 'open', payment_status: 'unpaid',
      amount_subtotal: amount, amount_total: amount, currency, client_reference_id: params.client_reference_id ?? null,
      customer_email: params.customer_email ?? null, customer_details: params.customer_email ? { email: params.customer_email } : null,
      metadata: params.metadata ?? {}, payment_intent: null, success_url: params.success_url, cancel_url: params.cancel_url,
      created: now(), expires_at: now() + 24 * 3600, livemode: false, url: null,
      _pi_metadata: params.payment_intent_data?.metadata ?? {},
    };
    session.url = `${state.base}/c/pay/${session.id}`;
    sessions.set(session.id, session);
    return [200, session];
  }

  const publicSession = (s) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('_')));

  /** The person paid: card now, or a delayed method that succeeds or fails later. */
  async function pay(session, { async: later = null, deliver = true } = {}) {
    if (session.status !== 'open') return [400, { type: 'invalid_request_error', message: `This session is ${session.status}.` }];
    session.status = 'complete';
    session.payment_intent = id('pi');
    const succeed = async () => {
      session.payment_status = 'paid';
      const charge = {
        id: id('ch'), object: 'charge', amount: session.amount_total, amount_refunded: 0, currency: session.currency,
        paid: true, refunded: false, disputed: false, status: 'succeeded', payment_intent: session.payment_intent,
        metadata: session._pi_metadata, receipt_url: `${state.base}/receipts/${session.payment_intent}`, created: now(), _dispute: null,
      };
      charges.set(session.payment_intent, charge);
      await emit('charge.succeeded', publicCharge(charge), deliver);
    };
    if (!later) {
      await succeed();
      await emit('checkout.session.completed', publicSession(session), deliver);
    } else {
      await emit('checkout.session.completed', publicSession(session), deliver);
      if (later === 'succeeded') {
        await succeed();
        await emit('checkout.session.async_payment_succeeded', publicSession(session), deliver);
      } else {
        await emit('checkout.session.async_payment_failed', publicSession(session), deliver);
      }
    }
    return [200, publicSession(session)];
  }

  const publicCharge = (c) => Object.fromEntries(Object.entries(c).filter(([k]) => !k.startsWith('_')));

  async function refund(session, amount) {
    const charge = charges.get(session.payment_intent);
    if (!charge) return [400, { type: 'invalid_request_error', message: 'This session has no charge to refund.' }];
    const left = charge.amount - charge.amount_refunded;
    const value = amount === undefined || amount === null ? left : Number(amount);
    if (!Number.isInteger(value) || value <= 0 || value > left) return [400, { type: 'invalid_request_error', code: 'amount_too_large', message: `Refund amount must be 1–${left}.` }];
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded === charge.amount;
    await emit('charge.refunded', publicCharge(charge));
    return [200, publicCharge(charge)];
  }

  async function dispute(session, status) {
    const charge = charges.get(session.payment_intent);
    if (!charge) return [400, { type: 'invalid_request_error', message: 'This session has no charge to dispute.' }];
    if (!['needs_response', 'won', 'lost'].includes(status)) return [400, { type: 'invalid_request_error', message: 'status must be needs_response, won or lost.' }];
    if (!charge._dispute) {
      charge._dispute = { id: id('dp'), object: 'dispute', amount: charge.amount - charge.amount_refunded, charge: charge.id, payment_intent: charge.payment_intent, currency: charge.currency, reason: 'fraudulent', status: 'needs_response', created: now() };
      charge.disputed = true;
      await emit('charge.dispute.created', charge._dispute);
    }
    if (status !== 'needs_response' && !['won', 'lost'].includes(charge._dispute.status)) {
      charge._dispute.status = status;
      await emit('charge.dispute.closed', charge._dispute);
    }
    return [200, charge._dispute];
  }

  function list(res, items, url, query) {
    const limit = Math.min(Math.max(Number(query.get('limit') ?? 10), 1), 100);
    let rows = items.slice().reverse();
    const after = query.get('starting_after');
    if (after) {
      const at = rows.findIndex((r) => r.id === after);
      if (at < 0) return stripeError(res, 400, 'invalid_request_error', `No such object: '${after}'`, { param: 'starting_after' });
      rows = rows.slice(at + 1);
    }
    return send(res, 200, { object: 'list', url, has_more: rows.length > limit, data: rows.slice(0, limit) });
  }

  function createdFilter(query) {
    const bounds = ['gte', 'gt', 'lte', 'lt'].map((op) => [op, query.get(`created[${op}]`)]).filter(([, v]) => v !== null);
    return (t) => bounds.every(([op, v]) => ({ gte: t >= v, gt: t > v, lte: t <= v, lt: t < v }[op]));
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const path = url.pathname;
    try {
      const raw = ['POST', 'PUT'].includes(req.method) ? await readBody(req) : '';
      if (path.startsWith('/v1/')) {
        requests.push({
          method: req.method, path, query: Object.fromEntries(url.searchParams), form: raw ? parseForm(raw) : null, raw,
          headers: { authorization: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null, 'content-type': req.headers['content-type'] ?? null, 'idempotency-key': req.headers['idempotency-key'] ?? null },
        });
        if (!auth(req, res)) return;
      }
      let m;
      if (req.method === 'POST' && path === '/v1/checkout/sessions') {
        if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) return stripeError(res, 400, 'invalid_request_error', 'Send the body form-encoded.');
        const key = req.headers['idempotency-key'];
        if (key && idempotency.has(key)) {
          const seen = idempotency.get(key);
          if (seen.raw !== raw) return stripeError(res, 400, 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters they were first used with.');
          res.setHeader('idempotent-replayed', 'true');
          return send(res, seen.status, seen.body);
        }
        const [status, body] = createSession(parseForm(raw));
        const out = status === 200 ? publicSession(body) : { error: body };
        if (key) idempotency.set(key, { raw, status, body: out });
        return send(res, status, out);
      }
      if (req.method === 'GET' && (m = path.match(/^\/v1\/checkout\/sessions\/([^/]+)$/))) {
        const s = sessions.get(m[1]);
        return s ? send(res, 200, publicSession(s)) : stripeError(res, 404, 'invalid_request_error', `No such checkout.session: '${m[1]}'`, { code: 'resource_missing' });
      }
      if (req.method === 'GET' && path === '/v1/checkout/sessions') {
        const inWindow = createdFilter(url.searchParams);
        const status = url.searchParams.get('status');
        const items = [...sessions.values()].filter((s) => inWindow(s.created) && (!status || s.status === status)).map(publicSession);
        return list(res, items, '/v1/checkout/sessions', url.searchParams);
      }
      if (req.method === 'GET' && path === '/v1/events') {
        const type = url.searchParams.get('type');
        return list(res, events.filter((e) => !type || e.type === type), '/v1/events', url.searchParams);
      }
      if ((m = path.match(/^\/_test\/checkout\/sessions\/([^/]+)\/(pay|refund|dispute)$/)) && req.method === 'POST') {
        const s = sessions.get(m[1]);
        if (!s) return stripeError(res, 404, 'invalid_request_error', `No such checkout.session: '${m[1]}'`);
        const body = raw ? JSON.parse(raw) : {};
        const [status, out] = m[2] === 'pay' ? await pay(s, body) : m[2] === 'refund' ? await refund(s, body.amount) : await dispute(s, body.status);
        return send(res, status, status === 200 ? out : { error: out });
      }
      if (path === '/favicon.ico') { res.writeHead(204); return res.end(); }
      if (req.method === 'GET' && path === '/_test/requests') return send(res, 200, requests);
      if (req.method === 'GET' && path === '/_test/deliveries') return send(res, 200, deliveries);
      if ((m = path.match(/^\/c\/pay\/([^/]+)$/))) {
        const s = sessions.get(m[1]);
        if (!s) return send(res, 404, 'No such checkout session.', 'text/plain');
        if (req.method === 'POST') {
          const choice = new URLSearchParams(raw).get('method');
          const later = { card: null, delayed_ok: 'succeeded', delayed_fail: 'failed' }[choice];
          if (later === undefined) return send(res, 400, 'Choose a payment method.', 'text/plain');
          const [status] = await pay(s, { async: later });
          if (status !== 200) return send(res, 409, 'This checkout is no longer open.', 'text/plain');
          res.writeHead(303, { location: s.success_url.replace('{CHECKOUT_SESSION_ID}', s.id) });
          return res.end();
        }
        const price = new Intl.NumberFormat('en', { style: 'currency', currency: s.currency.toUpperCase() }).format(s.amount_total / 100);
        return send(res, 200, `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (Stripe stand-in)</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}button{display:block;width:100%;margin:.5rem 0;padding:.75rem;font:inherit;cursor:pointer}</style>
<p><small>Local Stripe stand-in · test mode</small></p>
<h1>Pay ${escape(price)}</h1><p>${escape(s.customer_email ?? '')}</p>
<form method="post"><button name="method" value="card">Pay with card</button>
<button name="method" value="delayed_ok">Pay by bank debit (succeeds later)</button>
<button name="method" value="delayed_fail">Pay by bank debit (fails later)</button></form>
<p><a href="${escape(s.cancel_url)}">Cancel and go back</a></p></html>`, 'text/html; charset=utf-8');
      }
      if (req.method === 'GET' && (m = path.match(/^\/receipts\/([^/]+)$/))) {
        const c = charges.get(m[1]);
        if (!c) return send(res, 404, 'No such receipt.', 'text/plain');
        return send(res, 200, `<!doctype html><meta charset="utf-8"><title>Receipt</title><h1>Receipt</h1><p>Charge ${escape(c.id)}: ${c.amount} ${escape(c.currency)} (refunded ${c.amount_refunded}).</p>`, 'text/html; charset=utf-8');
      }
      return stripeError(res, 404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${path}).`);
    } catch (e) {
      return stripeError(res, 500, 'api_error', e.message);
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      state.base = `http://127.0.0.1:${server.address().port}`;
      resolve({
        base: state.base, secretKey, webhookSecret, sessions, events, requests, deliveries,
        get webhookUrl() { return state.webhookUrl; },
        set webhookUrl(v) { state.webhookUrl = v; },
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const standin = await startStripeStandin({ port: Number(process.argv[2] ?? 0), webhookUrl: process.argv[3] ?? null });
  console.log(standin.base);
}
