// migrations/*.sql are written for D1 (SQLite); scripts/migrate.mjs translates them for
// Postgres in one place and refuses what it cannot translate faithfully.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPostgres, migrationFiles, MIGRATIONS_DIR } from '../../scripts/migrate.mjs';

test('every D1 migration translates', () => {
  for (const f of migrationFiles()) assert.ok(toPostgres(readFileSync(join(MIGRATIONS_DIR, f), 'utf8'), f).length > 0);
});

test('integer columns become 64-bit, as SQLite integers are', () => {
  assert.equal(toPostgres('CREATE TABLE t (a INTEGER NOT NULL, b integer, c REAL, d BLOB, e TEXT)'),
    'CREATE TABLE t (a BIGINT NOT NULL, b BIGINT, c DOUBLE PRECISION, d BYTEA, e TEXT)');
});

test('strings, quoted identifiers and comments are left alone', () => {
  const sql = `-- an INTEGER here\nCREATE TABLE "INTEGER" (x TEXT DEFAULT 'INTEGER /* REAL */', y INTEGER) /* BLOB */;`;
  assert.equal(toPostgres(sql), sql.replace('y INTEGER', 'y BIGINT'));
});

test('SQLite-only constructs are refused with the file name', () => {
  for (const sql of [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)',
    'CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)',
    'INSERT OR IGNORE INTO t VALUES (1)',
    'CREATE TABLE t (x TEXT) WITHOUT ROWID',
    "SELECT datetime('now')",
    'PRAGMA foreign_keys = ON',
    'SELECT `x` FROM t',
  ]) {
    assert.throws(() => toPostgres(sql, '0099_x.sql'), /0099_x\.sql|identifiers/, sql);
  }
});
