// Applies migrations/*.sql, the one source of truth for the schema, to either backend:
//
//   npm run migrate                  D1: `wrangler d1 migrations apply DB --local` (extra
//                                    arguments, such as --persist-to DIR, are passed on)
//   npm run migrate -- --neon        Postgres (Neon, or the local one) at $DATABASE_URL
//   npm run migrate -- --neon --print   prints the Postgres translation, applies nothing
//
// The files are written for SQLite (D1). Every dialect difference is handled here, in
// `toPostgres`, and anything it cannot translate faithfully is refused with the file's
// name rather than guessed at. Applied migrations are recorded as wrangler records them
// on D1, in `d1_migrations (id, name, applied_at)`, and each file sets `schema_version`
// itself, so `/api/health` reports the same version on both backends.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MIGRATIONS_DIR = join(ROOT, 'migrations');

// SQLite types whose Postgres namesakes differ. SQLite's INTEGER holds 64 bits (epoch
// milliseconds need more than 32), REAL is a double, BLOB is bytes.
const TYPES = new Map([
  ['INTEGER', 'BIGINT'],
  ['INT', 'BIGINT'],
  ['REAL', 'DOUBLE PRECISION'],
  ['BLOB', 'BYTEA'],
]);

// Words that mean something else, or nothing, on Postgres. The SQL in src/ avoids them
// too (docs/ARCHITECTURE.md: portable SQL).
const REFUSED = new Map([
  ['AUTOINCREMENT', 'AUTOINCREMENT (use text ids)'],
  ['PRAGMA', 'PRAGMA'],
  ['ROWID', 'rowid'],
  ['STRICT', 'STRICT tables'],
  ['GLOB', 'GLOB'],
  ['REPLACE', 'REPLACE / INSERT OR REPLACE (use ON CONFLICT … DO UPDATE)'],
  ['IFNULL', 'ifnull() (use COALESCE)'],
  ['DATETIME', 'datetime() (store epoch milliseconds)'],
  ['STRFTIME', 'strftime() (store epoch milliseconds)'],
  ['JULIANDAY', 'julianday() (store epoch milliseconds)'],
  ['UNIXEPOCH', 'unixepoch() (store epoch milliseconds)'],
  ['GROUP_CONCAT', 'group_concat()'],
  ['LAST_INSERT_ROWID', 'last_insert_rowid()'],
  ['CHANGES', 'changes()'],
]);

/** Splits SQL into tokens: words, quoted strings and identifiers, comments, the rest. */
export function tokens(sql) {
  const out = [];
  let i = 0;
  const take = (kind, end) => { out.push({ kind, text: sql.slice(i, end) }); i = end; };
  while (i < sql.length) {
    const c = sql[i];
    const rest = sql.slice(i);
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      take(c === "'" ? 'string' : 'identifier', Math.min(j + 1, sql.length));
    } else if (c === '`' || c === '[') {
      throw new Error(`${c === '`' ? 'backquoted' : 'bracketed'} identifiers are SQLite-only (use "double quotes")`);
    } else if (rest.startsWith('--')) {
      const nl = sql.indexOf('\n', i);
      take('comment', nl < 0 ? sql.length : nl);
    } else if (rest.startsWith('/*')) {
      const end = sql.indexOf('*/', i + 2);
      take('comment', end < 0 ? sql.length : end + 2);
    } else if (/[A-Za-z_]/.test(c)) {
      take('word', i + /^[A-Za-z_][A-Za-z0-9_$]*/.exec(rest)[0].length);
    } else {
      take('other', i + 1);
    }
  }
  return out;
}

/** The Postgres form of one SQLite migration; throws on what it cannot translate. */
export function toPostgres(sql, name = 'migration') {
  const toks = tokens(sql);
  const words = toks.map((t, index) => ({ ...t, index })).filter((t) => t.kind === 'word');
  words.forEach((w, k) => {
    const upper = w.text.toUpperCase();
    const next = (n) => words[k + n]?.text.toUpperCase();
    const refuse = (what) => { throw new Error(`${name}: ${what} is not portable to Postgres`); };
    if (REFUSED.has(upper)) refuse(REFUSED.get(upper));
    if (upper === 'INSERT' && next(1) === 'OR') refuse('INSERT OR …');
    if (upper === 'WITHOUT' && next(1) === 'ROWID') refuse('WITHOUT ROWID');
    // In SQLite an INTEGER PRIMARY KEY is the rowid and numbers itself; a BIGINT does not.
    if (TYPES.has(upper) && upper.startsWith('INT') && next(1) === 'PRIMARY') refuse('INTEGER PRIMARY KEY (a rowid alias)');
    if (TYPES.has(upper)) toks[w.index] = { kind: 'word', text: TYPES.get(upper) };
  });
  return toks.map((t) => t.text).join('');
}

export function migrationFiles(dir = MIGRATIONS_DIR) {
  return readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
}

/**
 * Applies every migration not yet recorded to the Postgres database at
 * `connectionString`, each in its own transaction with its record; a second migrator
 * waits on an advisory lock. Returns the names it applied.
 */
export async function applyPostgres(connectionString, { dir = MIGRATIONS_DIR, log = () => {} } = {}) {
  const files = migrationFiles(dir);
  // Translate everything before touching the database: a refusal applies nothing.
  const translated = files.map((f) => [f, toPostgres(readFileSync(join(dir, f), 'utf8'), f)]);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied = [];
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS d1_migrations (
      id SERIAL PRIMARY KEY,
      name TEXT UNIQUE,
      applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`);
    for (const [name, sql] of translated) {
      await client.query('BEGIN');
      try {
        await client.query("SELECT pg_advisory_xact_lock(hashtext('blimari migrations'))");
        const done = await client.query('SELECT 1 FROM d1_migrations WHERE name = $1', [name]);
        if (done.rowCount === 0) {
          await client.query(sql);
          await client.query('INSERT INTO d1_migrations (name) VALUES ($1)', [name]);
          applied.push(name);
          log(`applied ${name}`);
        }
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`${name}: ${e.message}`, { cause: e });
      }
    }
  } finally {
    await client.end();
  }
  return applied;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  try {
    if (args.includes('--neon')) {
      if (args.includes('--print')) {
        for (const f of migrationFiles()) {
          process.stdout.write(`-- ${f}\n${toPostgres(readFileSync(join(MIGRATIONS_DIR, f), 'utf8'), f)}\n`);
        }
      } else {
        const url = process.env.DATABASE_URL;
        if (!url) throw new Error('set DATABASE_URL to the Postgres connection string (postgres://user:password@host/db)');
        const applied = await applyPostgres(url, { log: (line) => console.log(line) });
        console.log(applied.length ? `${applied.length} migration(s) applied` : 'no migrations to apply');
      }
    } else {
      const wrangler = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
      const r = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      });
      process.exitCode = r.status ?? 1;
    }
  } catch (e) {
    console.error(`migrate: ${e.message}`);
    process.exitCode = 1;
  }
}
