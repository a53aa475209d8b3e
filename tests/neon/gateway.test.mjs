// The local Neon gateway speaks Neon's SQL-over-HTTP protocol: Neon's own driver
// (`@neondatabase/serverless`, `neon()` and `transaction()`) runs against it on a real
// PostgreSQL, and the translated migrations build the same schema there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { neon, neonConfig } from '@neondatabase/serverless';
import { startPostgres } from './postgres.mjs';
import { startNeonGateway } from '../../scripts/standins/neon-gateway.mjs';
import { applyPostgres, migrationFiles } from '../../scripts/migrate.mjs';

let postgres, gateway, sql;

before(async () => {
  postgres = startPostgres();
  gateway = await startNeonGateway();
  neonConfig.fetchEndpoint = gateway.url;
  sql = neon(postgres.url);
  await sql.query('CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0), label TEXT, CONSTRAINT things_label_key UNIQUE (label))');
});

after(async () => {
  await gateway?.close();
  postgres?.stop();
});

test('a query answers rows as objects, typed by the driver from the field types', async () => {
  const rows = await sql`SELECT 1::int AS one, 'two'::text AS two, true AS yes, NULL::text AS nothing`;
  assert.deepEqual(rows, [{ one: 1, two: 'two', yes: true, nothing: null }]);
});

test('parameters of every type round-trip', async () => {
  const big = '9007199254740993'; // 2^53 + 1: exact only as text
  const [row] = await sql.query(
    'SELECT $1::int AS i, $2::bigint AS b, $3::text AS t, $4::text AS z, $5::bool AS f, $6::text AS u, $7::float8 AS r',
    [42, big, 'plain', null, false, 'Zoë — 東京 ✓ 🎨', 0.25],
  );
  assert.deepEqual(row, { i: 42, b: big, t: 'plain', z: null, f: false, u: 'Zoë — 東京 ✓ 🎨', r: 0.25 });
  const tagged = await sql`SELECT ${'🎨'} || ${'x'} AS s, ${7} + 1 AS n`;
  assert.deepEqual(tagged, [{ s: '🎨x', n: 8 }]);
});

test('full results carry the command, the row count and the fields', async () => {
  const r = await sql.query("INSERT INTO things (id, n, label) VALUES ('a', 1, 'first'), ('b', 2, NULL)", [], { fullResults: true });
  assert.equal(r.command, 'INSERT');
  assert.equal(r.rowCount, 2);
  const s = await sql.query('SELECT id, n FROM things ORDER BY id', [], { fullResults: true, arrayMode: true });
  assert.deepEqual(s.rows, [['a', '1'], ['b', '2']]); // int8 stays text, as pg does
  assert.deepEqual(s.fields.map((f) => [f.name, f.dataTypeID]), [['id', 25], ['n', 20]]);
});

test('a unique violation is error 23505 naming its constraint', async () => {
  await assert.rejects(sql`INSERT INTO things (id, n, label) VALUES ('c', 1, 'first')`, (e) => {
    assert.equal(e.name, 'NeonDbError');
    assert.equal(e.code, '23505');
    assert.equal(e.constraint, 'things_label_key');
    assert.equal(e.table, 'things');
    assert.match(e.detail, /Key \(label\)/);
    return true;
  });
});

test('check violations and syntax errors come back as Postgres errors', async () => {
  await assert.rejects(sql`UPDATE things SET n = n - 5 WHERE id = 'a'`, { code: '23514', constraint: 'things_n_check' });
  await assert.rejects(sql.query('SELEC 1'), { code: '42601' });
  await assert.rejects(sql.query('SELECT $1 IS NULL', [null]), { code: '42P18' }); // as on Neon: untyped parameters
});

test('a transaction returns one result per query', async () => {
  const [a, b] = await sql.transaction([
    sql`UPDATE things SET n = n + 1 WHERE id = 'a'`,
    sql`SELECT n FROM things WHERE id = 'a'`,
  ], { isolationLevel: 'ReadCommitted' });
  assert.deepEqual(a, []);
  assert.deepEqual(b, [{ n: '2' }]);
  assert.equal(gateway.requests.at(-1).isolation, 'ReadCommitted');
  assert.equal(gateway.requests.at(-1).batch, true);
});

