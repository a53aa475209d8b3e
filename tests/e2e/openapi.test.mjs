// G4: the OpenAPI document against the running worker. The document must validate as
// OpenAPI 3.1 and be the one served; then schemathesis (PyPI, installed into a cached
// venv by scripts/python.sh) fuzzes every operation twice, anonymous and signed in, with
// every check on: no 5xx, every status, content type, header and body as documented,
// invalid data refused, valid data accepted, auth enforced, 405 with Allow.
//
// Knobs (environment): SCHEMATHESIS_MAX_EXAMPLES (default 20 per operation and phase),
// SCHEMATHESIS_SEED (default fixed, so a run is reproducible; set "random" for a new one),
// SCHEMATHESIS_MAX_TIME (seconds per run, default 75).
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, ROOT } from '../support/worker.mjs';
import { Client, uniqueEmail } from '../support/client.mjs';
import { getJson } from '../support/http.mjs';

const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '20';
const SEED = process.env.SCHEMATHESIS_SEED ?? '20260402';
const MAX_TIME = process.env.SCHEMATHESIS_MAX_TIME ?? '75';

let worker;
let venv;
let scratch;
before(async () => {
  // Idempotent: seconds when the venv is already there (npm test installs it first).
  const out = execFileSync('bash', ['-c', 'source scripts/python.sh && ensure_schemathesis >&2 && echo "$BLIMARI_VENV"'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
  });
  venv = out.toString().trim();
  scratch = mkdtempSync(join(tmpdir(), 'blimari-openapi-'));
  worker = await startWorker();
});
after(async () => {
  await worker?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs a command, resolving with its exit code and combined output (never rejects). */
function run(command, args, { env = {}, timeoutMs = 240_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output }); });
  });
}

/**
 * One schemathesis run over the whole document; returns its JSON report's numbers.
 * `extra` adds CLI arguments (the session cookie, operations to leave out).
 */
async function schemathesis(name, { sessionToken, extra = [] } = {}) {
  const report = join(scratch, `${name}.json`);
  let config = readFileSync(join(ROOT, 'tests', 'e2e', 'schemathesis.toml'), 'utf8');
  if (sessionToken) config += `\n[auth.openapi.sessionCookie]\napi_key = "${sessionToken}"\n`;
  const configFile = join(scratch, `${name}.toml`);
  writeFileSync(configFile, config);
  const args = [
    '--config-file', configFile,
    'run', `${worker.base}/api/openapi.json`,
    // Every check is on: the config names none, so all of schemathesis' built-in checks run
    // (`--checks all` here would also override the per-operation switches in the config).
    '--phases', 'examples,coverage,fuzzing,stateful',
    '--max-examples', MAX_EXAMPLES,
    '--max-time', MAX_TIME,
    // One worker: with two threads, hypothesis' lambda introspection (ast.parse) races in
    // CPython 3.11 and aborts the run with "AST constructor recursion depth mismatch".
    '--workers', '1',
    '--request-timeout', '20',
    '--report', 'json', '--report-json-path', report,
    '--output-truncate', 'false',
    ...(SEED === 'random' ? [] : ['--seed', SEED]),
    ...extra,
  ];
  const started = Date.now();
  const result = await run(join(venv, 'bin', 'schemathesis'), args);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  // The whole output, for reading the failures (test-artifacts/ is not committed).
  const artifacts = join(ROOT, 'test-artifacts');
  mkdirSync(artifacts, { recursive: true });
  const log = join(artifacts, `schemathesis-${name}.txt`);
  writeFileSync(log, result.output);
  let summary;
  try { summary = JSON.parse(readFileSync(report, 'utf8')); } catch { summary = null; }
  return { ...result, summary, seconds, log };
}

describe('the OpenAPI document', () => {
  test('is the file public/openapi.json and validates as OpenAPI 3.1', async () => {
    const res = await getJson(worker.base, '/api/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const file = JSON.parse(readFileSync(join(ROOT, 'public', 'openapi.json'), 'utf8'));
    assert.deepEqual(res.body, file);
    assert.equal(res.body.openapi, '3.1.0');
    const copy = join(scratch, 'openapi.json');
    writeFileSync(copy, JSON.stringify(res.body));
    const v = await run(join(venv, 'bin', 'openapi-spec-validator'), ['--schema', '3.1.0', copy]);
    assert.equal(v.code, 0, v.output);
  });
});

describe('schemathesis against the live worker', () => {
  const report = (name, r) => {
    const tail = r.output.split('\n').slice(-400).join('\n');
    return `${name}: schemathesis exited ${r.code ?? r.signal} after ${r.seconds} s (whole output: ${r.log})\n${tail}`;
  };

  test('anonymous: every operation answers as documented', async () => {
    const r = await schemathesis('anonymous');
    console.log(report('anonymous', r).split('\n').slice(-12).join('\n'));
    assert.equal(r.code, 0, report('anonymous', r));
  });

  test('signed in: every operation answers as documented', async () => {
    const c = new Client(worker.base, { ip: '203.0.113.7' });
    assert.equal((await c.signup({ email: uniqueEmail('openapi') })).status, 201);
    assert.ok(c.token);
    // Sign-out, sign-out-everywhere and password changes would end the session the
    // run is signed in with; the anonymous run covers them.
    const r = await schemathesis('signed-in', {
      sessionToken: c.token,
      extra: ['--exclude-operation-id', 'logOut', '--exclude-operation-id', 'revokeAllSessions', '--exclude-operation-id', 'revokeSession'],
    });
    console.log(report('signed-in', r).split('\n').slice(-12).join('\n'));
    assert.equal(r.code, 0, report('signed-in', r));
    // The session survived the run, so the signed-in answers were really signed in.
    assert.equal((await c.get('/api/me')).status, 200);
  });
});
