// A local stand-in for the email provider (Resend's HTTP API), so the worker's real
// email client runs in `npm start` and the tests. It keeps what it receives in memory.
//
//   POST /emails              Resend's send endpoint: bearer key, {from,to,subject,text,html}
//   GET  /emails/:id          Resend's retrieve endpoint
//   GET  /                    development mailbox: the received messages, newest first
//   GET  /messages/:id        one message, rendered
//   GET  /messages?to=ADDR    the received messages as JSON (for tests)
//
// Run alone with `node scripts/standins/email.mjs [port]`, or import `startEmailStandin`.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

/** Resend-style error body. */
const fail = (res, status, name, message) => send(res, status, { statusCode: status, name, message });

export function startEmailStandin({ port = 0, apiKey = 'dev-email-key' } = {}) {
  const messages = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    try {
      if (req.method === 'POST' && url.pathname === '/emails') {
        if (req.headers.authorization !== `Bearer ${apiKey}`) return fail(res, 401, 'missing_api_key', 'Missing or invalid API key');
        if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return fail(res, 415, 'invalid_content_type', 'Send JSON');
        let body;
        try { body = JSON.parse(await readBody(req)); } catch { return fail(res, 422, 'validation_error', 'Invalid JSON'); }
        const to = Array.isArray(body.to) ? body.to : [body.to];
        if (!body.from || !to.length || to.some((t) => typeof t !== 'string' || !t.includes('@')) || !body.subject || !(body.text || body.html)) {
          return fail(res, 422, 'validation_error', 'from, to, subject and text or html are required');
        }
        const message = { id: randomUUID(), from: body.from, to, subject: body.subject, text: body.text ?? '', html: body.html ?? '', created_at: new Date().toISOString() };
        messages.push(message);
        return send(res, 200, { id: message.id });
      }
      if (req.method === 'GET' && url.pathname.startsWith('/emails/')) {
        if (req.headers.authorization !== `Bearer ${apiKey}`) return fail(res, 401, 'missing_api_key', 'Missing or invalid API key');
        const m = messages.find((x) => x.id === url.pathname.slice('/emails/'.length));
        return m ? send(res, 200, { object: 'email', ...m }) : fail(res, 404, 'not_found', 'Email not found');
      }
      if (req.method === 'GET' && url.pathname === '/messages') {
        const to = url.searchParams.get('to');
        return send(res, 200, messages.filter((m) => !to || m.to.includes(to)));
      }
      if (req.method === 'GET' && url.pathname.startsWith('/messages/')) {
        const m = messages.find((x) => x.id === url.pathname.slice('/messages/'.length));
        if (!m) return send(res, 404, 'Not found', 'text/plain');
        return send(res, 200, `<!doctype html><meta charset="utf-8"><title>${escape(m.subject)}</title>
<p><a href="/">← Mailbox</a></p><p><b>To:</b> ${escape(m.to.join(', '))}<br><b>Subject:</b> ${escape(m.subject)}</p><hr>${m.html || `<pre>${escape(m.text)}</pre>`}`, 'text/html; charset=utf-8');
      }
      if (req.method === 'GET' && url.pathname === '/') {
        const rows = messages.slice().reverse().map((m) => `<li><a href="/messages/${m.id}">${escape(m.subject)}</a> → ${escape(m.to.join(', '))} <small>${escape(m.created_at)}</small></li>`).join('');
        return send(res, 200, `<!doctype html><meta charset="utf-8"><title>Blimari dev mailbox</title>
<h1>Development mailbox</h1><p>Emails the local Blimari sent. Nothing here leaves this machine.</p><ul>${rows || '<li>No messages yet.</li>'}</ul>`, 'text/html; charset=utf-8');
      }
      return send(res, 404, { statusCode: 404, name: 'not_found', message: 'Not found' });
    } catch (e) {
      return fail(res, 500, 'application_error', e.message);
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({ base, apiKey, messages, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const standin = await startEmailStandin({ port: Number(process.argv[2] ?? 0) });
  console.log(standin.base);
}
