// bench/capacity: how many sends per second one node takes when the provider cap is not binding
// (goal: ≥ 3,000 req/s on SQLite, ≥ 2,000 on PostgreSQL, 1 recipient, p99 < 100 ms).
//
// Part 1, the ledger alone (in-process, no HTTP): the store writes of one send (insert the
// message as queued, then record the provider's answer) for 1-recipient sends, one at a time and
// 16 at once (group commit joins concurrent ones), in µs per message.
// Part 2, the whole node: the provider stand-in (bench/provider-stand-in.mjs, cap lifted) and the
// gateway (budget lifted) as separate processes; autocannon sends POST /v1/messages with 1
// recipient as fast as they are answered, on SQLite and on PostgreSQL (skipped when it does not
// answer). The same load on bench/node-floor.mjs gives the floor: what Node.js and the kernel
// cost per send on this machine before any of smsgate's own work. Two more floors stand between it
// and smsgate (bench/express-floor.mjs): the same exchange through Express 5, and through Express
// with smsgate's ledger writes around the call (on the row's store). They show what the framework
// costs, and the least a durable send costs before auth, validation, limits, the budget, metrics
// and logs. Both create each request with the app's prototypes, as smsgate does; one more row is
// Express as `app.listen` runs it, changing them per request (src/http/server-objects.ts).
// Prints a table with the load average beside it, a verdict, and writes bench/results/capacity.json.
// Usage: npm run bench:capacity [-- --duration 10 --connections 32 --dialects sqlite,postgres]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import {
  cpuMs,
  loadSends,
  queuedMessage,
  root,
  startExpressFloor,
  startGatewayBeside,
  startNodeFloor,
  startStandIn,
  stolenSinceStart,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
    writes: { type: 'string', default: '4000' },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const WRITES = Number(values.writes);
const dialects = values.dialects.split(',');
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const GOALS = { sqlite: 3000, postgres: 2000 };
const store = await import(join(root, 'dist', 'store', 'index.js'));

let serial = 0;
function oneMessage() {
  const n = ++serial;
  return queuedMessage({ id: `msg_bench_${process.pid}_${n}`, batchId: `b-bench-${process.pid}-${n}` });
}

/**
 * Wall and CPU µs per message of insert-then-record, `parallel` sends at a time. On SQLite the
 * whole write is this process's CPU; on PostgreSQL the CPU is the client's share only.
 */
async function ledgerWrites(db, parallel) {
  const messages = store.createMessageRepository(db);
  const one = async () => {
    const m = oneMessage();
    await messages.insertBatch([m]);
    await messages.recordOutcomes(
      [{ id: m.id, status: 'sent', providerMessageId: `P-${m.id}` }],
      m.createdAt,
    );
  };
  for (let i = 0; i < 200; i++) await one(); // warm-up
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let left = WRITES;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (left-- > 0) await one();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return {
    wall: Math.round(Number(process.hrtime.bigint() - t0) / 1e3 / WRITES),
    cpu: Math.round((cpu.user + cpu.system) / WRITES),
  };
}

async function postgresSchema() {
  const admin = new pg.Client({ connectionString: pgUrl });
  const reachable = await admin.connect().then(
    () => true,
    () => false,
  );
  if (!reachable) return undefined;
  const schema = `smsgate_capacity_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin.query(`create schema ${schema}`);
  const url = `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    url,
    drop: async () => {
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    },
  };
}

/** bench:capacity's load: the send, as fast as answers come, on CONNECTIONS connections. */
const load = (url, headers, duration) => loadSends(url, { headers, connections: CONNECTIONS, duration });

