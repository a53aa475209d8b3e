// A local stand-in for Sentry's envelope endpoint, so the worker's real error reporting
// runs in `npm start` and the tests. It keeps the envelopes it receives, byte for byte.
//
//   POST /api/:project/envelope/   Sentry's ingestion endpoint (X-Sentry-Auth with the key)
//   GET  /envelopes                what it received: [{project, auth, body (base64), received_at}]
//   GET  /                         a page listing the received events
//   POST /rate-limit?seconds=N     answer the next envelope with 429 + Retry-After (for tests)
//
// Run alone with `node scripts/standins/sentry.mjs [port]`, or import `startSentryStandin`.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

export async function startSentryStandin({ port = 0, publicKey = 'dev-sentry-key', project = '1' } = {}) {
  const envelopes = [];
  let limitNext = 0;
  let hits = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const m = url.pathname.match(/^\/api\/([^/]+)\/envelope\/?$/);
      if (req.method === 'POST' && m) {
        hits += 1;
        const auth = req.headers['x-sentry-auth'] ?? '';
        if (!auth.includes(`sentry_key=${publicKey}`)) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ detail: 'bad auth' }));
        }
        if (limitNext > 0) {
          res.writeHead(429, { 'retry-after': String(limitNext), 'x-sentry-rate-limits': `${limitNext}::organization` });
          limitNext = 0;
          return res.end();
        }
        envelopes.push({ project: m[1], auth, body: body.toString('base64'), received_at: new Date().toISOString() });
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ id: JSON.parse(body.toString('utf8').split('\n')[0] || '{}').event_id ?? null }));
      }
      if (req.method === 'POST' && url.pathname === '/rate-limit') {
        limitNext = Number(url.searchParams.get('seconds') ?? '60');
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'GET' && url.pathname === '/envelopes') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(envelopes));
      }
      if (req.method === 'GET' && url.pathname === '/') {
        const rows = envelopes.slice().reverse().map((e) => {
          const lines = Buffer.from(e.body, 'base64').toString('utf8').split('\n');
          let event = {};
          try { event = JSON.parse(lines[2]); } catch { /* not an event */ }
          return `<li><b>${escape(event.level ?? '?')}</b> ${escape(event.transaction ?? '')} — ${escape(event.message?.formatted ?? '')} <small>${escape(e.received_at)}</small></li>`;
        }).join('');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<!doctype html><meta charset="utf-8"><title>Sentry stand-in</title><h1>Sentry stand-in</h1><ul>${rows || '<li>No events yet.</li>'}</ul>`);
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"detail":"not found"}');
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    dsn: `http://${publicKey}@127.0.0.1:${server.address().port}/${project}`,
    hits: () => hits,
    envelopes: () => envelopes.map((e) => ({ ...e, bytes: Buffer.from(e.body, 'base64') })),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const s = await startSentryStandin({ port: Number(process.argv[2] ?? 0) });
  console.log(`Sentry stand-in: ${s.base}  (DSN ${s.dsn})`);
}
