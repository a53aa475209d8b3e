// The sign-in page's `next=` never leads off the site (issue 10: open redirect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeNext } from '../../public/assets/js/next.js';

const ORIGIN = 'https://blimari.space';

test('paths of this site are kept, with their query and fragment', () => {
  assert.equal(safeNext('/brands/edit?id=brd_1#logo', ORIGIN), '/brands/edit?id=brd_1#logo');
  assert.equal(safeNext('/gallery', ORIGIN), '/gallery');
});

test('anything that a browser would read as another host goes to the dashboard', () => {
  for (const raw of ['//evil.example', '/\\evil.example', '/\t/evil.example', '/%09/evil.example'.replace('%09', '\t'),
    'https://evil.example/', 'javascript:alert(1)', '', null, undefined, '\\\\evil.example', '/\n/evil.example']) {
    assert.equal(safeNext(raw, ORIGIN), '/dashboard', JSON.stringify(raw));
  }
});
