// The TypeScript reference for `npm run bench`: what Blimari's /api/health, /api/me, the
// generations page and the Stripe webhook do, written the way a TypeScript developer
// would, with Hono. Same bindings, same session cookie and KV record (`session:{sha256 hex
// of the token}`), the same D1 queries, the same JSON out. With `ENVELOPE=1` every
// response also gets what Blimari wraps around each of its own (G1 and the security
// model): a request id, the security headers, and one JSON log line; without it, none of
// that (the bare reference). `npm run bench` runs both.
import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';

type Env = { SESSIONS: KVNamespace; DB: D1Database; STRIPE_WEBHOOK_SECRET?: string; BUILD_VERSION?: string; ENVELOPE?: string };
type SessionRecord = { session_id: string; user_id: string; created_at: number; last_seen_at: number; expires_at: number };

const COOKIE = '__Host-blimari_session';
const IDLE_MS = 7 * 24 * 3600 * 1000;
const POLICY_VERSION = '2026-04-02';
type Vars = { userId?: string };
const app = new Hono<{ Bindings: Env; Variables: Vars }>();

const SECURITY_HEADERS: [string, string][] = [
  ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'strict-origin-when-cross-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()'],
  ['X-Frame-Options', 'DENY'],
];
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

app.use('*', async (c, next) => {
  if (c.env.ENVELOPE !== '1') return next();
  const started = Date.now();
  const requestId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  await next();
  const headers = c.res.headers;
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
  if (!headers.has('Content-Security-Policy')) headers.set('Content-Security-Policy', API_CSP);
  if (!headers.has('Cache-Control')) headers.set('Cache-Control', 'no-store');
  headers.set('X-Request-Id', requestId);
  const status = c.res.status;
  console.log(JSON.stringify({
    level: status >= 500 ? 'error' : 'info', msg: 'request', request_id: requestId, method: c.req.method,
    route: `${c.req.method} ${c.req.routePath}`, status, latency_ms: Date.now() - started, user_id: c.get('userId'),
  }));
});

const problem = (status: number, title: string) =>
  new Response(JSON.stringify({ type: 'about:blank', title, status }), {
    status, headers: { 'content-type': 'application/problem+json' },
  });

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

app.get('/api/health', async (c) => {
  try {
    const row = await c.env.DB.prepare('SELECT version FROM schema_version').first<{ version: number }>();
    return c.json({ status: 'ok', version: c.env.BUILD_VERSION ?? '', schema_version: row?.version ?? 0, db: 'd1' });
  } catch {
    return problem(503, 'Service unavailable');
  }
});

/** The signed-in session's record, or null: the cookie, one KV read, the idle/absolute checks. */
async function session(c: Context<{ Bindings: Env; Variables: Vars }>, now: number): Promise<SessionRecord | null> {
  const token = getCookie(c, COOKIE);
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const record = await c.env.SESSIONS.get<SessionRecord>(`session:${await sha256Hex(token)}`, 'json');
  if (!record || now >= Math.min(record.last_seen_at + IDLE_MS, record.expires_at)) return null;
  c.set('userId', record.user_id);
  return record;
}

app.get('/api/me', async (c) => {
  const now = Date.now();
  const record = await session(c, now);
  if (!record) return problem(401, 'Sign in required');
  const me = await c.env.DB.prepare(
    `SELECT id, name, email, email_verified_at, created_at, role, policy_version, policy_notice_seen,
      (SELECT t.email FROM email_tokens t WHERE t.user_id = users.id AND t.purpose = 'verify_email'
        AND t.email <> users.email AND t.expires_at > ?
        AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash)
        ORDER BY t.created_at DESC LIMIT 1) AS pending_email
     FROM users WHERE id = ?`,
  ).bind(now, record.user_id).first<{ id: string; name: string; email: string; email_verified_at: number | null; created_at: number; role: string; policy_version: string; policy_notice_seen: string | null; pending_email: string | null }>();
  if (!me) return problem(401, 'Sign in required');
  return c.json({
    id: me.id, name: me.name, email: me.email, email_verified: me.email_verified_at !== null,
    created_at: me.created_at, pending_email: me.pending_email, admin: me.role === 'admin',
    policy: {
      accepted: me.policy_version, current: POLICY_VERSION,
      notice: POLICY_VERSION > me.policy_version && (me.policy_notice_seen === null || me.policy_notice_seen < POLICY_VERSION),
    },
  });
});

// GET /api/generations: a newest-first page (`?limit=` up to 100, `?cursor=`), each row
// turned into the API's view, as Blimari's `generation::list` and its `view`.
const JOB_COLUMNS = `id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, attempts, request_hash,
  created_at, started_at, finished_at, failure_reason, model, tokens_in, tokens_out, output_text, output_upload_id, brand_check, palette_check, favorite`;
type JobRow = {
  id: string; brand_id: string; content_type: string; prompt: string; price: number; status: string; attempts: number;
  created_at: number; started_at: number | null; finished_at: number | null; failure_reason: string | null; model: string | null;
  tokens_in: number | null; tokens_out: number | null; output_text: string | null; output_upload_id: string | null;
  brand_check: string | null; palette_check: string | null; favorite: number;
};
/** One newest-first page of a user's jobs, after the (created_at, id) cursor. */
const pageQuery = (db: D1Database, userId: string, after: [number, string], limit: number) => db.prepare(
  `SELECT ${JOB_COLUMNS} FROM generation_jobs WHERE user_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
   ORDER BY created_at DESC, id DESC LIMIT ?`,
).bind(userId, after[0], after[0], after[1], limit);
const parseOrNull = (text: string | null) => { if (text === null) return null; try { return JSON.parse(text); } catch { return null; } };
const base64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

