// bench/instructions: the machine instructions one send costs the gateway, counted by valgrind's
// callgrind. On this project's shared VM a change worth a few per cent of a send's CPU is lost in
// the host's drift when timed; instructions are counted, not timed, so the host's speed does not
// enter. What still varies is what depends on timing inside the gateway (how many sends a group
// commit joins, when the collector runs): at 8 connections the same build gave 5,435,760 and
// 5,571,667 instructions a send in two runs (2.5 %), so one pair of runs cannot show a change of
// a few per cent. `--connections 1` takes the group commits out (every send its own
// transactions); how steady it is was not measured. A count does not show time an instruction
// waits (cache misses, branch mispredictions), so it can understate a change to megamorphic code.
//
// For each build: the provider stand-in (cap lifted) and the gateway under callgrind (production
// mode, SQLite, budget lifted, as bench:capacity runs it), `--warm` sends, then `--sends`; run
// twice, with `--small` and with `--sends` measured sends, so that start-up and warm-up cancel:
// instructions per send = (total of the large run - total of the small run) / (sends - small).
// The load is 8 connections of POST /v1/messages, 1 recipient. Under callgrind a send takes
// ~80 ms, so the defaults take about five minutes a build.
// `--recipients 1000` sends 1,000 new numbers a send instead of one (then, e.g., `--sends 30
// --small 10 --warm 10 --connections 2`: a send takes seconds under callgrind).
// Usage: node bench/instructions.mjs --dist dist --dist /tmp/before/dist [--sends 1200 --small 200]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import {
  australianMobile,
  freePort,
  gatewayEnv,
  gatewayNodeFlags,
  machine,
  root,
  startStandIn,
  table,
  writeResult,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', multiple: true, default: ['dist'] },
    sends: { type: 'string', default: '1200' },
    small: { type: 'string', default: '200' },
    warm: { type: 'string', default: '300' },
    connections: { type: 'string', default: '8' },
    label: { type: 'string', default: 'send' },
    recipients: { type: 'string', default: '1' },
  },
});
const SENDS = Number(values.sends);
const SMALL = Number(values.small);
const WARM = Number(values.warm);
const CONNECTIONS = Number(values.connections);
const RECIPIENTS = Number(values.recipients);
if (!(SENDS > SMALL)) throw new Error('--sends must be more than --small');
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const info = await machine();

let serial = 0;
/** One number (as ever), or `--recipients` new ones, as bench:cap's 1,000-recipient mix sends them. */
function recipients() {
  if (RECIPIENTS === 1) return '0412345678';
  return Array.from({ length: RECIPIENTS }, () => australianMobile(serial++));
}

/** One gateway under callgrind: `WARM` sends, then `measured`; returns the instructions counted in all. */
async function countedRun(dist, measured) {
  const standIn = await startStandIn({ cap: 0, appKey });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-instructions-'));
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
      '--vgdb=no',
      process.execPath,
      ...gatewayNodeFlags,
      join(dist, 'main.js'),
    ],
    {
      env: {
        ...process.env,
        ...gatewayEnv({
          port,
          upstreamUrl: `${standIn.url}/api/v3/`,
          appKey,
          jwtSecret,
          dataDir: dir,
          // Under callgrind a send takes ~50 times as long: a granted slot would go stale before its
          // request is written (50 ms margin), and a send would wait past its 5 s queue deadline.
          env: {
            SMSGATE__upstream__callsPerSecond: '100000',
            SMSGATE__upstream__windowMarginMs: '500',
            SMSGATE__upstream__maxQueueWaitMs: '600000',
            LOG_LEVEL: 'warn',
          },
        }),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const failed = new Promise((_, fail) => child.once('error', fail)); // valgrind not installed
  const url = `http://127.0.0.1:${port}`;
  try {
    // Start-up under callgrind takes a while: up to five minutes.
    const until = Date.now() + 300_000;
    const ready = () =>
      fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    while (!(await Promise.race([failed, ready()]))) {
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`the gateway did not start (${dist}):\n${stderr}`);
      await new Promise((done) => setTimeout(done, 500));
    }
    const token = jwt.sign({ tenant: 'demo', scope: 'sms:send' }, jwtSecret, {
      algorithm: 'HS256',
      expiresIn: '1h',
    });
    const send = async () => {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ to: recipients(), text: 'Benchmark message' }),
      });
      const answer = await response.text();
      if (response.status !== 201) throw new Error(`send: ${response.status} ${answer.slice(0, 300)}`);
    };
    let left = WARM + measured;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (left-- > 0) await send();
      }),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
    standIn.child.kill('SIGTERM');
  }
  // callgrind writes one file per thread it saw; each ends with `totals: <instructions>`.
  let total = 0;
  for (const name of readdirSync(dir).filter((f) => f.startsWith('callgrind.out'))) {
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (totals) total += Number(totals[1]);
  }
  rmSync(dir, { recursive: true, force: true });
  if (total === 0) throw new Error(`callgrind counted nothing (${dist})`);
  return total;
}

const rows = [];
for (const dist of values.dist.map((d) => resolve(root, d))) {
  const small = await countedRun(dist, SMALL);
  const large = await countedRun(dist, SENDS);
  const perSend = Math.round((large - small) / (SENDS - SMALL));
  rows.push({ dist, small, large, perSend });
  console.error(`${dist}: ${perSend.toLocaleString('en')} instructions a send`);
}
const base = rows[0].perSend;
const markdown = [
  `# Instructions a send: ${values.label}`,
  '',
  `callgrind; ${WARM} warm-up sends, then ${SMALL} and ${SENDS} measured (two runs a build); ` +
    `${CONNECTIONS} connections, ${RECIPIENTS} recipient${RECIPIENTS === 1 ? '' : 's'} a send, SQLite, budget lifted. ${info.date}, ${info.cpus}, ${info.node}.`,
  '',
  table(
    [
      'build',
      'instructions, small run',
      'instructions, large run',
      'instructions a send',
      'against the first',
    ],
    rows.map((r) => [
      r.dist,
      r.small.toLocaleString('en'),
      r.large.toLocaleString('en'),
      r.perSend.toLocaleString('en'),
      `${(((r.perSend - base) / base) * 100).toFixed(1)} %`,
    ]),
  ),
  '',
].join('\n');
console.log(markdown);
console.log(`written to ${writeResult(`instructions-${values.label}`, { machine: info, rows }, markdown)}`);
