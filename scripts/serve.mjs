// Serves the app for `npm start`: starts the local stand-ins for third parties that are
// not configured in the environment, then `wrangler dev` pointed at them.
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { cronSchedules, cronMatches, scheduleEveryMinute } from './cron.mjs';
import { startEmailStandin } from './standins/email.mjs';
import { startInferenceStandin } from './standins/inference.mjs';
import { startNeonGateway } from './standins/neon-gateway.mjs';
import { startStripeStandin } from './standins/stripe.mjs';
import { startSentryStandin } from './standins/sentry.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = process.env.PORT ?? '8787';

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => resolve(p)); });
});

// Emailed links point back at this server unless APP_BASE_URL says otherwise
// (wrangler.toml sets the production origin).
const vars = { ENVIRONMENT: 'development', APP_BASE_URL: `http://127.0.0.1:${port}` };
// Settings from the environment override the defaults (and the stand-ins).
for (const key of ['EMAIL_API_BASE', 'EMAIL_API_KEY', 'EMAIL_FROM', 'APP_BASE_URL', 'SESSION_IDLE_SECONDS',
  'SESSION_ABSOLUTE_SECONDS', 'AUTH_THROTTLE_WINDOW_SECONDS', 'MAX_JSON_BODY_BYTES', 'INFERENCE_BASE_URL', 'INFERENCE_API_KEY',
  'TEXT_MODEL', 'IMAGE_MODEL', 'MODERATION_MODEL', 'UPLOAD_MAX_BYTES', 'STORAGE_QUOTA_BYTES', 'STARTER_CREDITS',
  'INFERENCE_TIMEOUT_SECONDS', 'DATABASE_URL', 'NEON_HTTP_ENDPOINT', 'STRIPE_API_BASE', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'CREDIT_PACKS',
  'SENTRY_DSN', 'SENTRY_ENVIRONMENT', 'WEBSITE_IMPORT_ALLOW_HOSTS',
  'ACCOUNT_DELETION_GRACE_SECONDS', 'RETENTION_RUN_BUDGET', 'EXPORT_TTL_SECONDS']) {
  if (process.env[key]) vars[key] = process.env[key];
}
const notes = [];
if (!process.env.EMAIL_API_BASE) {
  const email = await startEmailStandin({ apiKey: process.env.EMAIL_API_KEY ?? 'dev-email-key' });
  Object.assign(vars, { EMAIL_API_BASE: email.base, EMAIL_API_KEY: email.apiKey, DEV_MAILBOX_URL: `${email.base}/` });
  notes.push(`email stand-in (Resend API) and mailbox: ${email.base}/`);
}

if (!process.env.INFERENCE_BASE_URL) {
  const inference = await startInferenceStandin();
  Object.assign(vars, { INFERENCE_BASE_URL: inference.base, INFERENCE_API_KEY: 'dev-inference-key', MODERATION_MODEL: 'omni-moderation-latest' });
  notes.push(`inference stand-in (OpenAI-compatible API): ${inference.base}`);
}

// Neon mode on a PostgreSQL of this machine (npm run start:neon, or DATABASE_URL naming
// localhost): Neon's HTTP protocol in front of it. A remote DATABASE_URL (Neon itself)
// is reached at the host the worker derives from it.
const localDatabase = (() => {
  try { return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(process.env.DATABASE_URL).hostname); } catch { return false; }
})();
if ((process.env.BLIMARI_NEON_GATEWAY || localDatabase) && !process.env.NEON_HTTP_ENDPOINT) {
  const gateway = await startNeonGateway();
  vars.NEON_HTTP_ENDPOINT = gateway.url;
  notes.push(`Neon HTTP gateway onto the local PostgreSQL: ${gateway.url}`);
}

if (!process.env.STRIPE_API_BASE) {
  // Honours the keys from the environment, so the worker and the stand-in agree.
  const stripe = await startStripeStandin({
    secretKey: process.env.STRIPE_SECRET_KEY || undefined,
    webhookSecret: process.env.STRIPE_WEBHOOK_SECRET || undefined,
    webhookUrl: `${vars.APP_BASE_URL}/api/webhooks/stripe`,
  });
  Object.assign(vars, { STRIPE_API_BASE: stripe.base, STRIPE_SECRET_KEY: stripe.secretKey, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret });
  notes.push(`Stripe stand-in (Checkout, webhooks to /api/webhooks/stripe): ${stripe.base}`);
}

// G1: errors go to the Sentry of SENTRY_DSN, or else to a local stand-in that keeps them.
if (!process.env.SENTRY_DSN) {
  const sentry = await startSentryStandin();
  vars.SENTRY_DSN = sentry.dsn;
  notes.push(`Sentry stand-in (envelope endpoint; received events listed): ${sentry.base}/`);
}

const args = [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', port,
  '--inspector-port', String(await freePort()), '--test-scheduled'];
for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);

console.log(`\nBlimari: http://127.0.0.1:${port}`);
for (const n of notes) console.log(`  ${n}`);
console.log('');
const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// Local wrangler dev never fires cron triggers by itself; production does. Fire each
// schedule of wrangler.toml when it falls due, so a local run sweeps and purges too.
const crons = cronSchedules(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
console.log(`  cron triggers fired on schedule: ${crons.join(', ')}`);
scheduleEveryMinute(async (now) => {
  for (const cron of crons.filter((c) => cronMatches(c, now))) {
    try {
      await fetch(`http://127.0.0.1:${port}/__scheduled?cron=${encodeURIComponent(cron)}`);
    } catch { /* the server is still starting or stopping; the next minute tries again */ }
  }
});