app.get('/api/generations', async (c) => {
  const record = await session(c, Date.now());
  if (!record) return problem(401, 'Sign in required');
  const limit = Number(c.req.query('limit') ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(422, 'Invalid limit');
  let after: [number, string] = [Number.MAX_SAFE_INTEGER, ''];
  const cursor = c.req.query('cursor');
  if (cursor) {
    const [at, id] = atob(cursor.replace(/-/g, '+').replace(/_/g, '/')).split(':');
    if (!id || !Number.isInteger(Number(at))) return problem(422, 'Invalid cursor');
    after = [Number(at), id];
  }
  const { results } = await pageQuery(c.env.DB, record.user_id, after, limit).all<JobRow>();
  const items = results.map((j) => ({
    id: j.id, brand_id: j.brand_id, content_type: j.content_type, prompt: j.prompt, price: j.price, status: j.status,
    attempts: j.attempts, created_at: j.created_at, started_at: j.started_at, finished_at: j.finished_at,
    failure_reason: j.failure_reason, model: j.model, tokens_in: j.tokens_in, tokens_out: j.tokens_out,
    output: j.output_text !== null ? { type: 'text', text: j.output_text }
      : j.output_upload_id !== null ? { type: 'image', upload_id: j.output_upload_id, image_url: `/api/uploads/${j.output_upload_id}/content` } : null,
    brand_check: parseOrNull(j.brand_check), palette_check: parseOrNull(j.palette_check), favorite: j.favorite === 1,
    poll_after_ms: j.status === 'succeeded' || j.status === 'failed' ? null : 1000,
  }));
  const last = results[results.length - 1];
  const next_cursor = results.length === limit && last ? base64url(`${last.created_at}:${last.id}`) : null;
  return c.json({ items, next_cursor });
});

// POST /api/webhooks/stripe: Stripe's signature (`t=…,v1=…`, HMAC-SHA256 of `t.body`,
// every v1 against every secret, 300 s tolerance) verified with WebCrypto, the event read,
// stored once by its id (a repeat is a duplicate), as Blimari's `billing::webhook`. The
// queue send for a new handled event is left out: the benchmark repeats one stored event.
const HANDLED = new Set(['checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed',
  'charge.succeeded', 'charge.refunded', 'charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']);
const hexBytes = (hex: string) => (/^(?:[0-9a-f]{2})+$/i.test(hex) ? new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16))) : null);

app.post('/api/webhooks/stripe', async (c) => {
  const secrets = (c.env.STRIPE_WEBHOOK_SECRET ?? '').split(',').filter((s) => s !== '');
  if (secrets.length === 0) return problem(503, 'Webhooks are not set up');
  const payload = await c.req.text();
  if (payload.length > 1024 * 1024) return problem(413, 'Payload too large');
  let t: number | null = null;
  const signatures: Uint8Array[] = [];
  for (const item of (c.req.header('stripe-signature') ?? '').split(',')) {
    const [key, value] = item.trim().split('=', 2);
    if (key === 't' && value !== undefined && /^-?\d+$/.test(value)) t = Number(value);
    if (key === 'v1' && value !== undefined) { const bytes = hexBytes(value); if (bytes) signatures.push(bytes); }
  }
  if (t === null || signatures.length === 0) return problem(400, 'Malformed signature header');
  const signed = new TextEncoder().encode(`${t}.${payload}`);
  let matched = false;
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    for (const signature of signatures) matched = (await crypto.subtle.verify('HMAC', key, signature, signed)) || matched;
  }
  if (!matched) return problem(400, 'Signature mismatch');
  if (Math.abs(Date.now() / 1000 - t) > 300) return problem(400, 'Stale signature');
  let event: { id?: unknown; type?: unknown };
  try { event = JSON.parse(payload); } catch { return problem(400, 'The event could not be read.'); }
  if (typeof event.id !== 'string' || typeof event.type !== 'string') return problem(400, 'The event could not be read.');
  const handled = HANDLED.has(event.type);
  const now = Date.now();
  try {
    await c.env.DB.prepare('INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES (?, ?, ?, ?, ?, ?)')
      .bind(event.id, event.type, payload, now, handled ? null : now, handled ? null : 'ignored').run();
  } catch (e) {
    if (String(e).includes('UNIQUE constraint failed: stripe_events.id')) return c.json({ received: true, status: 'duplicate' });
    throw e;
  }
  return c.json({ received: true, status: handled ? 'queued' : 'ignored' });
});

// What any worker pays here before doing its own work, for the bench's "floor" rows (the
// best ratio any implementation could reach): an empty answer; the page's session read
// and its D1 query with the cheapest result form (`raw()`: arrays, no row objects), no
// body; and receiving the webhook's 64 KB body, nothing else. No envelope.
app.get('/api/_floor/empty', () => new Response(null, { status: 204 }));
app.get('/api/_floor/generations', async (c) => {
  const record = await session(c, Date.now());
  if (!record) return problem(401, 'Sign in required');
  await pageQuery(c.env.DB, record.user_id, [Number.MAX_SAFE_INTEGER, ''], 100).raw();
  return new Response(null, { status: 204 });
});
app.post('/api/_floor/webhook', async (c) => {
  await c.req.text();
  return new Response(null, { status: 204 });
});

export default app;
