// npm run admin -- grant EMAIL | revoke EMAIL [--remote] [--persist-to DIR]
// Gives or takes the admin role (G3), recorded as a security event in that user's
// activity. Local D1 (.wrangler/state, what `npm start` uses) by default; `--remote` for
// the deployed D1 (needs CLOUDFLARE_API_TOKEN). With DATABASE_URL set (Neon, or the
// local PostgreSQL of `npm run start:neon`), the same statements run there, in one
// transaction.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

function usage(message) {
  if (message) console.error(message);
  console.error('usage: npm run admin -- grant|revoke EMAIL [--remote] [--persist-to DIR]');
  process.exit(2);
}

const args = process.argv.slice(2);
const [command, email] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--persist-to');
if (!['grant', 'revoke'].includes(command) || !email) usage();
// The address goes into SQL text (wrangler d1 execute takes no parameters): allow only
// what an address holds, and quote it.
if (!/^[^\s'"\\;]+@[^\s'"\\;]+$/.test(email)) usage(`not an email address: ${email}`);
const remote = args.includes('--remote');
const persistAt = args.indexOf('--persist-to');
const location = remote ? ['--remote'] : ['--local', ...(persistAt >= 0 ? ['--persist-to', args[persistAt + 1]] : [])];

const role = command === 'grant' ? 'admin' : 'user';
const kind = command === 'grant' ? 'admin_role_granted' : 'admin_role_revoked';
const address = email.toLowerCase();
const sql = `INSERT INTO security_events (id, user_id, kind, device, created_at)
  SELECT 'evt_${randomBytes(16).toString('hex')}', id, '${kind}', 'npm run admin', ${Date.now()} FROM users WHERE email = '${address}' AND role <> '${role}';
UPDATE users SET role = '${role}', updated_at = ${Date.now()} WHERE email = '${address}';
SELECT id, email, role FROM users WHERE email = '${address}';`;

if (process.env.DATABASE_URL && !remote) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const now = Date.now();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO security_events (id, user_id, kind, device, created_at)
      SELECT $1::text, id, $2::text, 'npm run admin', $3::bigint FROM users WHERE email = $4::text AND role <> $5::text`,
    [`evt_${randomBytes(16).toString('hex')}`, kind, now, address, role]);
    await client.query('UPDATE users SET role = $1::text, updated_at = $2::bigint WHERE email = $3::text', [role, now, address]);
    const { rows } = await client.query('SELECT id, email, role FROM users WHERE email = $1::text', [address]);
    await client.query('COMMIT');
    if (!rows.length) {
      console.error(`No account has the address ${address} in the database at DATABASE_URL.`);
      process.exit(1);
    }
    console.log(`${rows[0].email} (${rows[0].id}) is now ${rows[0].role === 'admin' ? 'an admin' : 'not an admin'}.`);
    process.exit(0);
  } finally {
    await client.end();
  }
}

// A running local worker (`npm start`, the tests' shared worker) can hold the local D1's
// SQLite file for a moment: SQLITE_BUSY. The statements run as one batch, so nothing was
// applied; try again a few times before giving up.
const run = (extra) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return execFileSync(process.execPath, [WRANGLER, 'd1', 'execute', 'DB', ...location, '--json', ...extra], {
        cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'inherit'],
      }).toString();
    } catch (e) {
      if (remote || attempt >= 5 || !String(e.stdout ?? '').includes('SQLITE_BUSY')) throw e;
      execFileSync('sleep', [String(0.2 * attempt)]);
    }
  }
};
const results = JSON.parse(run(['--command', sql]));
const rows = results.at(-1)?.results ?? [];
if (!rows.length) {
  console.error(`No account has the address ${address}${remote ? ' in the deployed D1' : ' in the local D1'}.`);
  process.exit(1);
}
console.log(`${rows[0].email} (${rows[0].id}) is now ${rows[0].role === 'admin' ? 'an admin' : 'not an admin'}.`);
