// Small HTTP helpers for the end-to-end tests.
import assert from 'node:assert/strict';
import { fetchRetryingStaleSocket } from './worker.mjs';

export async function getJson(base, path, init = {}) {
  const res = await fetchRetryingStaleSocket(base + path, init);
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}

export function postJson(base, path, value, init = {}) {
  return getJson(base, path, {
    method: 'POST',
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    body: typeof value === 'string' ? value : JSON.stringify(value),
  });
}

/** Asserts an RFC 9457 problem document with our request id. */
export function assertProblem(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.body.status, status);
  assert.match(res.body.type, /^https:\/\/blimari\.space\/problems\/[a-z-]+$/);
  assert.equal(typeof res.body.title, 'string');
  assert.ok(res.body.detail.length > 0);
  assert.match(res.body.request_id, /^[0-9a-f]{32}$/);
  assert.equal(res.body.request_id, res.headers.get('x-request-id'));
  return res.body;
}
