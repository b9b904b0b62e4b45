// The console's 30-day chart on a big store: a 1M-message ledger over 30 days for 50 tenants,
// with the counters a gateway keeps after those 30 days (hourly rows for the month, minute rows
// for the last 48 h), on a SQLite file. Times the reads the console makes (30 days per hour, 24 h
// per ten minutes) and the hourly maintenance (pruning an hour of minute rows).
// Target: the 30-day read under 50 ms at the median; exits non-zero otherwise.
// `npm run bench:console` (builds first). Writes bench/results/console-rollups.json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { percentile, root } from './lib.mjs';

const require = createRequire(import.meta.url);
const { openSqliteDatabase, createRollupRepository } = require(join(root, 'dist/store'));
const { sql } = require('kysely');

const TENANTS = 50;
const MESSAGES = 1_000_000;
const METRICS = [
  'messages',
  'segments',
  'requests',
  'status:delivered',
  'status:failed',
  'webhook_delivered',
];
const NOW = Date.parse('2026-11-25T12:00:00.000Z');
const DAY = 86_400_000;
const READS = 200;

const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-console-'));
const db = await openSqliteDatabase(join(dir, 'smsgate.db'));
const rollups = createRollupRepository(db);
const t0 = performance.now();

// 1M messages, spread evenly over 30 days and 50 tenants.
await sql`
  with recursive n(i) as (select 0 union all select i + 1 from n where i < ${MESSAGES - 1})
  insert into messages (id, tenant_id, batch_id, recipient, sender, text, segments, encoding, status,
    reference, provider_message_id, error, scheduled_at, created_at, updated_at)
  select printf('m%08d', i), 'tenant-' || (i % ${TENANTS}), printf('b%08d', i),
    printf('+614%08d', i), 'Gateway', 'bench message', 1 + (i % 2), 'GSM',
    case i % 10 when 0 then 'failed' when 1 then 'sent' else 'delivered' end,
    printf('ref-%d', i), printf('p%08d', i), null, null,
    strftime('%Y-%m-%dT%H:%M:%fZ', ${(NOW - 30 * DAY) / 1000} + i * ${(30 * DAY) / 1000 / MESSAGES}, 'unixepoch'),
    strftime('%Y-%m-%dT%H:%M:%fZ', ${(NOW - 30 * DAY) / 1000} + i * ${(30 * DAY) / 1000 / MESSAGES}, 'unixepoch')
  from n where true`.execute(db);
const tLedger = performance.now();

// The counters after 30 days: per hour beyond 48 h, per minute within.
const metrics = sql.join(
  METRICS.map((m) => sql`select ${m} as metric`),
  sql` union all `,
);
await sql`
  with recursive h(i) as (select 0 union all select i + 1 from h where i < ${30 * 24 - 1}),
  t(k) as (select 0 union all select k + 1 from t where k < ${TENANTS - 1}),
  m as (${metrics})
  insert into usage_rollups (tenant_id, bucket, granularity, metric, value)
  select 'tenant-' || k, strftime('%Y-%m-%dT%H:00', ${NOW / 1000} - i * 3600, 'unixepoch'), 'h', metric, 55
  from t, h, m where true`.execute(db);
await sql`
  with recursive n(i) as (select 1 union all select i + 1 from n where i < ${48 * 60}),
  t(k) as (select 0 union all select k + 1 from t where k < ${TENANTS - 1}),
  m as (${metrics})
  insert into usage_rollups (tenant_id, bucket, granularity, metric, value)
  select 'tenant-' || k, strftime('%Y-%m-%dT%H:%M', ${NOW / 1000} - i * 60, 'unixepoch'), 'm', metric, 1
  from t, n, m where true`.execute(db);
await sql`analyze`.execute(db);
const tSeed = performance.now();
const size = await rollups.size();

async function time(read) {
  const ms = [];
  for (let i = 0; i < READS; i++) {
    const started = performance.now();
    await read(i);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return {
    median: +percentile(ms, 50).toFixed(2),
    p95: +percentile(ms, 95).toFixed(2),
    max: +ms.at(-1).toFixed(2),
  };
}
const from30 = new Date(NOW - 30 * DAY).toISOString().slice(0, 13);
const from24 = new Date(NOW - DAY).toISOString().slice(0, 15);
let points30 = 0;
const chart30d = await time(async (i) => {
  points30 = (await rollups.series(`tenant-${i % TENANTS}`, from30, 'hour')).length;
});
let points24 = 0;
const chart24h = await time(async (i) => {
  points24 = (await rollups.series(`tenant-${i % TENANTS}`, from24, 'tenMinutes')).length;
});
// The hourly maintenance an hour later: one hour of minute rows folded (50 × 6 × 60 rows).
const startedCompact = performance.now();
const compaction = await rollups.compact(
  new Date(NOW + 3_600_000 - 48 * 3_600_000).toISOString().slice(0, 16),
  new Date(NOW - 90 * DAY).toISOString().slice(0, 16),
);
const compactMs = +(performance.now() - startedCompact).toFixed(1);

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).cpus().length,
  loadAverage: (await import('node:os')).loadavg().map((l) => +l.toFixed(1)),
  store: 'SQLite file (WAL)',
  ledger: {
    messages: MESSAGES,
    tenants: TENANTS,
    days: 30,
    seedSeconds: +((tLedger - t0) / 1000).toFixed(1),
  },
  rollups: { ...size, metrics: METRICS.length, seedSeconds: +((tSeed - tLedger) / 1000).toFixed(1) },
  reads: READS,
  chart30dMs: { ...chart30d, points: points30 },
  chart24hMs: { ...chart24h, points: points24 },
  hourlyMaintenance: { ...compaction, ms: compactMs },
  verdict: chart30d.median < 50 ? 'PASS' : 'FAIL',
};
console.log(JSON.stringify(result, null, 2));
writeFileSync(join(root, 'bench/results/console-rollups.json'), `${JSON.stringify(result, null, 2)}\n`);
await db.destroy();
rmSync(dir, { recursive: true, force: true });
if (result.verdict !== 'PASS') process.exitCode = 1;
