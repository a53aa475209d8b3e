// npm run profile -- [PATH | --webhook] [--requests N]: where one endpoint's CPU time goes, by
// function, JavaScript and wasm alike. Starts the worker with its inspector on
// (scripts/dev-worker.mjs --inspector-port), signs a user up (the requests carry its
// session cookie), takes a V8 sampling profile over N requests of PATH (default
// /api/health, 2000; `--webhook`: the bench's signed 64 KB Stripe event, POSTed to
// /api/webhooks/stripe; a /api/generations path first gets 100 jobs to list), and prints the functions with the most self time. Wasm functions
// are named from target/index_bg.named.wasm, the copy of the build that keeps its names
// section (the served .wasm is the same module without it). Figures are relative: the
// inspector itself costs 2–3 ms per request.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, freePort, ROOT } from '../tests/support/worker.mjs';
import { verifyEmail } from '../tests/support/client.mjs';
import { paddedWebhookRequest } from './standins/stripe.mjs';
import { wasmFunctionNames } from './wasm-names.mjs';
import WebSocket from 'ws'; // Node 20's experimental WebSocket is refused by wrangler's inspector proxy

const args = process.argv.slice(2);
const webhookAt = args.indexOf('--webhook');
const webhook = webhookAt >= 0 && args.splice(webhookAt, 1).length > 0;
const countAt = args.indexOf('--requests');
const requests = countAt >= 0 ? Number(args.splice(countAt, 2)[1]) : 2000;
const path = webhook ? '/api/webhooks/stripe' : args[0] ?? '/api/health';

const named = join(ROOT, 'target', 'index_bg.named.wasm');
const names = existsSync(named) ? wasmFunctionNames(readFileSync(named)) : new Map();
const inspectorPort = await freePort();
const worker = await startWorker({ devArgs: ['--inspector-port', String(inspectorPort)] });
try {
  const email = `profile.${Date.now()}@example.com`;
  const signup = await fetch(`${worker.base}/api/auth/signup`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Profile', email, password: 'profile passphrase' }),
  });
  const cookie = signup.headers.getSetCookie()[0].split(';')[0];
  await verifyEmail(worker, email);
  if (path.startsWith('/api/generations')) { // a full page to list: 100 jobs of a brand
    const json = { 'content-type': 'application/json', cookie };
    const post = (to, body) => fetch(`${worker.base}${to}`, { method: 'POST', headers: json, body: JSON.stringify(body) }).then((r) => r.json());
    const brand = await post('/api/brands', { name: 'Profile', voice: 'plain' });
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => post('/api/generations', { brand_id: brand.id, content_type: 'social_post', prompt: `Profile ${i + k}` })));
    }
    await new Promise((r) => setTimeout(r, 3000));
  }

  // The Chrome DevTools protocol over the inspector's WebSocket.
  const [{ webSocketDebuggerUrl }] = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const socket = new WebSocket(webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  let nextId = 1;
  const pending = new Map();
  socket.on('message', (data) => {
    const message = JSON.parse(data);
    if (message.id && pending.has(message.id)) { pending.get(message.id)(message); pending.delete(message.id); }
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });

  // As scripts/bench.mjs: the same signed event each time, verified, then found stored.
  const request = webhook ? paddedWebhookRequest(worker.stripe.webhookSecret, 'profile') : { headers: { cookie } };
  const one = () => fetch(`${worker.base}${path}`, request).then((r) => r.arrayBuffer());
  for (let i = 0; i < 50; i++) await one(); // warm-up
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  for (let i = 0; i < requests; i += 4) await Promise.all([one(), one(), one(), one()]);
  const { result } = await send('Profiler.stop');
  socket.close();

  // Self time per function: each sample's time delta goes to the node it landed in.
  const byNode = new Map(result.profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  result.profile.samples.forEach((nodeId, i) => {
    const dt = result.profile.timeDeltas[i] ?? 0;
    const { callFrame } = byNode.get(nodeId);
    const wasm = callFrame.url.startsWith('wasm://') || /^\$?(?:func|wasm-function\[)\d+/.test(callFrame.functionName);
    const index = wasm ? Number((callFrame.functionName.match(/\d+/) ?? [NaN])[0]) : NaN;
    const name = wasm && names.has(index) ? `wasm ${names.get(index)}`
      : `${callFrame.functionName || '(anonymous)'}${callFrame.url ? ` ${callFrame.url.split('/').pop()}:${callFrame.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  console.log(`${requests} × ${request.method ?? 'GET'} ${path}: ${(total / 1000).toFixed(0)} ms sampled, ${(total / 1000 / requests).toFixed(3)} ms per request (inspector on)\n`);
  console.log('self ms/req   share  function');
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(us / 1000 / requests).toFixed(4).padStart(11)}  ${(100 * us / total).toFixed(1).padStart(5)} %  ${name.slice(0, 150)}`);
  }
} finally {
  await worker.stop();
}
