// The worker's JavaScript entry (scripts/lib.sh `build_worker` bundles it with the
// wasm-bindgen glue into build/index.js). A plain module export: workerd calls these
// three functions directly for every request, batch and cron event.
//
// It keeps what worker-build's own entry does after a panic (`panic = "abort"` traps the
// wasm instance): the next event runs on a fresh instance (`__wbg_reset_state`), so a
// crash cannot leave the async executor stuck and every later request hanging. It leaves
// out worker-build's per-request work: a `WorkerEntrypoint` class wrapped in Proxies
// (a Proxy built for the instance and another for each method looked up): a third of a
// health check's CPU in a profile with the inspector on, within the noise without it
// (docs/BENCHMARKS.md).
import * as wasm from './index.js';

Error.stackTraceLimit = 100;
const initState = wasm.__worker_init_state();

function reinitializeAfterCrash() {
  if (initState.criticalError) {
    console.log('Reinitializing Wasm application');
    wasm.__wbg_reset_state();
    initState.criticalError = false;
    initState.instanceId++;
  }
}

function noteCrash(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error('Critical', error);
    initState.criticalError = true;
  }
}

addEventListener('error', (event) => noteCrash(event.error));

async function run(handler, event, env, ctx) {
  reinitializeAfterCrash();
  try {
    return await handler(event, env, ctx);
  } catch (error) {
    noteCrash(error);
    throw error;
  }
}

export default {
  fetch: (request, env, ctx) => run(wasm.fetch, request, env, ctx),
  queue: (batch, env, ctx) => run(wasm.queue, batch, env, ctx),
  scheduled: (controller, env, ctx) => run(wasm.scheduled, controller, env, ctx),
};