/** Warm-up, then a measured run: answers/s, latency, and the server's CPU per answer. */
async function measure(pid, url, headers) {
  await load(url, headers, 3); // warm-up: JIT, pools, pages
  const cpu0 = cpuMs(pid);
  const r = await load(url, headers, DURATION);
  const cpu = cpuMs(pid) - cpu0;
  return {
    // CPU per answered send: on a busy machine, the figure to compare (1,000,000 / µs is what
    // one core could answer).
    gatewayCpuUsPerSend: Math.round((cpu * 1000) / Math.max(1, r.requests.total)),
    reqPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

async function capacity(storeEnv) {
  const { gateway, url } = await startGatewayBeside(standIn, {
    appKey,
    jwtSecret,
    env: { SMSGATE__upstream__callsPerSecond: '100000', LOG_LEVEL: 'warn', ...storeEnv },
  });
  const token = jwt.sign({ tenant: 'demo', scope: 'sms:send' }, jwtSecret, {
    algorithm: 'HS256',
    expiresIn: '1h',
  });
  try {
    return await measure(gateway.pid, `${url}/v1/messages`, {
      Authorization: `Bearer ${token}`,
    });
  } finally {
    gateway.kill('SIGTERM');
  }
}

/** The same load on a floor (bench/node-floor.mjs, bench/express-floor.mjs): see the header. */
async function floorOf(started) {
  const { floor, url } = await started;
  try {
    // The Express floors say how their objects were made (born with the app's prototypes or not).
    const prototypes = (await fetch(`${url}/readyz`)).headers.get('x-floor-prototypes') ?? undefined;
    return {
      ...(await measure(floor.pid, `${url}/v1/messages`, {})),
      load: loadavg()[0].toFixed(2),
      ...(prototypes ? { prototypes } : {}),
    };
  } finally {
    floor.kill('SIGTERM');
  }
}

const rows = [];
let floor;
let expressFloor;
let expressAsListened;
const dataDir = mkdtempSync(join(tmpdir(), 'smsgate-capacity-'));
const standIn = await startStandIn({ cap: 0, appKey });
try {
  floor = await floorOf(startNodeFloor(standIn, { appKey }));
  expressFloor = await floorOf(startExpressFloor(standIn, { appKey }));
  expressAsListened = await floorOf(startExpressFloor(standIn, { appKey, prototypesPerRequest: true }));
  for (const dialect of dialects) {
    let env;
    let drop = async () => undefined;
    let db;
    let floorStore;
    if (dialect === 'sqlite') {
      env = {};
      db = await store.openSqliteDatabase(join(dataDir, 'ledger-writes.db'));
      floorStore = { sqliteFile: join(dataDir, 'express-floor.db') };
    } else {
      const schema = await postgresSchema();
      if (!schema) {
        console.error(`postgres: ${pgUrl} does not answer; skipped`);
        continue;
      }
      env = { DATABASE_URL: schema.url };
      const writes = await postgresSchema();
      const floorSchema = await postgresSchema();
      db = await store.openPostgresDatabase(writes.url);
      floorStore = { databaseUrl: floorSchema.url };
      drop = async () => {
        await db.destroy();
        await writes.drop();
        await schema.drop();
        await floorSchema.drop();
      };
    }
    const sequential = await ledgerWrites(db, 1);
    const concurrent = await ledgerWrites(db, 16);
    if (dialect === 'sqlite') await db.destroy();
    const load = loadavg()[0].toFixed(2);
    const node = await capacity(env);
    const expressLedgerFloor = await floorOf(startExpressFloor(standIn, { appKey, ...floorStore }));
    await drop();
    rows.push({
      dialect,
      ledgerUsPerMessage: { sequential, concurrent16: concurrent },
      ...node,
      load,
      expressLedgerFloor,
    });
  }
} finally {
  standIn.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}

const pass =
  rows.length > 0 &&
  rows.every((r) => r.reqPerSec >= GOALS[r.dialect] && r.p99 < 100 && r.errors + r.non2xx === 0);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  duration: DURATION,
  connections: CONNECTIONS,
  loadAverage: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
  rows,
  nodeFloor: floor,
  expressFloor,
  expressFloorPrototypesPerRequest: expressAsListened,
  stolenByTheHypervisor: stolenSinceStart(),
  verdict: pass ? 'PASS' : 'FAIL',
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'capacity.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  '| store | ledger µs/message 1 at a time (wall / CPU) | 16 at once (wall / CPU) | sends/s (1 recipient) | gateway CPU µs/send | p50 ms | p99 ms | errors + non-2xx | load avg | goal |\n|---|---|---|---|---|---|---|---|---|---|',
);
const floorRow = (name, f, what) =>
  `| ${name}${f.prototypes ? ` (prototypes: ${f.prototypes})` : ''} | — | — | ${f.reqPerSec} | ${f.gatewayCpuUsPerSend} | ${f.p50} | ${f.p99} | ${f.errors + f.non2xx} | ${f.load} | ${what} |`;
for (const r of rows) {
  console.log(
    `| ${r.dialect} | ${r.ledgerUsPerMessage.sequential.wall} / ${r.ledgerUsPerMessage.sequential.cpu} | ${r.ledgerUsPerMessage.concurrent16.wall} / ${r.ledgerUsPerMessage.concurrent16.cpu} | ${r.reqPerSec} | ${r.gatewayCpuUsPerSend} | ${r.p50} | ${r.p99} | ${r.errors + r.non2xx} | ${r.load} | ≥ ${GOALS[r.dialect]}/s, p99 < 100 ms |`,
  );
}
console.log(floorRow('node floor (bench/node-floor.mjs)', floor, 'what Node.js and the kernel cost here'));
console.log(
  floorRow(
    'Express floor as app.listen runs it',
    expressAsListened,
    'Express 5, each request’s prototypes changed',
  ),
);
console.log(floorRow('Express floor (bench/express-floor.mjs)', expressFloor, 'the same through Express 5'));
for (const r of rows) {
  const what = `and ${r.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ledger writes (a durable send)`;
  console.log(floorRow(`Express + ledger floor, ${r.dialect}`, r.expressLedgerFloor, what));
}
console.log(
  `\n${CONNECTIONS} connections × ${DURATION} s per store, load average ${result.loadAverage}, CPU stolen by the hypervisor ${result.stolenByTheHypervisor}: ${result.verdict}`,
);
process.exitCode = pass ? 0 : 1;
