// Starts a throwaway PostgreSQL for a test file through scripts/postgres.sh (the one way
// the scripts start it), and stops it after.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'postgres.sh');

export function startPostgres() {
  // The script creates the folder (owned by `postgres` when run as root).
  const dir = join(tmpdir(), `blimari-pg-${randomUUID()}`);
  const out = execFileSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const url = /DATABASE_URL=(\S+)/.exec(out)[1];
  return {
    url,
    stop: () => execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'inherit' }),
  };
}
