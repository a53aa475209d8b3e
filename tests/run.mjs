// The node half of `npm test`: starts ONE worker under `wrangler dev` (with its email and
// inference stand-ins, in this process), runs the end-to-end and browser test files
// against it with `node --test`, several files at a time, and always stops everything:
// on success, failure, or a signal.
//
//   node tests/run.mjs                           every file in tests/e2e and tests/browser
//   node tests/run.mjs tests/e2e/api.test.mjs    some files, still on a shared worker
//   BLIMARI_TEST_CONCURRENCY=1 node tests/run.mjs   one file at a time
//
// Test files find the shared worker through BLIMARI_TEST_WORKER (JSON: base, mailbox,
// inference, persist), read by `sharedWorker()` in tests/support/worker.mjs. Files that
// need a worker configured differently start their own with `startWorker()`; every
// `wrangler dev` leaves its process group's id in BLIMARI_TEST_GROUPS, so this runner can
// kill the ones a killed test process left behind.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startWorker } from './support/worker.mjs';

const DEFAULT_FILES = ['tests/e2e/', 'tests/browser/'];
const concurrency = process.env.BLIMARI_TEST_CONCURRENCY ?? '4';
const files = process.argv.slice(2);

const groups = mkdtempSync(join(tmpdir(), 'blimari-groups-'));
process.env.BLIMARI_TEST_GROUPS = groups;

let worker = null;
let tests = null;
let finishing = false;

const killGroup = (pid, signal) => { try { process.kill(-pid, signal); } catch { /* gone */ } };
const alive = (child) => child && child.exitCode === null && child.signalCode === null;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Synchronous last resort: kills every process group still recorded, removes their state. */
function killLeftovers() {
  if (tests) killGroup(tests.pid, 'SIGKILL');
  let entries = [];
  try { entries = readdirSync(groups); } catch { return; }
  for (const pid of entries) {
    killGroup(Number(pid), 'SIGKILL');
    try { rmSync(readFileSync(join(groups, pid), 'utf8'), { recursive: true, force: true }); } catch { /* already gone */ }
  }
  rmSync(groups, { recursive: true, force: true });
}
process.on('exit', killLeftovers);

async function finish(code) {
  if (finishing) return;
  finishing = true;
  if (alive(tests)) {
    killGroup(tests.pid, 'SIGTERM');
    for (let i = 0; i < 30 && alive(tests); i++) await sleep(100);
  }
  if (worker) {
    // What wrangler dev printed, for a person looking into a failure.
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'test-artifacts', 'shared-worker.log'), worker.logs());
  }
  await worker?.stop().catch((e) => console.error(`stopping the shared worker: ${e.message}`));
  killLeftovers();
  process.exit(code);
}
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.on(signal, () => { console.error(`\n${signal}: stopping every worker`); finish(128 + number); });
}

const started = Date.now();
try {
  worker = await startWorker();
} catch (e) {
  console.error(`could not start the shared worker: ${e.message}`);
  await finish(1);
}
console.error(`shared worker at ${worker.base} (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`);

const env = {
  ...process.env,
  BLIMARI_TEST_WORKER: JSON.stringify({
    base: worker.base, mailbox: worker.mailbox.base, inference: worker.inference.base, persist: worker.persist,
  }),
};
// Its own process group, so a signal to this runner stops the test processes as a whole.
tests = spawn(process.execPath, ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`,
  ...(files.length ? files : DEFAULT_FILES)], { cwd: ROOT, env, stdio: 'inherit', detached: true });
const code = await new Promise((resolve) => {
  tests.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  tests.on('error', (e) => { console.error(e); resolve(1); });
});
await finish(code);