test('a failing statement rolls the whole transaction back', async () => {
  await assert.rejects(
    sql.transaction([
      sql`UPDATE things SET n = n + 100 WHERE id = 'a'`,
      sql`INSERT INTO things (id, n, label) VALUES ('d', 1, 'new')`,
      sql`INSERT INTO things (id, n, label) VALUES ('e', 1, 'first')`,
    ]),
    { code: '23505' },
  );
  assert.deepEqual(await sql`SELECT n FROM things WHERE id = 'a'`, [{ n: '2' }]);
  assert.deepEqual(await sql`SELECT id FROM things WHERE id IN ('d', 'e')`, []);
});

test('every isolation level and read-only transactions are honoured', async () => {
  for (const isolationLevel of ['Serializable', 'RepeatableRead', 'ReadCommitted', 'ReadUncommitted']) {
    const [[row]] = await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel });
    assert.equal(row.transaction_isolation, isolationLevel.replace(/([a-z])([A-Z])/, '$1 $2').toLowerCase());
  }
  await assert.rejects(sql.transaction([sql`DELETE FROM things`], { readOnly: true }), { code: '25006' });
});

test('concurrent conditional updates never overdraw (READ COMMITTED re-checks the newest row)', async () => {
  await sql`INSERT INTO things (id, n) VALUES ('pot', 10)`;
  const spend = () => sql.transaction([sql`UPDATE things SET n = n - 1 WHERE id = 'pot'`, sql`SELECT n FROM things WHERE id = 'pot'`], { isolationLevel: 'ReadCommitted' });
  const outcomes = await Promise.allSettled(Array.from({ length: 25 }, spend));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 10);
  assert.ok(outcomes.filter((o) => o.status === 'rejected').every((o) => o.reason.code === '23514'));
  assert.deepEqual(await sql`SELECT n FROM things WHERE id = 'pot'`, [{ n: '0' }]);
});

test('requests without a connection string or with a bad body are refused with a message', async () => {
  const post = (headers, body) => fetch(gateway.url, { method: 'POST', headers, body }).then(async (r) => [r.status, await r.json()]);
  assert.deepEqual((await post({}, '{"query":"SELECT 1"}'))[0], 400);
  const [status, body] = await post({ 'Neon-Connection-String': postgres.url }, '{');
  assert.equal(status, 400);
  assert.match(body.message, /not JSON/);
});

test('raw text output in array mode is what the worker asks for', async () => {
  const r = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'Neon-Connection-String': postgres.url, 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' },
    body: JSON.stringify({ query: 'SELECT $1::int8 AS n, true AS b, NULL::text AS z', params: ['1700000000000'] }),
  });
  const body = await r.json();
  assert.deepEqual(body.rows, [['1700000000000', 't', null]]);
  assert.deepEqual(body.fields.map((f) => f.dataTypeID), [20, 16, 25]);
  assert.equal(body.command, 'SELECT');
});

test('the translated migrations build the schema, recorded like wrangler records them', async () => {
  const files = migrationFiles();
  assert.deepEqual(await applyPostgres(postgres.url), files);
  assert.deepEqual(await applyPostgres(postgres.url), [], 'a second run applies nothing');
  const latest = Number(files.at(-1).split('_')[0]);
  assert.deepEqual(await sql`SELECT version FROM schema_version`, [{ version: String(latest) }]);
  assert.deepEqual((await sql`SELECT name FROM d1_migrations ORDER BY id`).map((r) => r.name), files);
  const columns = await sql`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'credit_accounts' ORDER BY ordinal_position`;
  assert.deepEqual(columns, [
    { column_name: 'user_id', data_type: 'text' },
    { column_name: 'balance', data_type: 'bigint' },
    { column_name: 'held', data_type: 'bigint' },
    { column_name: 'debt', data_type: 'bigint' },
    { column_name: 'updated_at', data_type: 'bigint' },
  ]);
  const favorite = await sql`SELECT data_type, column_default FROM information_schema.columns WHERE table_name = 'generation_jobs' AND column_name = 'favorite'`;
  assert.deepEqual(favorite, [{ data_type: 'bigint', column_default: '0' }]);
  const constraints = (await sql`SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_entries'::regclass ORDER BY conname`).map((r) => r.conname);
  assert.ok(constraints.includes('ledger_entries_reference_key'), constraints.join());
  // Epoch milliseconds need 64 bits.
  await sql`INSERT INTO cron_runs (id, task, cron, started_at, finished_at, outcome, detail) VALUES ('r', 't', '* * * * *', 1700000000000, 1700000000001, 'ok', '')`;
});
