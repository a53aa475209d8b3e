// npm run bench: one table, printed and written to docs/BENCHMARKS.md (between the
// markers, with the machine described). Never fails on a timing.
//   - the .wasm, raw and gzip
//   - start-up: spawning the development server (scripts/dev-worker.mjs) to the first 200
//     from /api/health
//   - per endpoint, under load from this process (keep-alive connections, fixed duration,
//     after a warm-up under the same load):
//     requests/s, p50/p99 latency, and CPU ms per request of the worker's workerd
//     processes (their /proc utime+stime delta / requests sent)
//   - the TypeScript (Hono) reference in bench/hono, same bindings and state, for
//     /api/health, /api/me, the 100-item generations page and the Stripe webhook, run
//     alternately with Blimari, and the ratios
//   - queue to done: single jobs with a provider answering at once; 50 jobs at once with a
//     provider taking 2 s (the inference stand-in's #latency-N marker)
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { startWorker, freePort, ROOT } from '../tests/support/worker.mjs';
import { verifyEmail } from '../tests/support/client.mjs';
import { paddedWebhookRequest } from './standins/stripe.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const rows = [];
const row = (what, value, note = '') => { rows.push([what, value, note]); console.log(`${what.padEnd(44)} ${value.padEnd(44)} ${note}`); };

// ---- size -------------------------------------------------------------------------------
const wasm = readFileSync(join(ROOT, 'build', 'index_bg.wasm'));
const js = readFileSync(join(ROOT, 'build', 'index.js'));
row('.wasm', `${kib(wasm.length)} raw, ${kib(gzipSync(wasm, { level: 9 }).length)} gzip`);
row('index.js (glue)', `${kib(js.length)} raw, ${kib(gzipSync(js, { level: 9 }).length)} gzip`);

// ---- CPU of a process tree's workerd processes ------------------------------------------
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);
function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    return { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch { return null; }
}
function workerdCpuMs(rootPid) {
  const all = new Map();
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d)) { const s = procStat(d); if (s) all.set(Number(d), s); }
  const inTree = (pid) => { for (let p = pid, i = 0; p > 1 && i < 50; i++) { if (p === rootPid) return true; p = all.get(p)?.ppid ?? 0; } return false; };
  let ticks = 0;
  for (const [pid, s] of all) if (s.comm.startsWith('workerd') && inTree(pid)) ticks += s.ticks;
  return ticks * TICK_MS;
}

// ---- load generator ---------------------------------------------------------------------
/** Keeps CONNECTIONS requests in flight for SECONDS; answers requests/s, latencies, CPU. */
async function load(base, pid, { method = 'GET', path, headers = {}, body = null, expect = [200] }) {
  const url = new URL(path, base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const one = () => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode, performance.now() - t0]));
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
  const run = async (seconds, each) => {
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) each(await one());
    }));
  };
  // Warm-up under the same load, not counted: V8 compiles hot code (JavaScript and wasm
  // alike) with its optimizing tier in the background, and that compilation is CPU of
  // the workerd process too. Start-up has its own row; these rows are the steady state.
  await run(WARMUP_SECONDS, () => {});
  const times = [];
  const statuses = new Map();
  const cpu0 = workerdCpuMs(pid);
  const t0 = performance.now();
  await run(SECONDS, ([status, ms]) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    times.push(ms);
  });
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = workerdCpuMs(pid) - cpu0;
  agent.destroy();
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  const unexpected = [...statuses].filter(([s]) => !expect.includes(s));
  return { n: times.length, rps: times.length / elapsed, p50: q(0.5), p99: q(0.99), cpuPerReq: cpu / times.length, unexpected };
}
const fmtLoad = (r) => `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.cpuPerReq.toFixed(2)} ms CPU/req`;
const noteOf = (r) => `${r.n} requests${r.unexpected.length ? `; unexpected statuses ${JSON.stringify(r.unexpected)}` : ''}`;

// ---- the TypeScript reference -----------------------------------------------------------
async function startHono(persist, vars) {
  const port = await freePort();
  // Served the way the tests serve Blimari (scripts/dev-worker.mjs: wrangler's DevEnv, no
  // inspector), so both run under the same development server.
  const child = spawn(process.execPath, [join(ROOT, 'scripts/dev-worker.mjs'), '--config', join(ROOT, 'bench/hono/wrangler.toml'),
    '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist,
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`])],
  { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const stop = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', stop);
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/api/health`)).ok) break; } catch { /* not yet */ }
    if (i > 450 || child.exitCode !== null) { stop(); throw new Error(`the Hono reference did not start:\n${output}`); }
    await sleep(200);
  }
  return { base, pid: child.pid, stop };
}

