// The TypeScript reference for `npm run bench`: what Blimari's /api/health and /api/me do,
// written the way a TypeScript developer would, with Hono. Same bindings, same session
// cookie and KV record (`session:{sha256 hex of the token}`), same single D1 query.
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';

type Env = { SESSIONS: KVNamespace; DB: D1Database };
type SessionRecord = { session_id: string; user_id: string; created_at: number; last_seen_at: number; expires_at: number };

const COOKIE = '__Host-blimari_session';
const IDLE_MS = 7 * 24 * 3600 * 1000;
const app = new Hono<{ Bindings: Env }>();

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
    return c.json({ status: 'ok', schema_version: row?.version ?? 0, db: 'd1' });
  } catch {
    return problem(503, 'Service unavailable');
  }
});

app.get('/api/me', async (c) => {
  const token = getCookie(c, COOKIE);
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return problem(401, 'Sign in required');
  const record = await c.env.SESSIONS.get<SessionRecord>(`session:${await sha256Hex(token)}`, 'json');
  const now = Date.now();
  if (!record || now >= Math.min(record.last_seen_at + IDLE_MS, record.expires_at)) return problem(401, 'Sign in required');
  const me = await c.env.DB.prepare(
    `SELECT id, name, email, email_verified_at, created_at, role,
      (SELECT t.email FROM email_tokens t WHERE t.user_id = users.id AND t.purpose = 'verify_email'
        AND t.email <> users.email AND t.expires_at > ?
        AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash)
        ORDER BY t.created_at DESC LIMIT 1) AS pending_email
     FROM users WHERE id = ?`,
  ).bind(now, record.user_id).first<{ id: string; name: string; email: string; email_verified_at: number | null; created_at: number; role: string; pending_email: string | null }>();
  if (!me) return problem(401, 'Sign in required');
  return c.json({
    id: me.id, name: me.name, email: me.email, email_verified: me.email_verified_at !== null,
    created_at: me.created_at, pending_email: me.pending_email, admin: me.role === 'admin',
  });
});

export default app;
