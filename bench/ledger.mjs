// bench/ledger: listing a tenant's messages when the ledger is large.
//
// Seeds one tenant with N messages (1,000,000 by default) in bulk (one INSERT … SELECT over a
// generated series), on SQLite and on PostgreSQL (skipped when TEST_DATABASE_URL /
// postgres://postgres@127.0.0.1:5432/test does not answer), starts the built gateway on that store and times
// `GET /v1/messages?page=1`, the last page, page 30,000 and a `?after=` cursor deep in the ledger,
// one request at a time (HTTP included, as a client sees it). Beside them, the queries the
// gateway ran before (COUNT(*) for the page block, OFFSET for the page) on the same data, so a
// noisy machine still shows the difference. Prints a table and a verdict; writes
// bench/results/ledger.json. Usage: npm run bench:ledger [-- --messages 1000000 --repeat 30]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import SQLite from 'better-sqlite3';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { freePort, percentile, root, start } from './lib.mjs';

/**
 * CPU time (user + system, ms) a process has used so far: on a shared, busy machine, a request's
 * CPU cost moves far less than its wall-clock latency.
 */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100/s)
}

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '30' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
  },
});
const N = Number(values.messages);
const REPEAT = Number(values.repeat);
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const { openSqliteDatabase, openPostgresDatabase } = await import(join(root, 'dist', 'store', 'index.js'));

const COLUMNS =
  'id, tenant_id, batch_id, recipient, sender, text, segments, encoding, status, reference, provider_message_id, error, scheduled_at, created_at, updated_at, tenant_seq';

async function seedSqlite(file) {
  const db = await openSqliteDatabase(file); // migrated
  await db.destroy();
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = OFF');
  sqlite.exec(`
    with recursive n(i) as (select 1 union all select i + 1 from n where i < ${N})
    insert into messages (${COLUMNS})
    select printf('msg_%010d', i), 'demo', printf('b-%010d', i), '+61412345678', '', 'Benchmark message',
           1, 'GSM-7', 'sent', null, printf('P-%d', i), null, null,
           strftime('%Y-%m-%dT%H:%M:%fZ', 1764000000 + i / 100.0, 'unixepoch'),
           strftime('%Y-%m-%dT%H:%M:%fZ', 1764000000 + i / 100.0, 'unixepoch'), i
    from n;
    insert into tenant_message_counts (tenant_id, messages) values ('demo', ${N});
    analyze;`);
  sqlite.close();
}

