// `npm start` fires wrangler.toml's cron triggers on their schedules (scripts/cron.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cronSchedules, cronMatches } from '../../scripts/cron.mjs';

test('the schedules are read from wrangler.toml', () => {
  assert.deepEqual(cronSchedules(readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8')), ['* * * * *', '17 3 * * *']);
});

test('a schedule fires in its minute only (UTC)', () => {
  const at = (h, m) => new Date(Date.UTC(2026, 11, 2, h, m));
  assert.ok(cronMatches('17 3 * * *', at(3, 17)));
  assert.ok(!cronMatches('17 3 * * *', at(3, 18)));
  assert.ok(!cronMatches('17 3 * * *', at(4, 17)));
  assert.ok(cronMatches('* * * * *', at(12, 34)));
  assert.ok(cronMatches('*/15 * * * *', at(1, 30)) && !cronMatches('*/15 * * * *', at(1, 31)));
  assert.ok(cronMatches('0 9-17 * * 1-5', new Date(Date.UTC(2026, 11, 2, 10, 0))), 'a Wednesday at 10:00');
});
