// Each binding, driven through the worker on workerd: D1, KV (with TTL), R2, both
// queues with their consumers, a message that keeps failing ending in its dead-letter
// queue, and both cron schedules.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startWorker, eventually } from '../support/worker.mjs';
import { getJson, postJson } from '../support/http.mjs';
// Every raw fetch retries a kept-alive socket the server closed while idle (docs/PLATFORM.md).
import { fetchRetryingStaleSocket as fetch } from '../support/worker.mjs';

// A worker of its own: the dead-letter test times retries on the generation queue, which
// the generation tests flood with hundreds of messages, and the cron tests read the
// latest runs of each task.
let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const probeEvents = async (id) => (await getJson(worker.base, `/api/_diag/probes/${id}`)).body.events;

describe('D1', () => {
  test('a row written through the worker reads back', async () => {
    const res = await postJson(worker.base, '/api/_diag/db', '');
    assert.equal(res.status, 201);
    assert.match(res.body.probe_id, /^prb_[0-9a-f]{32}$/);
    assert.deepEqual(res.body.events.map((e) => [e.queue, e.event, e.attempt]), [['direct', 'written', 1]]);
    const again = await getJson(worker.base, `/api/_diag/probes/${res.body.probe_id}`);
    assert.deepEqual(again.body.events, res.body.events);
  });
});

describe('KV', () => {
  test('a value put with a TTL reads back with its expiration set', async () => {
    const before = Math.floor(Date.now() / 1000);
    const put = await postJson(worker.base, '/api/_diag/kv', { key: 'greeting', value: 'hello', ttl_seconds: 120 });
    assert.equal(put.status, 204);
    const got = await getJson(worker.base, '/api/_diag/kv/greeting');
    assert.equal(got.status, 200);
    assert.equal(got.body.value, 'hello');
    assert.ok(got.body.expiration >= before + 118 && got.body.expiration <= before + 125, `expiration ${got.body.expiration}`);
  });

  test('a value put without a TTL has no expiration', async () => {
    await postJson(worker.base, '/api/_diag/kv', { key: 'forever', value: 'x' });
    const got = await getJson(worker.base, '/api/_diag/kv/forever');
    assert.equal(got.body.value, 'x');
    assert.equal(got.body.expiration, null);
  });

  test('a missing key is 404', async () => {
    assert.equal((await getJson(worker.base, '/api/_diag/kv/never-written')).status, 404);
  });
});

describe('R2', () => {
  test('bytes put through the worker read back identical, with their type', async () => {
    const bytes = randomBytes(4096);
    const put = await fetch(`${worker.base}/api/_diag/blobs/sample.bin`, {
      method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 201);
    const got = await fetch(`${worker.base}/api/_diag/blobs/sample.bin`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
  });

  test('a missing object is 404', async () => {
    assert.equal((await fetch(`${worker.base}/api/_diag/blobs/missing.bin`)).status, 404);
  });
});

describe('Queues', () => {
  for (const queue of ['generation', 'billing', 'exports']) {
    test(`a message sent to ${queue} is consumed once`, async () => {
      const sent = await postJson(worker.base, `/api/_diag/queues/${queue}`, {});
      assert.equal(sent.status, 202);
      const events = await eventually(async () => {
        const ev = await probeEvents(sent.body.probe_id);
        return ev.length > 0 && ev;
      }, { what: `${queue} delivery` });
      assert.deepEqual(events.map((e) => [e.queue, e.event]), [[queue, 'delivered']]);
    });
  }

  test('a message that keeps failing is retried with backoff, then lands in the dead-letter queue', async () => {
    const sent = await postJson(worker.base, '/api/_diag/queues/generation', { fail: true });
    const events = await eventually(async () => {
      const ev = await probeEvents(sent.body.probe_id);
      return ev.some((e) => e.event === 'dead_lettered') && ev;
    }, { timeoutMs: 60_000, what: 'dead-lettering' });
    const failures = events.filter((e) => e.queue === 'generation');
    // max_retries = 3 in wrangler.toml: the first delivery and three retries.
    assert.deepEqual(failures.map((e) => e.event), ['failed', 'failed', 'failed', 'failed']);
    const gaps = failures.slice(1).map((e, i) => e.created_at - failures[i].created_at);
    assert.ok(gaps[2] > gaps[0], `retries should back off, gaps were ${gaps}`);
    assert.deepEqual(events.filter((e) => e.queue === 'generation-dlq').map((e) => e.event), ['dead_lettered']);
  });

  test('an unknown queue is 404', async () => {
    assert.equal((await postJson(worker.base, '/api/_diag/queues/nope', {})).status, 404);
  });
});

describe('Cron', () => {
  const trigger = (cron) => fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent(cron)}`);

  test('the daily schedule runs the retention purge and the frequent one the sweeper', async () => {
    assert.equal((await trigger('17 3 * * *')).status, 200);
    assert.equal((await trigger('* * * * *')).status, 200);
    const runs = (await getJson(worker.base, '/api/_diag/cron-runs')).body.runs;
    const retention = runs.find((r) => r.task === 'retention');
    assert.equal(retention.outcome, 'ok');
    // Every step of the retention table reports (privacy::retention), with the run's operations.
    for (const data of ['security events', 'unused uploads', 'closed accounts erased', 'throttling counters', 'cron run records', 'diagnostic probe events', 'operations']) {
      assert.match(retention.detail, new RegExp(`${data}: \\d+`));
    }
    const sweep = runs.find((r) => r.task === 'sweep');
    assert.equal(sweep.outcome, 'ok');
    assert.match(sweep.detail, /interrupted uploads removed: \d+ \(failed \d+\); expired leases requeued: \d+; jobs failed: \d+; stale jobs resent: \d+; outbox sent: \d+; job errors: \d+/);
  });

  test('a schedule with no task is recorded as an error, not ignored', async () => {
    await trigger('0 0 1 1 *');
    const runs = (await getJson(worker.base, '/api/_diag/cron-runs')).body.runs;
    const unknown = runs.find((r) => r.cron === '0 0 1 1 *');
    assert.equal(unknown.task, 'unknown');
    assert.equal(unknown.outcome, 'error');
  });
});