async function seedPostgres(url) {
  const db = await openPostgresDatabase(url);
  await db.destroy();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    insert into messages (${COLUMNS})
    select 'msg_' || lpad(i::text, 10, '0'), 'demo', 'b-' || lpad(i::text, 10, '0'), '+61412345678', '',
           'Benchmark message', 1, 'GSM-7', 'sent', null, 'P-' || i, null, null,
           to_char(to_timestamp(1764000000 + i / 100.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           to_char(to_timestamp(1764000000 + i / 100.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), i
    from generate_series(1, ${N}) as i`);
  await client.query(`insert into tenant_message_counts (tenant_id, messages) values ('demo', ${N})`);
  await client.query('vacuum analyze messages');
  await client.end();
}

/**
 * Milliseconds of `fn`, REPEAT times after 3 warm-ups of its own: median and p90 of wall time, and the CPU
 * time `pid` (the gateway, or this process for the queries run here) spent per call.
 */
async function time(fn, pid = process.pid) {
  for (let i = 0; i < 3; i++) await fn();
  const samples = [];
  const cpu0 = cpuMs(pid);
  for (let i = 0; i < REPEAT; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = round((cpuMs(pid) - cpu0) / REPEAT);
  samples.sort((a, b) => a - b);
  return { median: round(percentile(samples, 50)), p90: round(percentile(samples, 90)), cpu };
}
/** Requests over every measured query before the first series is timed (see measure). */
const WARM_UP = 200;
const round = (ms) => Math.round(ms * 100) / 100;

async function measure(dialect, storeEnv, oldQueries) {
  const gatewayPort = await freePort();
  const sandboxPort = await freePort();
  const sandbox = await start(
    'sandbox/cli.js',
    { SMSGATE_APPKEY: appKey, SANDBOX_PORT: String(sandboxPort), SANDBOX_CALLS_PER_SECOND: '0' },
    `http://127.0.0.1:${sandboxPort}/_sandbox/calls`,
  );
  const gateway = await start(
    'main.js',
    {
      SMSGATE_MODE: 'production',
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      SMSGATE_UPSTREAM_URL: `http://127.0.0.1:${sandboxPort}/api/v3/`,
      SMSGATE_APPKEY: appKey,
      SMSGATE_JWT_SECRET: jwtSecret,
      SMSGATE__http__requireHttps: 'false',
      SMSGATE__tenants__demo__rateLimit: '{requests: 1000000, windowSec: 60}',
      LOG_LEVEL: 'warn',
      ...storeEnv,
    },
    `http://127.0.0.1:${gatewayPort}/readyz`,
  ).catch((error) => {
    sandbox.kill();
    throw error;
  });
  const token = jwt.sign({ tenant: 'demo', scope: 'sms:read:all' }, jwtSecret, {
    algorithm: 'HS256',
    expiresIn: '1h',
  });
  const get = async (query) => {
    const response = await fetch(`http://127.0.0.1:${gatewayPort}/v1/messages?${query}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = await response.json();
    if (response.status !== 200 || body.data.length === 0) {
      throw new Error(`${query}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  const lastPage = Math.ceil(N / 25);
  const deep = Math.min(30_000, lastPage);
  const cursor = `msg_${String(N - (deep - 1) * 25).padStart(10, '0')}`; // the last item of page deep - 1
  try {
    const pid = gateway.pid;
    // A steady state, as a running gateway has: V8 has compiled the request path and the
    // PostgreSQL pool has its connections (opened lazily, several ms each). Without it the first
    // series timed (page 1) paid for both, and read ~0.5-1 ms slower than the deeper pages.
    for (let i = 0; i < WARM_UP; i++) {
      await get(['page=1', `page=${lastPage}`, `page=${deep}`, `after=${cursor}`][i % 4]);
    }
    const rows = [
      ['GET ?page=1', await time(() => get('page=1'), pid), 5],
      [`GET ?page=${lastPage} (last)`, await time(() => get(`page=${lastPage}`), pid), 10],
      [`GET ?page=${deep}`, await time(() => get(`page=${deep}`), pid), 10],
      [`GET ?after= (at page ${deep})`, await time(() => get(`after=${cursor}`), pid), 10],
    ];
    for (const [what, run] of oldQueries) rows.push([what, await time(run), undefined]);
    return rows.map(([what, t, goal]) => ({ dialect, what, ...t, goal }));
  } finally {
    gateway.kill('SIGTERM');
    sandbox.kill('SIGTERM');
  }
}

const results = [];
const dialects = values.dialects.split(',');
const dataDir = mkdtempSync(join(tmpdir(), 'smsgate-ledger-'));
try {
  if (dialects.includes('sqlite')) {
    const file = join(dataDir, 'ledger.db');
    const t0 = Date.now();
    await seedSqlite(file);
    console.error(`sqlite: ${N} messages seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const sqlite = new SQLite(file, { readonly: true });
    const count = sqlite.prepare(`select count(*) from messages where tenant_id = 'demo'`);
    const offset = sqlite.prepare(
      `select * from messages where tenant_id = 'demo' order by created_at desc, id desc limit 25 offset ?`,
    );
    results.push(
      ...(await measure('sqlite', { SMSGATE_SQLITE_FILE: file }, [
        ['before: COUNT(*) (every page)', () => count.get()],
        ['before: OFFSET page 30,000', () => offset.all(Math.min(29_999, Math.floor(N / 25) - 1) * 25)],
      ])),
    );
    sqlite.close();
  }
  if (dialects.includes('postgres')) {
    const admin = new pg.Client({ connectionString: pgUrl });
    const reachable = await admin.connect().then(
      () => true,
      () => false,
    );
    if (!reachable) console.error(`postgres: ${pgUrl} does not answer; skipped`);
    else {
      const schema = `smsgate_ledger_bench_${process.pid}`;
      await admin.query(`create schema ${schema}`);
      const url = `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      try {
        const t0 = Date.now();
        await seedPostgres(url);
        console.error(`postgres: ${N} messages seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        results.push(
          ...(await measure('postgres', { DATABASE_URL: url }, [
            [
              'before: COUNT(*) (every page)',
              () => client.query(`select count(*) from messages where tenant_id = 'demo'`),
            ],
            [
              'before: OFFSET page 30,000',
              () =>
                client.query(
                  `select * from messages where tenant_id = 'demo' order by created_at desc, id desc limit 25 offset $1`,
                  [Math.min(29_999, Math.floor(N / 25) - 1) * 25],
                ),
            ],
          ])),
        );
        await client.end();
      } finally {
        await admin.query(`drop schema ${schema} cascade`);
      }
    }
    await admin.end().catch(() => undefined);
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

// The verdict is on wall time (the issue's goals); on a busy machine read the CPU column too:
// the gateway's CPU per request (SQLite queries run inside it) is what the wall time would be
// on an idle one.
const pass = results.every((r) => r.goal === undefined || r.median < r.goal);
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
const result = {
  date: new Date().toISOString(),
  node: process.version,
  messages: N,
  repeat: REPEAT,
  loadAverage: load,
  results,
  verdict: pass ? 'PASS' : 'FAIL',
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'ledger.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `| store | what (${N.toLocaleString('en')} messages, one tenant) | median ms | p90 ms | CPU ms per call | goal |\n|---|---|---|---|---|---|`,
);
for (const r of results) {
  console.log(
    `| ${r.dialect} | ${r.what} | ${r.median} | ${r.p90} | ${r.cpu} | ${r.goal === undefined ? '' : `< ${r.goal} ms`} |`,
  );
}
console.log(
  `\nload average ${load}; ${REPEAT} requests each, one at a time; every GET under its goal: ${result.verdict}`,
);
process.exitCode = pass ? 0 : 1;
