// Every script `npm start`, `npm test` and the other commands run must at least parse:
// a merge once left scripts/serve.mjs unparsable and `npm start` dead while every other
// test passed (nothing else loads it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const files = (dir) => (existsSync(join(ROOT, dir)) ? readdirSync(join(ROOT, dir)).map((f) => join(dir, f)) : []);
const scripts = [...files('scripts'), ...files('scripts/standins'), ...files('bench')].filter((f) => /\.(mjs|js|sh)$/.test(f));

for (const file of scripts) {
  test(`${file} parses`, () => {
    const [cmd, args] = file.endsWith('.sh') ? ['bash', ['-n', file]] : [process.execPath, ['--check', file]];
    const run = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
}
