// `npm start` passes every variable the worker reads (the README's configuration table)
// from its environment to the worker (PRODUCT.md, "Running it"). The script must also
// parse: a merge once left it without a closing bracket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('scripts/serve.mjs parses', () => {
  execFileSync(process.execPath, ['--check', fileURLToPath(new URL('../../scripts/serve.mjs', import.meta.url))]);
});

test('every variable of the README configuration table is passed on by npm start', () => {
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('`npm start` starts local stand-ins'));
  const documented = [...table.matchAll(/^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)?/gm)].flatMap((m) => [m[1], m[2]]).filter(Boolean);
  assert.ok(documented.includes('ACCOUNT_DELETION_GRACE_SECONDS') && documented.length > 20, documented.join(' '));
  const serve = read('scripts/serve.mjs');
  const list = serve.slice(serve.indexOf("for (const key of ['"), serve.indexOf(']) {', serve.indexOf("for (const key of ['")));
  // serve.mjs sets these itself: the environment name, the port, and the mailbox link of its stand-in.
  const own = ['ENVIRONMENT', 'PORT', 'DEV_MAILBOX_URL'];
  const missing = documented.filter((k) => !own.includes(k) && !list.includes(`'${k}'`));
  assert.deepEqual(missing, [], 'README variables that npm start does not pass on');
});
