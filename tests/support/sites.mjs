// Fixture websites for the website import (B5), served on loopback: `tests/fixtures/sites/*`
// under `/{site}/...` (with a generated `logo.png` per site), plus
//   GET /away?token=T   302 to a second server, "outside", which is NOT in the worker's
//                       WEBSITE_IMPORT_ALLOW_HOSTS; it records every request it gets
//   GET /_outside?token=T  {hits}: how many requests reached the outside server for T
//   GET /huge/          a 2 MiB page (over the import's 1 MiB limit)
//   GET /slow/          headers at once, then nothing for 30 s (over the 8 s time limit)
// Tests reach both over HTTP only (the shared worker's servers live in the runner).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, dirname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePng } from '../../scripts/standins/png.mjs';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sites');
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
/** The logo every fixture site serves: 48 × 48, the Fernleaf teal. */
export const LOGO = makePng(48, 48, { rgb: [15, 118, 110] });

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

export async function startFixtureSites() {
  const outsideHits = new Map();
  const outside = createServer((req, res) => {
    const token = new URL(req.url, 'http://x').pathname.split('/').pop();
    outsideHits.set(token, (outsideHits.get(token) ?? 0) + 1);
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<title>Outside</title><meta name="theme-color" content="#ff0000">');
  });
  const outsidePort = await listen(outside);

  const sites = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/away') {
      const token = url.searchParams.get('token') ?? 'none';
      return res.writeHead(302, { Location: `http://127.0.0.1:${outsidePort}/stolen/${token}` }).end();
    }
    if (url.pathname === '/_outside') {
      const hits = outsideHits.get(url.searchParams.get('token') ?? '') ?? 0;
      return res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ hits }));
    }
    if (url.pathname === '/huge/') {
      return res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<title>Huge</title>${'<p>padding</p>'.repeat(150_000)}`);
    }
    if (url.pathname === '/slow/') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.write('<title>Slow');
      const timer = setTimeout(() => res.end('</title>'), 30_000);
      timer.unref();
      return undefined;
    }
    if (url.pathname.endsWith('/logo.png')) return res.writeHead(200, { 'Content-Type': 'image/png' }).end(LOGO);
    const path = normalize(url.pathname.endsWith('/') ? `${url.pathname}index.html` : url.pathname);
    if (path.includes('..')) return res.writeHead(404).end();
    try {
      const body = await readFile(join(FIXTURES, path));
      const type = TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type }).end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  const port = await listen(sites);
  return {
    base: `http://127.0.0.1:${port}`,
    /** What the worker's WEBSITE_IMPORT_ALLOW_HOSTS lists: this server only. */
    host: `127.0.0.1:${port}`,
    outside: `http://127.0.0.1:${outsidePort}`,
    close: () => {
      sites.closeAllConnections();
      return Promise.all([new Promise((r) => sites.close(r)), new Promise((r) => outside.close(r))]);
    },
  };
}

/** How many requests for `token` reached the outside (not allowed) server. */
export async function outsideHits(sitesBase, token) {
  const res = await fetch(`${sitesBase}/_outside?token=${encodeURIComponent(token)}`);
  return (await res.json()).hits;
}
