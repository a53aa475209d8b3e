// Starts the real worker on wrangler's development server (workerd; scripts/dev-worker.mjs,
// `wrangler dev` without its inspector): its own port, its own fresh local state in a temporary folder (never the .wrangler/state of a
// developer's `npm start`), and its own process group, which stop() kills whole so no
// workerd is left holding a port.
//
// `npm test` (tests/run.mjs) starts one such worker for the whole run and names it to
// every test file in BLIMARI_TEST_WORKER; `sharedWorker()` returns it. A file that needs a
// differently configured worker, or is run alone with `node --test`, starts its own.
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmailStandin } from '../../scripts/standins/email.mjs';
import { startInferenceStandin } from '../../scripts/standins/inference.mjs';
import { startStripeStandin } from '../../scripts/standins/stripe.mjs';
import { startSentryStandin } from '../../scripts/standins/sentry.mjs';
import { startFixtureSites } from './sites.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const DEV_WORKER = join(ROOT, 'scripts', 'dev-worker.mjs');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Every worker gets its own email stand-in (`mailbox`), so tests can read what it sent.
 * @param {{ environment?: 'development' | 'production', vars?: Record<string, string> }} [options]
 */
export async function startWorker(options = {}) {
  // A free port can be taken between choosing it and wrangler binding it (wrangler and
  // workerd open more ports of their own while starting); try again with new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorkerOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test(e.message)) throw e;
    }
  }
}

/**
 * Neon mode (`BLIMARI_TEST_DB=neon`, set up by tests/run.mjs): every worker gets a fresh
 * database of its own in the run's PostgreSQL, with the migrations applied, reached
 * through the Neon HTTP gateway. `BLIMARI_TEST_PG` is JSON `{ admin, gateway }`.
 */
async function neonDatabase() {
  if (!process.env.BLIMARI_TEST_PG) return null;
  const { admin, gateway } = JSON.parse(process.env.BLIMARI_TEST_PG);
  const name = `t_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${name}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = admin.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const { applyPostgres } = await import('../../scripts/migrate.mjs');
  await applyPostgres(url);
  return { url, gateway };
}

async function startWorkerOnce({ environment = 'development', vars = {}, devArgs = [] } = {}) {
  const mailbox = await startEmailStandin();
  const inference = await startInferenceStandin();
  const neon = await neonDatabase();
  const stripe = await startStripeStandin();
  const sentry = await startSentryStandin();
  // B5: the fixture websites; only their server is on the worker's allow list.
  const sites = await startFixtureSites();
  const persist = mkdtempSync(join(tmpdir(), 'blimari-test-'));
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' };
  execFileSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await freePort();
  // wrangler's development server without its inspector, and without ending on an error
  // event it does not know (scripts/dev-worker.mjs; `--test-scheduled` is on).
  const args = [
    DEV_WORKER, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--var', `ENVIRONMENT:${environment}`,
  ];
  // INFERENCE_TIMEOUT_SECONDS: short, so the timeout tests are quick, but with room for the
  // shared worker under load (200 submissions at once while other files run: prompt
  // screening answered in 7 s on a loaded 2-core machine, and a 5 s limit refused some).
  const allVars = {
    EMAIL_API_BASE: mailbox.base, EMAIL_API_KEY: mailbox.apiKey, DEV_MAILBOX_URL: `${mailbox.base}/`,
    INFERENCE_BASE_URL: inference.base, INFERENCE_API_KEY: 'dev-inference-key', MODERATION_MODEL: 'omni-moderation-latest',
    INFERENCE_TIMEOUT_SECONDS: '15',
    STRIPE_API_BASE: stripe.base, STRIPE_SECRET_KEY: stripe.secretKey, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
    SENTRY_DSN: sentry.dsn,
    // Development only (production refuses the setting).
    ...(environment === 'development' ? { WEBSITE_IMPORT_ALLOW_HOSTS: sites.host } : {}),
    ...(neon ? { DATABASE_URL: neon.url, NEON_HTTP_ENDPOINT: neon.gateway } : {}),
    ...vars,
  };
  for (const [k, v] of Object.entries(allVars)) args.push('--var', `${k}:${v}`);
  args.push(...devArgs); // e.g. scripts/profile.mjs's --inspector-port
  const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Under tests/run.mjs, leave the process group's id where the runner looks, so it can
  // kill this worker even if this test process is killed before stop() runs.
  const groupFile = process.env.BLIMARI_TEST_GROUPS ? join(process.env.BLIMARI_TEST_GROUPS, String(child.pid)) : null;
  if (groupFile) writeFileSync(groupFile, persist);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  // Wrangler's proxy worker answers here first; the tests then use the worker's direct
  // address (scripts/dev-worker.mjs prints it), so no proxy hop can drop a request.
  const proxyBase = `http://127.0.0.1:${port}`;
  let base = proxyBase;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await mailbox.close();
      await inference.close();
      await stripe.close();
      await sites.close();
      throw new Error(`the development server exited early:\n${output}`);
    }
    try {
      const direct = output.match(/^Direct (http:\/\/\S+)$/m)?.[1];
      const res = direct ? await fetch(`${direct}/api/health`) : null;
      if (res?.ok) { base = direct; break; }
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      await mailbox.close();
      await inference.close();
      await stripe.close();
      await sites.close();
      throw new Error(`the development server did not answer /api/health within 90 s:\n${output}`);
    }
    await sleep(200);
  }

  stripe.webhookUrl = `${base}/api/webhooks/stripe`;
  return {
    base,
    proxyBase,
    pid: child.pid,
    mailbox,
    inference,
    stripe,
    sentry,
    sites,
    persist,
    neonUrl: neon?.url,
    logs: () => output,
    async stop() {
      killGroup('SIGTERM');
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      killGroup('SIGKILL');
      // What this worker printed, for a person looking into a failure of its test file.
      try {
        mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
        const file = basename(process.argv[1] ?? 'worker').replace(/\.test\.mjs$|\.m?js$/, '');
        writeFileSync(join(ROOT, 'test-artifacts', `worker-${file}-${port}.log`), output);
      } catch { /* only a convenience */ }
      process.removeListener('exit', onExit);
      await mailbox.close();
      await inference.close();
      await stripe.close();
      await sentry.close();
      await sites.close();
      rmSync(persist, { recursive: true, force: true });
      if (groupFile) rmSync(groupFile, { force: true });
    },
  };
}

