// bench/checkpoint: how long the SQLite ledger holds the event loop for one send's writes, and
// above all for its longest ones. better-sqlite3 is synchronous, so the COMMIT that checkpoints
// the WAL (copies it back into the database file) stops the loop for as long as the copy takes,
// and every request arriving meanwhile waits. SQLite checkpoints once the WAL passes
// `wal_autocheckpoint` pages (its default 1,000; the gateway's WAL_CHECKPOINT_PAGES).
//
// For each threshold in --pages, a fresh database file is opened with the built store (BENCH_DIST
// or dist/), exactly as the gateway opens it, and --sends one-recipient sends are written one
// after the other as the gateway writes them at a low rate: the message, then its outcome, each
// its own transaction. Each send's wall time is its writes' hold on the loop (nothing else runs in
// this process). Printed per threshold: the median, p99 and longest hold, how many holds passed
// 5 ms, and all holds together (the checkpoints' CPU in all). --group N writes N sends a
// transaction instead, as the gateway's group commit does under full load; each hold is then a
// group's. No goal: compares thresholds.
// Usage: node bench/checkpoint.mjs [--pages 1000,250 --sends 4000 --group 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { benchDist, machine, percentile, queuedMessage, table, writeResult } from './lib.mjs';

const { values } = parseArgs({
  options: {
    pages: { type: 'string', default: '1000,250' },
    sends: { type: 'string', default: '4000' },
    // Sends per transaction: 1 as at a low rate; ~32 as a group commit under full load.
    group: { type: 'string', default: '1' },
    label: { type: 'string' },
  },
});
const store = await import(join(benchDist, 'store', 'index.js'));
const SENDS = Number(values.sends);
const GROUP = Number(values.group);
const LONG_MS = 5;

async function holdsAt(pages) {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-checkpoint-'));
  const db = await store.openSqliteDatabase(join(dir, 'ledger.db'));
  await sql.raw(`pragma wal_autocheckpoint = ${pages}`).execute(db);
  const messages = store.createMessageRepository(db);
  const holds = [];
  for (let i = 0; i < SENDS + 500; i += GROUP) {
    const group = Array.from({ length: GROUP }, (_, j) =>
      queuedMessage({ id: `msg_ck_${String(i + j).padStart(8, '0')}`, batchId: `b-ck-${i + j}` }),
    );
    const start = process.hrtime.bigint();
    await messages.insertBatch(group);
    await messages.recordOutcomes(
      group.map((message, j) => ({ id: message.id, status: 'sent', providerMessageId: `P${i + j}` })),
      group[0].createdAt,
    );
    // The first 500 fill the database past its first pages; they are not counted.
    if (i >= 500) holds.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
  const sorted = [...holds].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 100) / 100;
  return {
    pages,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1)),
    over5Ms: holds.filter((ms) => ms > LONG_MS).length,
    totalMs: Math.round(holds.reduce((sum, ms) => sum + ms, 0)),
  };
}

const rows = [];
for (const pages of values.pages.split(',').map(Number)) rows.push(await holdsAt(pages));
const info = await machine();
const headers = [
  'checkpoint after (pages)',
  'hold p50 ms',
  'p99 ms',
  'max ms',
  `holds over ${LONG_MS} ms`,
  `all ${SENDS} sends, ms`,
];
const markdown = `# bench/checkpoint, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), build ${info.build}, load average ${info.loadAverage.join(' / ')}${values.label ? ` (${values.label})` : ''}

${SENDS} one-recipient sends, ${GROUP} a transaction: their inserts, then their outcomes (two transactions), one group after the other.

${table(
  headers,
  rows.map((r) => [r.pages, r.p50Ms, r.p99Ms, r.maxMs, r.over5Ms, r.totalMs]),
)}
`;
console.log(markdown);
console.log(
  `written to ${writeResult(`checkpoint${values.label ? `-${values.label}` : ''}`, { machine: info, dist: benchDist, sends: SENDS, group: GROUP, rows }, markdown)}`,
);
