// Starts the real worker under `wrangler dev` (workerd) for one test file: its own port,
// its own inspector port, its own fresh local state in a temporary folder (never the
// .wrangler/state of a developer's `npm start`), and its own process group, which
// stop() kills whole so no workerd is left holding a port.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmailStandin } from '../../scripts/standins/email.mjs';
import { startInferenceStandin } from '../../scripts/standins/inference.mjs';
import { startSentryStandin } from '../../scripts/standins/sentry.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

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
      if (attempt >= 3 || !/Address already in use/.test(e.message)) throw e;
    }
  }
}

async function startWorkerOnce({ environment = 'development', vars = {} } = {}) {
  const mailbox = await startEmailStandin();
  const inference = await startInferenceStandin();
  const sentry = await startSentryStandin();
  const persist = mkdtempSync(join(tmpdir(), 'blimari-test-'));
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' };
  execFileSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persist, '--test-scheduled', '--var', `ENVIRONMENT:${environment}`,
  ];
  const allVars = {
    EMAIL_API_BASE: mailbox.base, EMAIL_API_KEY: mailbox.apiKey, DEV_MAILBOX_URL: `${mailbox.base}/`,
    INFERENCE_BASE_URL: inference.base, INFERENCE_API_KEY: 'dev-inference-key', MODERATION_MODEL: 'omni-moderation-latest',
    INFERENCE_TIMEOUT_SECONDS: '5', SENTRY_DSN: sentry.dsn, ...vars,
  };
  for (const [k, v] of Object.entries(allVars)) args.push('--var', `${k}:${v}`);
  const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await mailbox.close();
      await inference.close();
      throw new Error(`wrangler dev exited early:\n${output}`);
    }
    try {
      const res = await fetch(`${base}/api/health`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      await mailbox.close();
      await inference.close();
      throw new Error(`wrangler dev did not answer /api/health within 90 s:\n${output}`);
    }
    await sleep(200);
  }

  return {
    base,
    mailbox,
    inference,
    sentry,
    persist,
    logs: () => output,
    async stop() {
      killGroup('SIGTERM');
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      killGroup('SIGKILL');
      process.removeListener('exit', onExit);
      await mailbox.close();
      await inference.close();
      await sentry.close();
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

/**
 * `fetch`, retried once when a kept-alive connection turns out to have been closed by
 * the server while idle (undici reports "other side closed" before sending anything).
 */
export async function fetchRetryingStaleSocket(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (e?.cause?.code !== 'UND_ERR_SOCKET') throw e;
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

/** Runs SQL against a worker's local D1 (for arranging states the API cannot make). */
export function d1(worker, sql) {
  const out = execFileSync(process.execPath, [WRANGLER, 'd1', 'execute', 'DB', '--local', '--persist-to', worker.persist,
    '--json', '--command', sql], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.toString())[0].results;
}

/** Lists the keys of a worker's local KV namespace SESSIONS, with their values. */
export function kvEntries(worker) {
  const run = (args) => execFileSync(process.execPath, [WRANGLER, 'kv', 'key', ...args, '--binding', 'SESSIONS', '--local',
    '--persist-to', worker.persist], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return JSON.parse(run(['list'])).map((k) => ({ name: k.name, value: run(['get', k.name]) }));
}
