// A user-agent for the end-to-end tests: keeps the session cookie the way a browser
// would (by name, replaced or cleared by Set-Cookie), and speaks JSON.
import { eventually, fetchRetryingStaleSocket } from './worker.mjs';

export const COOKIE = '__Host-blimari_session';

export class Client {
  constructor(base, { ip } = {}) {
    this.base = base;
    this.ip = ip;
    this.token = null;
    this.lastSetCookie = [];
  }

  async request(method, path, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (this.token) init.headers.cookie = `${COOKIE}=${this.token}`;
    if (this.ip) init.headers['cf-connecting-ip'] = this.ip;
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetchRetryingStaleSocket(this.base + path, init);
    this.lastSetCookie = res.headers.getSetCookie();
    for (const c of this.lastSetCookie) {
      const [pair] = c.split(';');
      const [name, value] = pair.split('=');
      if (name === COOKIE) this.token = /Max-Age=0/.test(c) ? null : value;
    }
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = text; }
    return { status: res.status, headers: res.headers, body: json };
  }

  get(path) { return this.request('GET', path); }
  post(path, body = {}, headers) { return this.request('POST', path, body, headers); }
  patch(path, body) { return this.request('PATCH', path, body); }
  delete(path) { return this.request('DELETE', path); }

  async signup({ name = 'Ada Lovelace', email, password = 'correct horse battery' }) {
    return this.post('/api/auth/signup', { name, email, password });
  }

  async login(email, password = 'correct horse battery') {
    return this.post('/api/auth/login', { email, password });
  }
}

/**
 * A source of client addresses (for CF-Connecting-IP) in a range of 10.0.0.0/8 picked at
 * random per test file: files share one worker and its per-IP throttles, so each file
 * acts from its own addresses, and each call returns a new one.
 */
export function addresses() {
  const start = (10 << 24) + 1 + Math.floor(Math.random() * ((1 << 24) - 100_000));
  let n = 0;
  return () => {
    const a = start + n++;
    return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
  };
}

let counter = 0;
/** A fresh address per call, so tests never share accounts. */
export function uniqueEmail(tag = 'user') {
  counter += 1;
  return `${tag}.${process.pid}.${Date.now().toString(36)}.${counter}@example.com`;
}

/** Waits for an email to `to` whose subject matches, from a worker's mailbox stand-in. */
export async function waitForEmail(worker, to, subject) {
  return eventually(async () => {
    const res = await fetch(`${worker.mailbox.base}/messages?to=${encodeURIComponent(to)}`);
    const list = await res.json();
    return list.find((m) => subject.test(m.subject));
  }, { what: `an email to ${to} matching ${subject}`, timeoutMs: 15_000 });
}

/** The token from a link like https://…/reset#token=XYZ in an email's text. */
export function tokenFrom(message, page) {
  const m = message.text.match(new RegExp(`/${page}#token=([A-Za-z0-9_-]+)`));
  if (!m) throw new Error(`no /${page} link in: ${message.text}`);
  return m[1];
}

/**
 * Confirms a signed-up address by following the link the worker emailed, as a person
 * would; starter credits come with it (E2, issue 10).
 */
export async function verifyEmail(worker, email) {
  const mail = await waitForEmail(worker, email, /Confirm your email/);
  const res = await new Client(worker.base).post('/api/auth/verify', { token: tokenFrom(mail, 'verify') });
  if (res.status !== 200) throw new Error(`verifying ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