/**
 * The worker every test file shares under `npm test` (started by tests/run.mjs, with the
 * default configuration of `startWorker()`), or, when a file runs alone, a worker of its
 * own. Either way `stop()` is safe to call: for the shared one it does nothing.
 * The stand-ins of a shared worker live in the runner's process: reach them over HTTP
 * (`waitForEmail`, `inferenceCalls`), never through in-process objects.
 */
export async function sharedWorker() {
  const shared = process.env.BLIMARI_TEST_WORKER;
  if (!shared) return startWorker();
  const { base, mailbox, inference, sites, persist, neonUrl } = JSON.parse(shared);
  return { base, mailbox: { base: mailbox }, inference: { base: inference }, sites: { base: sites }, persist, neonUrl, shared: true, logs: () => '', async stop() {} };
}

/** Calls the inference stand-in received whose request text contains `text`, by endpoint. */
export async function inferenceCalls(worker, text) {
  const res = await fetch(`${worker.inference.base}/_stats?text=${encodeURIComponent(text)}`);
  return res.json();
}

/**
 * `fetch`, retried once when a kept-alive connection turns out to have been closed by
 * the server while idle: undici reports "other side closed" (UND_ERR_SOCKET) when the
 * server's FIN came first, and ECONNRESET when the request was written into the socket
 * the server had just closed (its kernel answers with a reset; the request was never
 * read). Seen with 40 requests at once after a few seconds of quiet (docs/PLATFORM.md).
 */
export async function fetchRetryingStaleSocket(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (!['UND_ERR_SOCKET', 'ECONNRESET'].includes(e?.cause?.code)) throw e;
    return fetch(url, init);
  }
}

