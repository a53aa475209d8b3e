// The node half of `npm test`: starts ONE worker under `wrangler dev` (with its email and
// inference stand-ins, in this process), runs the end-to-end and browser test files
// against it with node:test (each file in its own process, as `node --test` does), four
// files at a time, the longest first, and always stops everything: on success, failure,
// or a signal.
//
//   node tests/run.mjs                              every file in tests/e2e and tests/browser
//   node tests/run.mjs tests/e2e/api.test.mjs       some files, still on a shared worker
//   BLIMARI_TEST_CONCURRENCY=1 node tests/run.mjs   one file at a time
//
// Test files find the shared worker through BLIMARI_TEST_WORKER (JSON: base, mailbox,
// inference, persist), read by `sharedWorker()` in tests/support/worker.mjs. Files that
// need a worker configured differently start their own with `startWorker()`; every
// `wrangler dev` leaves its process group's id in BLIMARI_TEST_GROUPS, so this runner can
// kill the ones a killed test process left behind.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { ROOT, startWorker } from './support/worker.mjs';

/** The longest files, started first so the run is not left waiting on one started last. */
const LONGEST = ['tests/browser/a11y.test.mjs', 'tests/e2e/generation.test.mjs', 'tests/e2e/throttling.test.mjs', 'tests/e2e/library.test.mjs', 'tests/e2e/bindings.test.mjs'];
const rank = (file) => { const i = LONGEST.indexOf(file); return i < 0 ? LONGEST.length : i; };

if (process.argv[2] === '--ordered') {
  // The child that runs the files: `node --test FILE...` sorts files by name, node:test's
  // run() keeps the order given.
  const [concurrency, ...files] = process.argv.slice(3);
  const stream = run({ files, concurrency: Number(concurrency) });
  const failures = [];
  stream.on('test:fail', ({ name, file, line, details }) => {
    process.exitCode = 1;
    // A suite fails because a test in it did: only the tests themselves are listed.
    if (details?.type === 'suite') return;
    const error = details?.error?.cause ?? details?.error;
    const message = String(error?.stack ?? error?.message ?? error).split('\n').slice(0, 8).join('\n    ');
    failures.push(`✖ ${file ? `${file.replace(`${ROOT}/`, '')}:${line} ` : ''}${name}\n    ${message}`);
  });
  process.on('exit', () => {
    // One short file of what failed and why, that scripts/test.sh prints last: the spec
    // reporter's own list sits in the middle of a long log.
    if (!process.env.BLIMARI_TEST_FAILURES) return;
    writeFileSync(process.env.BLIMARI_TEST_FAILURES, failures.join('\n'));
  });
  stream.compose(spec).pipe(process.stdout);
} else {
  await main();
}

async function main() {
  const concurrency = process.env.BLIMARI_TEST_CONCURRENCY ?? '3';
  const files = process.argv.slice(2);
  const defaultFiles = ['tests/e2e', 'tests/browser']
    .flatMap((dir) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.test.mjs')).map((f) => `${dir}/${f}`))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

  const groups = mkdtempSync(join(tmpdir(), 'blimari-groups-'));
  process.env.BLIMARI_TEST_GROUPS = groups;

  let worker = null;
  let tests = null;
  let postgres = null;
  let gateway = null;
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
      await worker.stop().catch((e) => console.error(`stopping the shared worker: ${e.message}`));
    }
    killLeftovers();
    if (gateway) {
      const { peakConnections, waitedForRoom, errors } = gateway.stats;
      console.error(`Neon gateway: at most ${peakConnections} PostgreSQL connections at once, ${waitedForRoom} waits for a free one, ${errors} PostgreSQL errors answered (test-artifacts/neon-gateway.log)`);
    }
    await gateway?.close().catch(() => {});
    try { postgres?.stop(); } catch (e) { console.error(`stopping PostgreSQL: ${e.message}`); }
    process.exit(code);
  }
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(signal, () => { console.error(`\n${signal}: stopping every worker`); finish(128 + number); });
  }

  // Neon mode: one PostgreSQL and one Neon gateway for the run; each worker gets its own
  // database there (tests/support/worker.mjs).
  if (process.env.BLIMARI_TEST_DB === 'neon') {
    const { startPostgres } = await import('./neon/postgres.mjs');
    const { startNeonGateway } = await import('../scripts/standins/neon-gateway.mjs');
    postgres = startPostgres();
    // Every Postgres error the gateway answers (most are expected: unique violations the
    // tests provoke), for a person looking into a failure.
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const gatewayLog = join(ROOT, 'test-artifacts', 'neon-gateway.log');
    writeFileSync(gatewayLog, '');
    gateway = await startNeonGateway({ log: (line) => appendFileSync(gatewayLog, `${new Date().toISOString()} ${line}\n`) });
    process.env.BLIMARI_TEST_PG = JSON.stringify({ admin: postgres.url, gateway: gateway.url });
    console.error(`Neon mode: PostgreSQL at ${postgres.url}, gateway at ${gateway.url}`);
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
      base: worker.base, mailbox: worker.mailbox.base, inference: worker.inference.base, sites: worker.sites.base,
      persist: worker.persist, neonUrl: worker.neonUrl,
    }),
  };
  // This file again, with --ordered, in its own process group, so a signal to this runner
  // stops the test processes as a whole.
  tests = spawn(process.execPath, [fileURLToPath(import.meta.url), '--ordered', concurrency,
    ...(files.length ? files : defaultFiles).map((f) => resolve(ROOT, f))], { cwd: ROOT, env, stdio: 'inherit', detached: true });
  const code = await new Promise((done) => {
    tests.on('exit', (c, signal) => done(c ?? (signal ? 1 : 0)));
    tests.on('error', (e) => { console.error(e); done(1); });
  });
  await finish(code);
}
