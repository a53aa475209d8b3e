// Serves the worker locally for the tests with wrangler's own development server — its
// `unstable_startWorker` API, the same DevEnv, Miniflare and workerd as `wrangler dev`,
// reading the same wrangler.toml — with two differences that keep a long test run alive:
//   * no inspector: `wrangler dev` always starts one, and its proxy worker relays a
//     `Network.*` event (with bodies) for every subrequest to nobody;
//   * an error event from wrangler's controllers is printed, and serving goes on:
//     `wrangler dev` ends the whole process on one it does not recognise (it did, mid-run,
//     under load: docs/PLATFORM.md, "A busy wrangler dev can die").
//
//   node scripts/dev-worker.mjs [--config wrangler.toml] --ip 127.0.0.1 --port 8787 --persist-to DIR
//                               [--var NAME:VALUE]... [--inspector-port PORT]
//
// `--inspector-port` turns the inspector on (for scripts/profile.mjs; it costs 2–3 ms of
// CPU per request, docs/BENCHMARKS.md).
//
// Prints "Ready on URL" when it answers, then "Direct URL": the worker's own Miniflare
// server, without wrangler's proxy worker in front. The tests use the direct address:
// through the proxy, a request now and then failed with "Network connection lost" (the
// proxy's fetch to the worker lost its connection; docs/PLATFORM.md). SIGTERM or SIGINT
// stop it cleanly.
import { unstable_DevEnv as DevEnv } from 'wrangler';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function parse(argv) {
  const out = { config: join(ROOT, 'wrangler.toml'), ip: '127.0.0.1', port: 8787, persist: join(ROOT, '.wrangler', 'state'), vars: {} };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--config') out.config = value;
    else if (flag === '--ip') out.ip = value;
    else if (flag === '--port') out.port = Number(value);
    else if (flag === '--persist-to') out.persist = value;
    else if (flag === '--inspector-port') out.inspectorPort = Number(value);
    else if (flag === '--var') {
      const at = value.indexOf(':');
      if (at < 1) throw new Error(`--var wants NAME:VALUE, not ${value}`);
      out.vars[value.slice(0, at)] = value.slice(at + 1);
    } else throw new Error(`unknown option ${flag}`);
  }
  return out;
}

const options = parse(process.argv.slice(2));
// `unstable_startWorker` is this with a DevEnv of its own; holding it lets us listen to
// its error events (its own listener only logs them at debug level).
const devEnv = new DevEnv();
devEnv.on('error', (event) => {
  const cause = event?.cause instanceof Error ? event.cause.stack : JSON.stringify(event?.cause ?? event?.data ?? null);
  console.error(`[dev-worker] ${event?.source ?? 'wrangler'}: ${event?.reason ?? 'error'} ${cause}`);
});
// The worker's own address arrives with each reload (one here: no watching), after the
// proxy is ready; it is printed then.
const dispatch = devEnv.dispatch.bind(devEnv);
devEnv.dispatch = (event) => {
  const url = event?.type === 'reloadComplete' ? event.proxyData?.userWorkerUrl : null;
  const result = dispatch(event);
  if (url) console.log(`Direct ${url.protocol}//${url.hostname}:${url.port}`);
  return result;
};
const worker = await devEnv.startWorker({
  config: options.config,
  bindings: Object.fromEntries(Object.entries(options.vars).map(([name, value]) => [name, { type: 'plain_text', value }])),
  dev: {
    remote: false,
    inspector: options.inspectorPort ? { port: options.inspectorPort } : false,
    persist: options.persist,
    server: { hostname: options.ip, port: options.port },
    testScheduled: true,
    watch: false,
    liveReload: false,
  },
});
await worker.ready;
console.log(`Ready on ${await worker.url}`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await worker.dispose().catch((e) => console.error(`[dev-worker] stopping: ${e.message}`));
    process.exit(0);
  });
}