/** Polls `probe()` until it returns a truthy value or the time runs out. */
export async function eventually(probe, { timeoutMs = 30_000, intervalMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

const SQLITE3 = ['/usr/bin/sqlite3', '/usr/local/bin/sqlite3'].find((p) => existsSync(p));

/** The SQLite file behind a local D1 database or KV namespace (wrangler 4.86's layout under --persist-to). */
function sqliteFile(persist, kind) {
  const dir = join(persist, 'v3', kind);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite') : [];
  return files.length === 1 ? join(dir, files[0]) : null;
}

/** Runs SQL with the sqlite3 tool; returns the rows of its query. */
function sqlite(file, sql) {
  const out = execFileSync(SQLITE3, ['-json', '-bail', '-cmd', '.timeout 30000', '-cmd', 'PRAGMA foreign_keys = ON', file, sql],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  return out ? JSON.parse(out) : [];
}

/**
 * Reads a worker's database (a SELECT), returning its rows. On D1 with the sqlite3
 * command-line tool (scripts/test.sh installs it) it opens D1's SQLite file directly,
 * beside the running worker: milliseconds, and a query alone takes no lock the worker's
 * writes wait for (WAL mode). Without sqlite3, `wrangler d1 execute`. In Neon mode, psql.
 * Changes go through `d1Exec`.
 */
export function d1(worker, sql) {
  assert.match(sql, /^\s*SELECT\b/i, 'd1() only reads; change the database with await d1Exec()');
  if (worker.neonUrl) {
    const out = execFileSync('psql', [worker.neonUrl, '-At', '-q', '-c', `SELECT coalesce(json_agg(t), '[]'::json) FROM (${sql}) t`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim() || '[]');
  }
  const file = SQLITE3 && sqliteFile(worker.persist, 'd1/miniflare-D1DatabaseObject');
  if (file) return sqlite(file, sql);
  const out = execFileSync(process.execPath, [WRANGLER, 'd1', 'execute', 'DB', '--local', '--persist-to', worker.persist,
    '--json', '--command', sql], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.toString())[0].results;
}

/**
 * Changes a worker's database with SQL, for arranging states the API cannot make: one
 * statement, or an array of them run in order as one transaction. Through the worker's own binding (the development-only `POST /api/_diag/sql`): a
 * second writer on D1's SQLite file makes the running worker's writes fail with
 * SQLITE_BUSY at that moment (docs/PLATFORM.md), which other tests then see as a 500.
 */
export async function d1Exec(worker, sql) {
  const res = await fetch(`${worker.base}/api/_diag/sql`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ statements: [sql].flat() }),
  });
  if (res.status !== 204) throw new Error(`d1Exec: ${res.status} ${await res.text()}\n${[sql].flat().join('\n')}`);
}

/**
 * Lists the keys of a worker's local KV namespace SESSIONS, with their values. Without
 * sqlite3: one `kv key list` and one `kv bulk get`, however many keys there are by then.
 */
export function kvEntries(worker) {
  // With sqlite3, read the namespace's index and value files directly (no workerd of its own).
  const index = SQLITE3 && sqliteFile(worker.persist, 'kv/miniflare-KVNamespaceObject');
  if (index) {
    const rows = sqlite(index, `SELECT key, blob_id FROM _mf_entries WHERE expiration IS NULL OR expiration > ${Date.now()}`);
    const blobs = readdirSync(join(worker.persist, 'v3', 'kv')).filter((d) => d !== 'miniflare-KVNamespaceObject')
      .map((d) => join(worker.persist, 'v3', 'kv', d, 'blobs'));
    assert.equal(blobs.length, 1, `one KV namespace expected in ${worker.persist}`);
    return rows.map((r) => ({ name: r.key, value: readFileSync(join(blobs[0], r.blob_id), 'utf8') }));
  }
  const run = (args) => execFileSync(process.execPath, [WRANGLER, 'kv', ...args, '--binding', 'SESSIONS', '--local',
    '--persist-to', worker.persist], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const names = JSON.parse(run(['key', 'list'])).map((k) => k.name);
  if (names.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'blimari-kv-'));
  try {
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify(names));
    // Prints {"name": {"value": "..."}, ...}, then a line "Success!".
    const out = run(['bulk', 'get', file]);
    const values = JSON.parse(out.slice(0, out.lastIndexOf('}') + 1));
    return names.map((name) => ({ name, value: String(values[name]?.value ?? '') }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
