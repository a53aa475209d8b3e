// A local stand-in for an OpenAI-compatible inference API, so the worker's real client
// runs in `npm start` and the tests.
//
//   POST /v1/chat/completions   deterministic text that uses the brand from the system prompt
//                               (the website import's analysis: JSON voice, tone, audience)
//   POST /v1/images/generations a real PNG in the brand colours named in the prompt (b64_json)
//   POST /v1/images/edits       the same, from a multipart request with image[] parts
//   POST /v1/moderations        flags input containing "#flag" or "violence"
//
// Behaviour for tests, by marker in the user's request text:
//   #fail-permanent      400, as a provider refusing the request
//   #fail-transient-N    503 for the first N calls with that request, then success
//   #malformed           200 with a body that is not the API's shape
//   #timeout-N           the first N calls with that request hang for 120 s (a timeout)
//   #latency-N           every call with that request answers after N ms (npm run bench)
//   #flaky-P             P % of the calls with that request answer 503 or 429
//   #paint-RRGGBB        images in that colour (repeat for stripes) instead of the brand's
// and globally by POST /_control {"latency_ms":0,"failure_rate":0.2}: that share of
// all calls answers 503 or 429. GET /_stats counts calls by endpoint;
// GET /_stats?text=T counts only the calls whose request text contains T (so tests that
// share one stand-in can each count their own calls).
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { makePng } from './png.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const hexToRgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

/** The request text the worker fences between <<<REQUEST>>> and <<<END REQUEST>>>. */
const requestText = (s) => (s.match(/<<<REQUEST>>>\s*([\s\S]*?)\s*<<<END REQUEST>>>/) ?? [null, s])[1];

