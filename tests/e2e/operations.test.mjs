// Operations (G1, G2): errors reach Sentry (the stand-in) as envelopes Sentry's own SDK
// parses, with nothing personal in them; one log line per request, queue batch and cron
// run; health reports the build and schema versions.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEnvelope } from '@sentry/core';
import { startWorker, eventually, fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';
import { Client, uniqueEmail, COOKIE } from '../support/client.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

/** The JSON log lines the worker printed (wrangler dev echoes console output). */
function logLines() {
  // Error lines come coloured ("✘ [ERROR] …" with ANSI codes) even with NO_COLOR.
  // eslint-disable-next-line no-control-regex
  return worker.logs().replace(/\x1b\[[0-9;]*m/g, '').split('\n').flatMap((l) => {
    const at = l.indexOf('{"level"');
    if (at < 0) return [];
    try { return [JSON.parse(l.slice(at))]; } catch { return []; }
  });
}

describe('health (G2)', () => {
  test('reports the package version (plus the commit when built from git); api.test checks the schema version', async () => {
    const res = await fetch(`${worker.base}/api/health`);
    const body = await res.json();
    assert.match(body.version, /^0\.1\.0(\+[0-9a-f]{7,40})?$/);
  });
});

describe('errors to Sentry (G1)', () => {
  test('a forced error reaches Sentry as an envelope with release, environment, request id and user id, and nothing personal', async () => {
    const name = 'Zelda Quartermain';
    const email = uniqueEmail('sentry');
    const ip = '203.0.113.77';
    const prompt = 'Launch plan for the Ultraviolet Walrus campaign';
    const bearer = 'tok_S3cretBearerValue9876';
    const c = new Client(worker.base, { ip });
    assert.equal((await c.signup({ name, email })).status, 201);
    const me = (await c.get('/api/me')).body;
    const before = worker.sentry.envelopes().length;

    const res = await c.request('POST', '/api/_diag/error', { prompt, note: `for ${email}` }, { authorization: `Bearer ${bearer}` });
    assert.equal(res.status, 500);
    const requestId = res.body.request_id;
    assert.equal(res.headers.get('x-request-id'), requestId);
    assert.doesNotMatch(JSON.stringify(res.body), /Walrus|forced/);

    const received = await eventually(() => worker.sentry.envelopes().slice(before).find((e) => e.bytes.includes(requestId)),
      { what: 'the envelope at the Sentry stand-in', timeoutMs: 15_000 });
    const [header, items] = parseEnvelope(new Uint8Array(received.bytes));
    assert.ok(header.event_id);
    assert.equal(items.length, 1);
    // With a `length`, the SDK reads exactly that many bytes as the payload: a wrong
    // length would fail here or leave bytes that parse as a second item.
    const [itemHeader, payload] = items[0];
    assert.equal(itemHeader.type, 'event');
    assert.ok(payload instanceof Uint8Array);
    const event = JSON.parse(new TextDecoder().decode(payload));
    assert.equal(event.level, 'error');
    assert.equal(event.release, (await (await fetch(`${worker.base}/api/health`)).json()).version);
    assert.equal(event.environment, 'development');
    assert.equal(event.tags.request_id, requestId);
    assert.equal(event.transaction, 'POST /api/_diag/error');
    assert.deepEqual(event.user, { id: me.id, ip_address: null });
    assert.match(received.auth, /sentry_key=dev-sentry-key/);

    const raw = received.bytes.toString('utf8');
    for (const secret of [email, email.split('@')[0], name, 'Zelda', ip, prompt, 'Walrus', bearer, c.token]) {
      assert.ok(!raw.includes(secret), `the envelope holds ${secret}: ${raw}`);
    }
    // The request's log line is scrubbed the same way, and carries the user id.
    const line = await eventually(() => logLines().find((l) => l.msg === 'request' && l.request_id === requestId),
      { what: `the log line of ${requestId} in:\n${worker.logs().split('\n').filter((l) => l.includes(requestId)).join('\n')}`, timeoutMs: 5_000 });
    assert.equal(line.user_id, me.id);
    assert.equal(line.status, 500);
    for (const secret of [email, name, ip, 'Walrus', bearer, c.token]) {
      assert.ok(!JSON.stringify(line).includes(secret), `the log line holds ${secret}`);
    }
  });

  test('the forced error needs a signed-in caller (its event carries the user id)', async () => {
    const res = await new Client(worker.base).post('/api/_diag/error', {});
    assert.equal(res.status, 401);
  });
});

describe('logs (G1)', () => {
  test('every request log line of an authenticated request carries the user id', async () => {
    const c = new Client(worker.base);
    assert.equal((await c.signup({ email: uniqueEmail('logs') })).status, 201);
    const me = (await c.get('/api/me')).body;
    const ids = [];
    for (const path of ['/api/me', '/api/credits', '/api/brands', '/api/sessions', '/api/activity', '/api/generations?limit=5']) {
      ids.push((await c.get(path)).headers.get('x-request-id'));
    }
    ids.push((await c.post('/api/brands', { name: 'Logged' })).headers.get('x-request-id'));
    const lines = await eventually(() => {
      const found = logLines().filter((l) => l.msg === 'request' && ids.includes(l.request_id));
      return found.length === ids.length && found;
    }, { what: 'the request log lines' });
    for (const l of lines) {
      assert.equal(l.user_id, me.id, JSON.stringify(l));
      assert.ok(l.route && l.status && Number.isInteger(l.latency_ms), JSON.stringify(l));
    }
  });

  test('a queue batch and a cron run each write one line with their outcome', async () => {
    const probe = await (await fetch(`${worker.base}/api/_diag/queues/generation`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    assert.ok(probe.probe_id);
    const batch = await eventually(() => logLines().find((l) => l.msg === 'queue batch' && l.queue === 'generation'), { what: 'a queue batch line' });
    assert.equal(batch.outcome, 'ok');
    assert.ok(batch.messages >= 1 && batch.acked >= 1 && Number.isInteger(batch.latency_ms));
    await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    const cron = await eventually(() => logLines().find((l) => l.msg === 'cron run' && l.task === 'sweep'), { what: 'a cron line' });
    assert.equal(cron.outcome, 'ok');
    assert.equal(cron.cron, '* * * * *');
  });
});

describe('rate limits (G1)', () => {
  test('after Sentry answers 429, the worker stops sending until Retry-After has passed', async () => {
    const c = new Client(worker.base);
    assert.equal((await c.signup({ email: uniqueEmail('limits') })).status, 201);
    await fetch(`${worker.sentry.base}/rate-limit?seconds=3`, { method: 'POST' });
    const first = (await c.post('/api/_diag/error', {})).body.request_id;
    await new Promise((r) => setTimeout(r, 500));
    const second = (await c.post('/api/_diag/error', {})).body.request_id;
    await new Promise((r) => setTimeout(r, 3_000));
    const third = (await c.post('/api/_diag/error', {})).body.request_id;
    await eventually(() => worker.sentry.envelopes().some((e) => e.bytes.includes(third)), { what: 'the report after the limit' });
    const stored = worker.sentry.envelopes();
    assert.ok(!stored.some((e) => e.bytes.includes(first)), 'refused with 429');
    assert.ok(!stored.some((e) => e.bytes.includes(second)), 'dropped while limited');
    assert.equal(worker.sentry.hits(), worker.sentry.envelopes().length + 1, 'only the first limited report was sent');
  });
});

// The session cookie's name, so the scrubbing test knows what a cookie looks like.
assert.ok(COOKIE);
