// bench/ab: two builds of the gateway compared in one run, for a change worth a few per cent.
//
// On this project's shared 2-core VM the host's speed drifts by tens of per cent within minutes
// (a capacity run's Express + ledger floor did 2,020-2,436/s within ten minutes), so two builds
// measured one after the other differ by more than the change. Here both gateways run at once
// against one provider stand-in (cap lifted), and each round loads both at the same time,
// `--connections` each for `--seconds`, so a slow spell of the host falls on both alike. A round
// records each build's sends/s and CPU per send (/proc, user + system); the verdict is the median
// of the per-round ratios B / A, with their range. Both builds share two cores with the load
// generator and the stand-in, so sends/s says how the scheduler shared them out; CPU per send is
// the figure to read. Run it with A and B swapped too: a build
// against itself gave medians of +0.7 % (sends/s) and -3.2 % (CPU), so read a few per cent as
// noise. bench/instructions.mjs counts instead of timing.
//
// The load is bench:capacity's send: POST /v1/messages, 1 recipient, budget lifted, SQLite,
// production mode. Results go to bench/results/ab-<label>-<date>.{json,md}.
// Usage: node bench/ab.mjs --a /path/to/before/dist [--b dist] [--rounds 8] [--seconds 8]
//        [--connections 16] [--label x]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import {
  cpuMs,
  loadSends,
  machine,
  root,
  startGatewayBeside,
  startStandIn,
  table,
  writeResult,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: 'dist' },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    label: { type: 'string', default: 'builds' },
  },
});
if (!values.a) throw new Error('usage: node bench/ab.mjs --a /path/to/before/dist [--b dist]');
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const dists = { A: resolve(root, values.a), B: resolve(root, values.b) };
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const info = await machine();

const token = jwt.sign({ tenant: 'demo', scope: 'sms:send' }, jwtSecret, {
  algorithm: 'HS256',
  expiresIn: '1h',
});
/** The send, as fast as answers come, at the gateway at `url` for `duration` s. */
const load = (url, duration) =>
  loadSends(`${url}/v1/messages`, {
    headers: { Authorization: `Bearer ${token}` },
    connections: CONNECTIONS,
    duration,
  });

const median = (xs) => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const standIn = await startStandIn({ cap: 0, appKey });
const gateways = {};
const rounds = [];
try {
  for (const build of ['A', 'B']) {
    gateways[build] = await startGatewayBeside(standIn, {
      appKey,
      jwtSecret,
      dist: dists[build],
      env: { SMSGATE__upstream__callsPerSecond: '100000', LOG_LEVEL: 'warn' },
    });
  }
  for (const build of ['A', 'B']) await load(gateways[build].url, 3); // warm-up: JIT, pools, pages
  for (let round = 1; round <= ROUNDS; round++) {
    const row = { round };
    const cpu0 = { A: cpuMs(gateways.A.gateway.pid), B: cpuMs(gateways.B.gateway.pid) };
    const [a, b] = await Promise.all([load(gateways.A.url, SECONDS), load(gateways.B.url, SECONDS)]);
    for (const [build, r] of [
      ['A', a],
      ['B', b],
    ]) {
      const sends = r.requests.total;
      if (r.non2xx + r.errors + r.timeouts > 0)
        throw new Error(`${build}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      row[build] = {
        sendsPerSec: Math.round(sends / SECONDS),
        cpuUsPerSend: Math.round(
          ((cpuMs(gateways[build].gateway.pid) - cpu0[build]) * 1000) / Math.max(1, sends),
        ),
      };
    }
    rounds.push(row);
    console.error(
      `round ${round}: A ${row.A.sendsPerSec}/s ${row.A.cpuUsPerSend} µs, B ${row.B.sendsPerSec}/s ${row.B.cpuUsPerSend} µs`,
    );
  }
} finally {
  for (const { gateway } of Object.values(gateways)) gateway.kill('SIGTERM');
  standIn.child.kill('SIGTERM');
}

const ratios = (pick) => rounds.map((r) => pick(r.B) / pick(r.A));
const summary = (pick) => {
  const xs = ratios(pick);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
};
const throughput = summary((x) => x.sendsPerSec);
const cpu = summary((x) => x.cpuUsPerSend);
const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)} %`;
const markdown = [
  `# A/B: ${values.label}`,
  '',
  `A = ${dists.A}, B = ${dists.B}; ${ROUNDS} rounds of ${SECONDS} s, both loaded at once, ` +
    `${CONNECTIONS} connections each, 1 recipient, SQLite, budget lifted. ${info.date}, ${info.cpus}, ` +
    `load average ${info.loadAverage.join(' ')} at the start.`,
  '',
  table(
    ['round', 'A sends/s', 'A CPU µs/send', 'B sends/s', 'B CPU µs/send', 'B / A sends/s', 'B / A CPU'],
    rounds.map((r) => [
      r.round,
      r.A.sendsPerSec,
      r.A.cpuUsPerSend,
      r.B.sendsPerSec,
      r.B.cpuUsPerSend,
      (r.B.sendsPerSec / r.A.sendsPerSec).toFixed(3),
      (r.B.cpuUsPerSend / r.A.cpuUsPerSend).toFixed(3),
    ]),
  ),
  '',
  `B against A, median of the rounds (range): sends/s ${pct(throughput.median)} ` +
    `(${pct(throughput.min)} to ${pct(throughput.max)}), CPU per send ${pct(cpu.median)} ` +
    `(${pct(cpu.min)} to ${pct(cpu.max)}).`,
  '',
].join('\n');
console.log(markdown);
const file = writeResult(`ab-${values.label}`, { machine: info, dists, rounds, throughput, cpu }, markdown);
console.log(`written to ${file}`);
