// The one way pages talk to the API: JSON in, JSON out, problems as ApiError.

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem?.detail ?? `Request failed (${status})`);
    this.status = status;
    this.problem = problem ?? {};
    this.requestId = problem?.request_id;
    /** field name → message, from a validation problem */
    this.fields = Object.fromEntries((problem?.errors ?? []).map((e) => [e.field, e.detail]));
  }
}

export async function api(method, path, body, idempotencyKey) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
  if (idempotencyKey) init.headers['idempotency-key'] = idempotencyKey;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError({ detail: 'Could not reach Blimari. Check your connection and try again.' }, 0);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(data, res.status);
  return data;
}

/**
 * The signed-in user, or null when signed out. Asked of /api/auth/session, which answers
 * 200 either way: a 401 would put an error in the browser's console on every signed-out
 * visit.
 */
export async function currentUser() {
  const state = await api('GET', '/api/auth/session');
  return state.signed_in ? state.user : null;
}

export async function clientConfig() {
  try { return await api('GET', '/api/client-config'); } catch { return {}; }
}
