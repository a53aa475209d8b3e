// Where to go after signing in: a path of this site only. The URL parser decides, as the
// browser will: it reads `/\evil.example` and `/<tab>/evil.example` as another host.
export function safeNext(raw, origin) {
  if (typeof raw === 'string' && raw.startsWith('/')) {
    try {
      const url = new URL(raw, origin);
      if (url.origin === origin) return url.pathname + url.search + url.hash;
    } catch { /* not a URL at all */ }
  }
  return '/dashboard';
}
