// A local stand-in for Neon's SQL-over-HTTP endpoint, onto a real PostgreSQL, so the
// worker's Neon adapter (and Neon's own driver) run unchanged against the local database.
//
//   POST /sql   headers  Neon-Connection-String: postgres://user@host:port/db (required;
//                        the database the query runs on), Neon-Raw-Text-Output,
//                        Neon-Array-Mode, and for batches Neon-Batch-Isolation-Level,
//                        Neon-Batch-Read-Only, Neon-Batch-Deferrable
//               body     {"query": "SELECT $1", "params": [...]}           one statement
//                        {"queries": [{"query", "params"}, ...]}           one transaction
//   200  {"command","rowCount","rows","fields":[{"name","dataTypeID",…}],"rowAsArray"}
//        or {"results": [ …one per query… ]}
//   400  Postgres's error fields: {"message","code","severity","detail","constraint",…}
//
// As on Neon, each query is one statement sent with the extended protocol (parameters
// untyped, as text), and a batch is BEGIN … COMMIT on one connection, rolled back whole
// when any statement fails.
//
// Run alone with `node scripts/standins/neon-gateway.mjs [port]`, or import
// `startNeonGateway`.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

const ERROR_FIELDS = ['severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'where',
  'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'line', 'routine'];

const ISOLATION = {
  Serializable: 'SERIALIZABLE',
  RepeatableRead: 'REPEATABLE READ',
  ReadCommitted: 'READ COMMITTED',
  ReadUncommitted: 'READ UNCOMMITTED',
};

const MAX_BODY_BYTES = 10 << 20;

class BadRequest extends Error {}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { reject(new BadRequest('request body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const rawText = { getTypeParser: () => (value) => value };

function checkQuery(q) {
  if (!q || typeof q.query !== 'string') throw new BadRequest('each query needs a "query" string');
  if (q.params !== undefined && !Array.isArray(q.params)) throw new BadRequest('"params" must be an array');
  return q;
}

async function runOne(client, { query, params = [] }, { raw, arrayMode }) {
  const r = await client.query({
    text: query,
    values: params,
    queryMode: 'extended',
    rowMode: arrayMode ? 'array' : undefined,
    types: raw ? rawText : undefined,
  });
  return {
    command: r.command,
    rowCount: r.rowCount,
    rows: r.rows,
    fields: r.fields.map((f) => ({
      name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID, columnID: f.columnID,
      dataTypeSize: f.dataTypeSize, dataTypeModifier: f.dataTypeModifier, format: f.format,
    })),
    rowAsArray: arrayMode,
  };
}

// Neon pools connections in front of Postgres (PgBouncer), so a client never sees "too
// many clients" (53300) or "the database system is starting up" (57P03): a connection
// that Postgres refuses for lack of room is waited for, as a pooler queues its clients.
const WAIT_FOR_ROOM = new Set(['53300', '57P03']);
const CONNECT_PATIENCE_MS = 30_000;

export function startNeonGateway({ port = 0, host = '127.0.0.1', log = () => {} } = {}) {
  const pools = new Map();
  const stats = { connections: 0, peakConnections: 0, waitedForRoom: 0, errors: 0 };
  const pool = (connectionString) => {
    if (!pools.has(connectionString)) {
      // Idle connections are closed soon: each test worker has a database (and so a pool)
      // of its own, and their idle connections together must leave room in Postgres.
      const p = new pg.Pool({ connectionString, max: 20, idleTimeoutMillis: 2_000 });
      p.on('error', () => {}); // an idle connection dropped by the server; the pool replaces it
      p.on('connect', () => { stats.connections++; stats.peakConnections = Math.max(stats.peakConnections, stats.connections); });
      p.on('remove', () => { stats.connections--; });
      pools.set(connectionString, p);
    }
    return pools.get(connectionString);
  };
  const connect = async (connectionString) => {
    const deadline = Date.now() + CONNECT_PATIENCE_MS;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
      try {
        return await pool(connectionString).connect();
      } catch (e) {
        if (!WAIT_FOR_ROOM.has(e.code) || Date.now() + wait > deadline) throw e;
        stats.waitedForRoom++;
        log(`neon-gateway: ${e.code} ${e.message}; waiting ${wait} ms for a connection`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  // What was asked, for tests that check the headers the worker sends.
  const requests = [];

  const server = createServer(async (req, res) => {
    const send = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== 'POST' || new URL(req.url, 'http://x').pathname !== '/sql') {
      return send(404, { message: 'POST /sql is the only endpoint' });
    }
    let client;
    let inTransaction = false;
    try {
      const connectionString = req.headers['neon-connection-string'];
      if (!connectionString) throw new BadRequest('missing the Neon-Connection-String header');
      let body;
      try { body = JSON.parse(await readBody(req)); } catch (e) { throw e instanceof BadRequest ? e : new BadRequest(`body is not JSON: ${e.message}`); }
      const options = {
        raw: req.headers['neon-raw-text-output'] === 'true',
        arrayMode: req.headers['neon-array-mode'] === 'true',
      };
      const batch = Array.isArray(body?.queries);
      const isolationHeader = req.headers['neon-batch-isolation-level'];
      requests.push({ batch, isolation: isolationHeader ?? null, readOnly: req.headers['neon-batch-read-only'] ?? null, ...options });
      if (requests.length > 1000) requests.shift();
      client = await connect(connectionString);
      if (!batch) {
        send(200, await runOne(client, checkQuery(body), options));
      } else {
        const queries = body.queries.map(checkQuery);
        let begin = 'BEGIN';
        if (isolationHeader !== undefined) {
          if (!ISOLATION[isolationHeader]) throw new BadRequest(`unknown Neon-Batch-Isolation-Level ${JSON.stringify(isolationHeader)}`);
          begin += ` ISOLATION LEVEL ${ISOLATION[isolationHeader]}`;
        }
        if (req.headers['neon-batch-read-only'] === 'true') begin += ' READ ONLY';
        if (req.headers['neon-batch-deferrable'] === 'true') begin += ' DEFERRABLE';
        await client.query(begin);
        inTransaction = true;
        const results = [];
        for (const q of queries) results.push(await runOne(client, q, options));
        await client.query('COMMIT');
        inTransaction = false;
        send(200, { results });
      }
    } catch (e) {
      if (inTransaction) await client.query('ROLLBACK').catch(() => {});
      if (e instanceof BadRequest) {
        send(400, { message: e.message });
      } else if (e instanceof pg.DatabaseError) {
        stats.errors++;
        const body = { message: e.message };
        for (const k of ERROR_FIELDS) if (e[k] !== undefined) body[k] = e[k];
        log(`neon-gateway: ${e.code} ${e.message}`);
        send(400, body);
      } else {
        log(`neon-gateway: ${e.stack ?? e}`);
        send(500, { message: `gateway error: ${e.message}` });
      }
    } finally {
      client?.release();
    }
  });

  // Node closes a kept-alive connection after 5 s idle by default; workerd may send the
  // next query on it just as it closes (the inference stand-in met this first).
  server.keepAliveTimeout = 120_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const url = `http://${host}:${server.address().port}/sql`;
      resolve({
        url,
        port: server.address().port,
        requests,
        stats,
        close: async () => {
          const closed = new Promise((r) => server.close(r));
          server.closeAllConnections();
          await closed;
          await Promise.all([...pools.values()].map((p) => p.end()));
        },
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const gateway = await startNeonGateway({ port: Number(process.argv[2] ?? 0), log: (l) => console.error(l) });
  console.log(`neon gateway listening on ${gateway.url}`);
  const stop = () => gateway.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