// ---- run --------------------------------------------------------------------------------
const starts = [];
let worker;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const w = await startWorker({ vars: { STARTER_CREDITS: '1000000' } });
  starts.push(performance.now() - t0);
  if (i < 2) await w.stop(); else worker = w;
}
// Measured through wrangler's proxy worker, as the Hono reference is (and as every table
// in docs/BENCHMARKS.md was): the tests' direct address would leave out the proxy's CPU
// on one side only.
worker.base = worker.proxyBase;
row('start-up: spawn to first 200', starts.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', '), '3 starts of the development server (wrangler\'s DevEnv); includes applying the migrations to a fresh local D1');

let hono;
let bare;
try {
  const { base, pid } = worker;
  // A verified user with credits, a brand, and a session cookie.
  const email = `bench.${Date.now()}@example.com`;
  const signup = await fetch(`${base}/api/auth/signup`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', email, password: 'benchmark passphrase' }),
  });
  const cookie = signup.headers.getSetCookie()[0].split(';')[0];
  await verifyEmail(worker, email);
  const json = { 'content-type': 'application/json', cookie };
  const brand = await (await fetch(`${base}/api/brands`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'Bench', voice: 'plain' }) })).json();
  const submit = (prompt) => fetch(`${base}/api/generations`, { method: 'POST', headers: json, body: JSON.stringify({ brand_id: brand.id, content_type: 'social_post', prompt }) }).then((r) => r.json());
  const status = async (id) => (await (await fetch(`${base}/api/generations/${id}`, { headers: { cookie } })).json()).status;
  const ended = (s) => s === 'succeeded' || s === 'failed';

  // Queue to done, single jobs, zero-latency provider: submitted one after another.
  const single = [];
  for (let i = 0; i < 20; i++) {
    const job = await submit(`Benchmark single ${i}`);
    const t0 = performance.now();
    while (!ended(await status(job.id))) await sleep(5);
    single.push(performance.now() - t0);
  }
  single.sort((a, b) => a - b);
  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  row('queue to done, 1 job, provider 0 ms', `p50 ${pct(single, 0.5).toFixed(0)} ms, p95 ${pct(single, 0.95).toFixed(0)} ms`, '20 jobs one after another; from the 202 to `succeeded` seen (5 ms polling)');

  // 50 jobs at once, provider 2 s: all submitted together, then the list polled.
  const t50 = performance.now();
  const jobs = await Promise.all(Array.from({ length: 50 }, (_, i) => submit(`Benchmark burst ${i} #latency-2000`)));
  const submitted = performance.now();
  const doneAt = new Map();
  while (doneAt.size < jobs.length && performance.now() - t50 < 300_000) {
    const page = await (await fetch(`${base}/api/generations?limit=100`, { headers: { cookie } })).json();
    const now = performance.now();
    for (const j of page.items ?? []) if (ended(j.status) && !doneAt.has(j.id) && jobs.some((x) => x.id === j.id)) doneAt.set(j.id, now - t50);
    await sleep(50);
  }
  const burst = [...doneAt.values()].sort((a, b) => a - b);
  row('queue to done, 50 jobs at once, provider 2 s', `p50 ${(pct(burst, 0.5) / 1000).toFixed(2)} s, p95 ${(pct(burst, 0.95) / 1000).toFixed(2)} s`,
    `${burst.length}/50 ended; from the first submit (all 50 answered after ${((submitted - t50) / 1000).toFixed(2)} s); 50 ms polling`);

  // Enough jobs for a full 100-item page.
  for (let i = doneAt.size + single.length; i < 110; i += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => submit(`Benchmark page ${i + k}`)));
  await sleep(3000);

  // The TypeScript reference on the same state, run alternately with Blimari: once with
  // what Blimari wraps around every response (request id, security headers, the G1 log
  // line; `ENVELOPE=1`), the like-for-like comparison the targets are about, and once bare.
  const { version } = await (await fetch(`${base}/api/health`)).json();
  const honoVars = { STRIPE_WEBHOOK_SECRET: worker.stripe.webhookSecret, BUILD_VERSION: version };
  hono = await startHono(worker.persist, { ...honoVars, ENVELOPE: '1' });
  bare = await startHono(worker.persist, honoVars);
  // floor: what any worker pays for this request before its own work (bench/hono's
  // /api/_floor/ routes, on the bare reference), so the best ratio any implementation could
  // reach is floor / reference.
  const pair = async (label, request, target = 1, floor = null) => {
    // Each answers the request with the same status and JSON, or the table says not.
    const answer = async (at) => {
      const r = await fetch(new URL(request.path, at), { method: request.method ?? 'GET', headers: request.headers, body: request.body });
      return { status: r.status, body: await r.json().catch(() => null) };
    };
    await answer(base); // a webhook event is new only the first time
    const ourAnswer = await answer(base);
    const sameAs = async (at) => (isDeepStrictEqual(ourAnswer, await answer(at)) ? 'the same status and JSON as Blimari' : 'its answer differs from Blimari\'s');
    const notes = [await sameAs(hono.base), await sameAs(bare.base)];
    const runs = [[], [], [], []];
    for (let round = 0; round < 2; round++) {
      for (const [i, w] of [worker, hono, bare].entries()) runs[i].push(await load(w.base, w.pid, request));
      if (floor) runs[3].push(await load(bare.base, bare.pid, { ...request, path: floor.path, expect: [204] }));
    }
    const mean = (rs, k) => rs.reduce((a, r) => a + r[k], 0) / rs.length;
    const merged = (rs) => ({ n: rs.reduce((a, r) => a + r.n, 0), rps: mean(rs, 'rps'), p50: mean(rs, 'p50'), p99: mean(rs, 'p99'), cpuPerReq: mean(rs, 'cpuPerReq'), unexpected: rs.flatMap((r) => r.unexpected) });
    const [a, b, c, f] = runs.map(merged);
    row(`${label} (Blimari)`, fmtLoad(a), noteOf(a));
    row(`${label} (TypeScript/Hono, same envelope)`, fmtLoad(b), `${noteOf(b)}; ${notes[0]}`);
    row(`${label} (TypeScript/Hono, bare)`, fmtLoad(c), `${noteOf(c)}; ${notes[1]}; no request id, security headers or log line`);
    const goal = target === 1 ? '≤ 1.0 is the target' : `≤ ${target} is the target (${1 / target}× better)`;
    row(`${label}: CPU ratio Blimari/Hono`, `${(a.cpuPerReq / b.cpuPerReq).toFixed(2)}× (bare: ${(a.cpuPerReq / c.cpuPerReq).toFixed(2)}×)`, goal);
    if (floor) {
      row(`${label}: floor, ${floor.what}`, `${f.cpuPerReq.toFixed(2)} ms CPU/req`,
        `${noteOf(f)}; so no worker could do better than ${(f.cpuPerReq / b.cpuPerReq).toFixed(2)}× the reference here`);
    }
  };
  await pair('GET /api/health', { path: '/api/health' }, 1, { path: '/api/_floor/empty', what: 'an empty answer' });
  await pair('GET /api/me', { path: '/api/me', headers: { cookie } });
  await pair('GET /api/generations (100 items)', { path: '/api/generations?limit=100', headers: { cookie } }, 0.5,
    { path: '/api/_floor/generations', what: 'the session read and the D1 query alone' });

  // The Stripe webhook: a 64 KB event signed the Stripe way, the same one each time.
  await pair('POST /api/webhooks/stripe (64 KB)', { ...paddedWebhookRequest(worker.stripe.webhookSecret, 'bench'), expect: [200, 202] }, 0.5,
    { path: '/api/_floor/webhook', what: 'receiving the 64 KB body alone' });
  hono.stop();
  bare.stop();
  hono = bare = null;

  const one = async (label, request, note = '') => { const r = await load(base, pid, request); row(label, fmtLoad(r), `${noteOf(r)}${note ? `; ${note}` : ''}`); };
  await one('GET /api/brands', { path: '/api/brands', headers: { cookie } });

  await one('POST /api/generations', {
    method: 'POST', path: '/api/generations', headers: json, expect: [202],
    body: JSON.stringify({ brand_id: brand.id, content_type: 'social_post', prompt: 'Benchmark submit' }),
  }, 'each a new job (validate, screen, hold, enqueue); the consumer runs them meanwhile');
} finally {
  hono?.stop();
  bare?.stop();
  await worker.stop();
}

// ---- docs/BENCHMARKS.md -----------------------------------------------------------------
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, `
  + `wrangler ${JSON.parse(readFileSync(join(ROOT, 'node_modules/wrangler/package.json'), 'utf8')).version}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
const table = [
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}; ${CONNECTIONS} connections for ${SECONDS} s per run, after ${WARMUP_SECONDS} s of the same load not counted.`,
  '',
  '| what | figure | note |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
const file = join(ROOT, 'docs', 'BENCHMARKS.md');
if (existsSync(file)) {
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:start -->'; const end = '<!-- bench:end -->';
  if (text.includes(start) && text.includes(end)) {
    writeFileSync(file, `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`);
    console.log(`\nwritten to docs/BENCHMARKS.md`);
  }
}