export function startInferenceStandin({ port = 0, apiKey = null } = {}) {
  const control = { latency_ms: 0, failure_rate: 0 };
  const stats = { chat: 0, images: 0, edits: 0, moderations: 0, failures: 0 };
  const transientSeen = new Map();
  /** Every call's endpoint and request text, for GET /_stats?text=. */
  const calls = [];
  const record = (endpoint, text) => { stats[endpoint]++; calls.push({ endpoint, text }); };

  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const error = (res, status, message, type = 'invalid_request_error') => send(res, status, { error: { message, type, code: null } });

  /** Applies markers and the global failure rate; true when it answered already. */
  async function misbehave(res, text) {
    if (control.latency_ms) await sleep(control.latency_ms);
    const slow = text.match(/#latency-(\d+)/);
    if (slow) await sleep(Number(slow[1]));
    const t = text.match(/#timeout-(\d+)/);
    if (t) {
      const key = `timeout:${text}`;
      const seen = transientSeen.get(key) ?? 0;
      transientSeen.set(key, seen + 1);
      if (seen < Number(t[1])) { await sleep(120_000); return true; }
    }
    if (text.includes('#fail-permanent')) { stats.failures++; error(res, 400, 'The request was refused.'); return true; }
    const m = text.match(/#fail-transient-(\d+)/);
    if (m) {
      const seen = transientSeen.get(text) ?? 0;
      transientSeen.set(text, seen + 1);
      if (seen < Number(m[1])) { stats.failures++; error(res, 503, 'Overloaded, try again.', 'server_error'); return true; }
    }
    if (text.includes('#malformed')) { send(res, 200, '{"choices": "not what you expected"'); return true; }
    const flaky = text.match(/#flaky-(\d+)/);
    const failureRate = flaky ? Number(flaky[1]) / 100 : control.failure_rate;
    if (failureRate && Math.random() < failureRate) {
      stats.failures++;
      if (Math.random() < 0.5) error(res, 429, 'Rate limited.', 'rate_limit_error'); else error(res, 503, 'Overloaded.', 'server_error');
      return true;
    }
    return false;
  }

  function image(prompt, size) {
    const painted = [...requestText(prompt).matchAll(/#paint-([0-9a-fA-F]{6})\b/g)].map((m) => hexToRgb(`#${m[1]}`));
    const colours = painted.length ? painted : [...new Set(prompt.match(/#[0-9a-fA-F]{6}\b/g) ?? [])].map(hexToRgb);
    const [w, h] = (size ?? '1024x1024').split('x').map((n) => Math.max(16, Math.round(Number(n) / 4)));
    return makePng(w, h, { stripes: colours.length ? colours : [[79, 70, 229], [240, 240, 245]] }).toString('base64');
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      if (req.method === 'POST' && url.pathname === '/_control') {
        Object.assign(control, JSON.parse((await readBody(req)).toString() || '{}'));
        return send(res, 200, control);
      }
      if (req.method === 'GET' && url.pathname === '/_stats') {
        const text = url.searchParams.get('text');
        if (text === null) return send(res, 200, stats);
        const counts = { chat: 0, images: 0, edits: 0, moderations: 0 };
        for (const c of calls) if (c.text.includes(text)) counts[c.endpoint]++;
        return send(res, 200, counts);
      }
      if (apiKey && req.headers.authorization !== `Bearer ${apiKey}`) return error(res, 401, 'Incorrect API key provided.');
      const raw = await readBody(req);

      if (req.method === 'POST' && url.pathname === '/v1/chat/completions') {
        let body;
        try { body = JSON.parse(raw.toString()); } catch { record('chat', ''); return error(res, 400, 'Invalid JSON.'); }
        const messages = Array.isArray(body.messages) ? body.messages : [];
        const system = messages.find((m) => m.role === 'system')?.content ?? '';
        const user = messages.find((m) => m.role === 'user')?.content ?? '';
        const request = requestText(user);
        record('chat', request);
        if (!Array.isArray(body.messages) || !body.model) return error(res, 400, 'model and messages are required.');
        if (await misbehave(res, request)) return;
        if (system.includes('brand strategist')) {
          // The website import (B5) asks for voice, tone and audience as JSON.
          const site = (user.match(/^Website name: (.*)$/m) ?? [null, ''])[1].trim() || 'this site';
          const first = (user.match(/^- (.*)$/m) ?? [null, ''])[1].trim().slice(0, 80);
          const analysis = {
            voice: `Warm and plain-spoken, as ${site} writes.`,
            tone: 'Friendly and unhurried.',
            audience: first ? `People drawn to "${first}".` : 'People who visit the site.',
          };
          const text = `Here is the analysis:\n${JSON.stringify(analysis)}`;
          return send(res, 200, {
            id: `chatcmpl-${Date.now()}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
            usage: { prompt_tokens: Math.ceil((system.length + user.length) / 4), completion_tokens: Math.ceil(text.length / 4), total_tokens: 0 },
          });
        }
        const brand = (system.match(/for the brand "([^"]+)"/) ?? [null, 'your brand'])[1];
        const use = (system.match(/Use these words where natural: ([^.;]+)/) ?? [null, ''])[1].trim();
        const text = `${brand}: ${request.replace(/#[\w-]+/g, '').trim()}${use ? ` — ${use}` : ''}.`.slice(0, 270);
        return send(res, 200, {
          id: `chatcmpl-${Date.now()}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: Math.ceil((system.length + user.length) / 4), completion_tokens: Math.ceil(text.length / 4), total_tokens: 0 },
        });
      }
      if (req.method === 'POST' && url.pathname === '/v1/images/generations') {
        let body;
        try { body = JSON.parse(raw.toString()); } catch { record('images', ''); return error(res, 400, 'Invalid JSON.'); }
        record('images', requestText(String(body.prompt ?? '')));
        if (!body.prompt) return error(res, 400, 'prompt is required.');
        if (await misbehave(res, requestText(body.prompt))) return;
        return send(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ b64_json: image(body.prompt, body.size) }] });
      }
      if (req.method === 'POST' && url.pathname === '/v1/images/edits') {
        const text = raw.toString('latin1');
        const prompt = (text.match(/name="prompt"\r\n\r\n([\s\S]*?)\r\n--/) ?? [null, ''])[1];
        record('edits', requestText(Buffer.from(prompt, 'latin1').toString('utf8')));
        if (!/multipart\/form-data/.test(req.headers['content-type'] ?? '')) return error(res, 400, 'Send multipart/form-data.');
        const images = (text.match(/name="image\[\]"/g) ?? []).length;
        if (!images) return error(res, 400, 'At least one image[] is required.');
        const size = (text.match(/name="size"\r\n\r\n([\s\S]*?)\r\n--/) ?? [null, '1024x1024'])[1];
        if (await misbehave(res, requestText(prompt))) return;
        return send(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ b64_json: image(prompt, size) }] });
      }
      if (req.method === 'POST' && url.pathname === '/v1/moderations') {
        const body = JSON.parse(raw.toString() || '{}');
        const input = String(body.input ?? '');
        record('moderations', input);
        const violence = /#flag|violence/i.test(input);
        return send(res, 200, { id: `modr-${Date.now()}`, model: body.model, results: [{ flagged: violence, categories: { violence }, category_scores: { violence: violence ? 0.99 : 0.01 } }] });
      }
      return error(res, 404, `Unknown path ${url.pathname}`);
    } catch (e) {
      return error(res, 500, e.message, 'server_error');
    }
  });
  // Node closes a kept-alive connection after 5 s idle by default; workerd may send the
  // next call on it just as it closes, and that call fails. Keep idle connections longer.
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({
        base,
        stats,
        setControl: async (c) => { Object.assign(control, c); },
        close: () => { server.closeAllConnections?.(); return new Promise((r) => server.close(r)); },
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const standin = await startInferenceStandin({ port: Number(process.argv[2] ?? 0) });
  console.log(standin.base);
}
