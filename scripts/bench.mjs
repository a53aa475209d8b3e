// npm run bench: prints figures, never fails on a timing.
//   - size of the built .wasm, raw and gzip
//   - time from spawning `wrangler dev` to the first 200 from /api/health (3 starts)
//   - latency of /api/health, a D1 round trip, an authenticated read (/api/me: KV + D1)
//     and a sign-in (PBKDF2 at 100,000 iterations through WebCrypto), sequential requests
//   - generation: submit latency (validate, moderate, hold, enqueue) and queue-to-done
//     latency with the inference stand-in answering at once
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startWorker, ROOT } from '../tests/support/worker.mjs';

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const wasm = readFileSync(join(ROOT, 'build', 'index_bg.wasm'));
const js = readFileSync(join(ROOT, 'build', 'index.js'));
console.log(`worker .wasm        ${kib(wasm.length)} raw, ${kib(gzipSync(wasm, { level: 9 }).length)} gzip`);
console.log(`worker index.js     ${kib(js.length)} raw, ${kib(gzipSync(js, { level: 9 }).length)} gzip`);

const starts = [];
let worker;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const w = await startWorker({ vars: { STARTER_CREDITS: '1000' } });
  starts.push(performance.now() - t0);
  if (i < 2) await w.stop(); else worker = w;
}
const fmt = (ms) => `${ms.toFixed(0)} ms`;
console.log(`start to first 200  ${starts.map(fmt).join(', ')} (includes applying migrations to a fresh local D1)`);

async function latency(label, n, request) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${label}: HTTP ${res.status}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  console.log(`${label.padEnd(19)} p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms over ${n} sequential requests`);
}

try {
  await latency('GET /api/health', 300, () => fetch(`${worker.base}/api/health`));
  await latency('D1 write+read', 200, () => fetch(`${worker.base}/api/_diag/db`, { method: 'POST' }));
  const email = `bench.${Date.now()}@example.com`;
  const password = 'benchmark passphrase';
  const signup = await fetch(`${worker.base}/api/auth/signup`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', email, password }),
  });
  const cookie = signup.headers.getSetCookie()[0].split(';')[0];
  await latency('GET /api/me', 300, () => fetch(`${worker.base}/api/me`, { headers: { cookie } }));
  await latency('sign-in', 10, () => fetch(`${worker.base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  }));

  const json = { 'content-type': 'application/json', cookie };
  const brand = await (await fetch(`${worker.base}/api/brands`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'Bench', voice: 'plain' }) })).json();
  const submitBody = (i) => JSON.stringify({ brand_id: brand.id, content_type: 'social_post', prompt: `Benchmark post ${i}` });
  let n = 0;
  await latency('POST /api/generations', 40, () => fetch(`${worker.base}/api/generations`, { method: 'POST', headers: json, body: submitBody(n++) }));
  const done = [];
  for (let i = 0; i < 15; i++) {
    const job = await (await fetch(`${worker.base}/api/generations`, { method: 'POST', headers: json, body: submitBody(`q${i}`) })).json();
    const t0 = performance.now();
    for (;;) {
      const j = await (await fetch(`${worker.base}/api/generations/${job.id}`, { headers: { cookie } })).json();
      if (j.status === 'succeeded' || j.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    done.push(performance.now() - t0);
  }
  done.sort((a, b) => a - b);
  console.log(`queue to done        p50 ${done[7].toFixed(0)} ms, max ${done[14].toFixed(0)} ms over 15 jobs (max_batch_timeout = 1 s; 20 ms polling)`);
} finally {
  await worker.stop();
}
