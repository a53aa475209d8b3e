// The API's edges: health, security headers, problem documents for every kind of bad
// request, and static pages served beside the API.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedWorker, startWorker, ROOT } from '../support/worker.mjs';
import { getJson, postJson, assertProblem } from '../support/http.mjs';
// Every raw fetch retries a kept-alive socket the server closed while idle (docs/PLATFORM.md).
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

let worker;
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

const SECURITY_HEADERS = ['content-security-policy', 'strict-transport-security', 'referrer-policy',
  'permissions-policy', 'x-content-type-options'];

describe('GET /api/health', () => {
  test('reports ok, the build version, the schema version and the database', async () => {
    const res = await getJson(worker.base, '/api/health');
    assert.equal(res.status, 200);
    const crateVersion = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8').match(/^version = "(.+)"$/m)[1];
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).length;
    // G2: the package version, plus the git commit when the build had one.
    assert.match(res.body.version, new RegExp(`^${crateVersion.replaceAll('.', '\\.')}(\\+[0-9a-f]{7,40})?$`));
    assert.deepEqual({ ...res.body, version: crateVersion }, { status: 'ok', version: crateVersion, schema_version: migrations, db: worker.neonUrl ? 'neon' : 'd1' });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  });

  test('carries every security header', async () => {
    const res = await fetch(`${worker.base}/api/health`);
    for (const h of SECURITY_HEADERS) assert.ok(res.headers.get(h), `missing ${h}`);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  });
});

describe('bad requests get problem documents and crash nothing', () => {
  test('an unknown API route is 404', async () => {
    const p = assertProblem(await getJson(worker.base, '/api/no-such-thing'), 404);
    assert.equal(p.instance, '/api/no-such-thing');
  });

  test('a wrong method is 405 with Allow', async () => {
    const res = await getJson(worker.base, '/api/health', { method: 'DELETE' });
    assertProblem(res, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });

  test('malformed JSON is 400', async () => {
    assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', '{"fail": tru'), 400);
  });

  test('an empty body is 400', async () => {
    assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', ''), 400);
  });

  test('unknown fields and wrong types are 422 and name the field', async () => {
    const p = assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', { fial: true }), 422);
    assert.match(p.detail, /fial/);
    assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', { fail: 'yes' }), 422);
  });

  test('a body that is not JSON is 415', async () => {
    assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', 'fail=true', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }), 415);
  });

  test('an oversized body is 413, declared or not', async () => {
    const big = JSON.stringify({ fail: false, pad: 'x'.repeat(100 * 1024) });
    assertProblem(await postJson(worker.base, '/api/_diag/queues/billing', big), 413);
    // Streamed with no Content-Length: the limit is enforced on what arrives.
    const stream = new ReadableStream({
      start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); },
    });
    const res = await fetch(`${worker.base}/api/_diag/queues/billing`, {
      method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 413);
  });

  test('a validation error names the field', async () => {
    const p = assertProblem(await postJson(worker.base, '/api/_diag/kv', { key: 'a', value: 'b', ttl_seconds: 5 }), 422);
    assert.deepEqual(p.errors.map((e) => e.field), ['ttl_seconds']);
  });

  test('after all of that the worker still answers', async () => {
    assert.equal((await fetch(`${worker.base}/api/health`)).status, 200);
  });
});

describe('static pages', () => {
  for (const [path, text] of [['/', 'Blimari'], ['/privacy', 'Privacy Policy'], ['/terms', 'Terms']]) {
    test(`${path} is served with the page security headers`, async () => {
      const res = await fetch(worker.base + path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /text\/html/);
      assert.ok((await res.text()).includes(text));
      for (const h of SECURITY_HEADERS) assert.ok(res.headers.get(h), `missing ${h} on ${path}`);
      assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    });
  }

  test('/privacy shows the policy date and sections 1 to 8', async () => {
    const html = await (await fetch(`${worker.base}/privacy`)).text();
    assert.ok(html.includes('April 02, 2026'));
    for (const heading of ['1. Information We Collect', '2. How We Use Information', '3. Processing Basis and Purpose',
      '4. Sharing and Processors', '5. Cookies, Sessions, and Security', '6. Retention', '7. Your Rights', '8. Policy Updates']) {
      assert.ok(html.includes(heading), `missing ${heading}`);
    }
  });

  test('an unknown page is a 404 page, not the API', async () => {
    const res = await fetch(`${worker.base}/no-such-page`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type'), /text\/html/);
  });
});

describe('production', () => {
  test('the diagnostics routes do not exist outside development', async () => {
    const prod = await startWorker({ environment: 'production' });
    try {
      assertProblem(await postJson(prod.base, '/api/_diag/db', ''), 404);
      assertProblem(await getJson(prod.base, '/api/_diag/cron-runs'), 404);
      // Above all the one that runs SQL: 404, and nothing was run.
      assertProblem(await postJson(prod.base, '/api/_diag/sql', { statements: ['DELETE FROM schema_version'] }), 404);
      assert.equal((await getJson(prod.base, '/api/health')).body.schema_version > 0, true);
    } finally {
      await prod.stop();
    }
  });
});
