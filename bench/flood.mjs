// bench/flood: a tenant flooding past its rate limit, beside a quiet tenant. The noisy tenant
// (rate limit 100 per minute) spends its whole limit in the warm-up: those 100 are real sends,
// which would otherwise compete with the quiet tenant's for the 15 provider calls a second during
// the measurement, and a few more, refused. Then it sends POST /v1/messages as fast as 64
// connections allow, with the same token; every answer is 429 OVER_LIMIT (the window is a minute:
// keep --duration well under what is left of it). The quiet tenant sends 10 messages a second
// meanwhile, one every 100 ms (see quietLoad). Goals: ≥ 10,000 429 answers/s, quiet tenant p99
// < 25 ms. First the quiet tenant alone, for its baseline, also as clumps (see quietClumps). The
// provider is the stand-in (separate process, cap lifted). Then the same flood on
// bench/node-floor.mjs, which refuses the noisy tenant's token and sends the quiet tenant's: the
// most refusals a Node.js server answers here, and the best a quiet tenant gets beside them.
// Usage: npm run bench:flood [-- --duration 15 --connections 64]
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import { constantRateApart } from './constant-rate.mjs';
import {
  cpuMs,
  eventLoopDelay,
  loadNow,
  machine,
  rssSampler,
  startGatewayBeside,
  startNodeFloor,
  startStandIn,
  table,
  writeResult,
  stolenSinceStart,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '64' },
    label: { type: 'string', default: '' },
  },
});
const duration = Number(values.duration);
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
// One token per tenant for the whole run, as a client keeps its token.
const tokens = new Map();
const tokenOf = (tenant) => {
  if (!tokens.has(tenant))
    tokens.set(
      tenant,
      jwt.sign({ tenant, scope: 'sms:send sms:read' }, jwtSecret, { algorithm: 'HS256', expiresIn: '1h' }),
    );
  return tokens.get(tenant);
};

const run = (options) =>
  new Promise((done, fail) => autocannon({ timeout: 10, ...options }, (e, r) => (e ? fail(e) : done(r))));

const info = await machine();
const standIn = await startStandIn({ cap: 0, appKey });
process.on('exit', () => standIn.child.kill('SIGTERM')); // also when a phase throws
const { gateway, url } = await startGatewayBeside(standIn, {
  appKey,
  jwtSecret,
  env: {
    SMSGATE__tenants__noisy__rateLimit: '{requests: 100, windowSec: 60}',
    SMSGATE__tenants__quiet__rateLimit: '{requests: 1000000, windowSec: 60}',
  },
});
const send = (tenant, extra = {}) => ({
  url: `${url}/v1/messages`,
  method: 'POST',
  headers: { Authorization: `Bearer ${tokenOf(tenant)}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ to: '0412345678', text: 'Benchmark message' }),
  ...extra,
});
// The quiet tenant: 10 sends a second, one every 100 ms, open loop, from a process of its own
// (bench/constant-rate.mjs: latency from when each was due, in µs; the flood's generator, in this
// process, does not delay it).
/** Where the gateway's requests go: as `send` builds them. */
const toGateway = (request) => request;
const quietLoad = (at = toGateway) => constantRateApart({ ...at(send('quiet')), rate: 10, duration });
// The flood lasts 2 s longer than the quiet tenant's run, which starts a second into it and ends a
// second before it: the flood at full rate, not its 64 connections opening.
const floodSeconds = duration + 2;
/** The flood and, beside it, the quiet tenant: both sent where `at` points them. */
const floodBesideQuiet = (at = toGateway) =>
  Promise.all([
    run(at(send('noisy', { connections: Number(values.connections), duration: floodSeconds }))),
    new Promise((ready) => setTimeout(ready, 1000)).then(() => quietLoad(at)),
  ]);
// The same 10 a second as autocannon's `overallRate` sends them: each of 2 connections sends its 5
// back to back at the top of each second, a clump of 10 calls to one number that cannot be
// coalesced. The budget paces such a clump (upstream.grantBurst, then one call per 70 ms), so it
// measures the pacer, not the flood. Raw latencies (ignoreCoordinatedOmission): autocannon's
// correction assumes a 1 ms interval whatever the rate (see bench/constant-rate.mjs).
const quietClumps = () =>
  run(send('quiet', { connections: 2, overallRate: 10, ignoreCoordinatedOmission: true, duration }));
/** What a quiet tenant's constant-rate run is recorded as. */
const quietFigures = (run) => ({
  p50Ms: run.p50,
  p99Ms: run.p99,
  maxMs: run.max,
  ok: run.ok,
  non2xx: run.non2xx + run.errors,
});
let result;
try {
  await run(send('quiet', { connections: 2, overallRate: 10, duration: 3 })); // warm-up
  // Alone first (the noisy tenant's window is not spent yet, so its time does not run out).
  const clumps = await quietClumps();
  const loadAlone = await loadNow();
  const alone = await quietLoad();
  // The noisy tenant's window spent before the measurement: 100 sends, then refusals.
  const spent = await run(send('noisy', { connections: 4, amount: 120 }));
  if (spent['2xx'] !== 100) throw new Error(`warm-up: ${spent['2xx']} noisy sends accepted, expected 100`);
  await eventLoopDelay(url);
  const rss = rssSampler(gateway.pid);
  const loadFlood = await loadNow();
  const cpuBefore = cpuMs(gateway.pid);
  const [noisy, quiet] = await floodBesideQuiet();
  const cpuUsed = cpuMs(gateway.pid) - cpuBefore;
  const loop = await eventLoopDelay(url);
  const peakRss = rss.stop();
  const refusedPerSecond = Math.round(noisy.non2xx / floodSeconds);
  result = {
    machine: info,
    label: values.label,
    duration,
    noisy: {
      requests: noisy.requests.total,
      non2xx: noisy.non2xx,
      refusedPerSecond,
      p50Ms: noisy.latency.p50,
      p99Ms: noisy.latency.p99,
    },
    quietAlone: {
      p50Ms: alone.p50,
      p99Ms: alone.p99,
      maxMs: alone.max,
      ok: alone.ok,
      loadAverage: loadAlone,
    },
    quietClumpsAlone: {
      p50Ms: clumps.latency.p50,
      p99Ms: clumps.latency.p99,
      maxMs: clumps.latency.max,
      ok: clumps['2xx'],
    },
    quietDuringFlood: { ...quietFigures(quiet), loadAverage: `${loadFlood} → ${await loadNow()}` },
    eventLoopMaxMs: loop.maxMs,
    peakRssMb: peakRss,
    // Gateway CPU per answer during the flood: what the answers cost whatever the machine's load.
    gatewayCpuUsPerAnswer: Math.round((cpuUsed * 1000) / (noisy.requests.total + quiet.requests)),
    gatewayCpuSeconds: Math.round(cpuUsed) / 1000,
  };
  result.pass = refusedPerSecond >= 10_000 && quiet.p99 < 25 && result.quietDuringFlood.non2xx === 0;
} finally {
  gateway.kill('SIGTERM');
}
try {
  // The floor refuses the noisy tenant's sends and sends the quiet tenant's: the same flood, and
  // what the quiet tenant gets at best beside it on this machine.
  const noisyAuth = send('noisy').headers.Authorization;
  const { floor, url: floorUrl } = await startNodeFloor(standIn, { appKey, refuse: noisyAuth });
  try {
    const cpuBefore = cpuMs(floor.pid);
    const [flood, quiet] = await floodBesideQuiet((request) => ({
      ...request,
      url: `${floorUrl}/v1/messages`,
    }));
    result.nodeFloor = {
      refusedPerSecond: Math.round(flood.non2xx / floodSeconds),
      p50Ms: flood.latency.p50,
      p99Ms: flood.latency.p99,
      cpuUsPerAnswer: Math.round(
        ((cpuMs(floor.pid) - cpuBefore) * 1000) / Math.max(1, flood.requests.total + quiet.requests),
      ),
      quietDuringFlood: quietFigures(quiet),
    };
  } finally {
    floor.kill('SIGTERM');
  }
} finally {
  standIn.child.kill('SIGTERM');
}
const refusedPerSecond = result.noisy.refusedPerSecond;
const text = table(
  ['what', 'answers/s', 'p50 ms', 'p99 ms', 'quiet sends ok / non-2xx', 'load avg (1 min)'],
  [
    [
      'quiet tenant alone, 10 clumped at the top of each second (autocannon)',
      '10 (offered)',
      result.quietClumpsAlone.p50Ms,
      result.quietClumpsAlone.p99Ms,
      `${result.quietClumpsAlone.ok} / 0`,
      '—',
    ],
    [
      'quiet tenant alone, one every 100 ms',
      '10 (offered)',
      result.quietAlone.p50Ms,
      result.quietAlone.p99Ms,
      `${result.quietAlone.ok} / 0`,
      result.quietAlone.loadAverage,
    ],
    [
      'noisy tenant: 429s',
      `**${refusedPerSecond}** (≥ 10,000)`,
      result.noisy.p50Ms,
      result.noisy.p99Ms,
      '—',
      result.quietDuringFlood.loadAverage,
    ],
    [
      'quiet tenant during the flood, one every 100 ms',
      '10 (offered)',
      result.quietDuringFlood.p50Ms,
      `**${result.quietDuringFlood.p99Ms}** (< 25)`,
      `${result.quietDuringFlood.ok} / ${result.quietDuringFlood.non2xx}`,
      result.quietDuringFlood.loadAverage,
    ],
    [
      'node floor (bench/node-floor.mjs): 429s',
      result.nodeFloor.refusedPerSecond,
      result.nodeFloor.p50Ms,
      result.nodeFloor.p99Ms,
      '—',
      '—',
    ],
    [
      'node floor: quiet tenant during its flood, one every 100 ms',
      '10 (offered)',
      result.nodeFloor.quietDuringFlood.p50Ms,
      result.nodeFloor.quietDuringFlood.p99Ms,
      `${result.nodeFloor.quietDuringFlood.ok} / ${result.nodeFloor.quietDuringFlood.non2xx}`,
      '—',
    ],
  ],
);
const verdict = `flood (${duration} s, ${values.connections} connections): ${refusedPerSecond} 429s/s (≥ 10,000), quiet p99 ${result.quietDuringFlood.p99Ms} ms (< 25; alone ${result.quietAlone.p99Ms}; beside the floor's flood ${result.nodeFloor.quietDuringFlood.p99Ms}), gateway CPU ${result.gatewayCpuUsPerAnswer} µs per answer (≤ 100 µs on 1 core for 10,000/s; a bare Node.js server ${result.nodeFloor.cpuUsPerAnswer} µs, ${result.nodeFloor.refusedPerSecond}/s), loop max ${result.eventLoopMaxMs} ms, peak RSS ${result.peakRssMb} MB, CPU stolen by the hypervisor ${stolenSinceStart()}: ${result.pass ? 'PASS' : 'FAIL'}`;
result.verdict = verdict;
console.log(`${text}\n\n${verdict}`);
const file = writeResult(
  `flood${values.label ? `-${values.label}` : ''}`,
  result,
  `# bench/flood${values.label ? ` (${values.label})` : ''}, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average at start ${info.loadAverage.join(' / ')}, build ${info.build}\n\n${text}\n\n${verdict}\n`,
);
console.log(`written to ${file}`);
process.exitCode = result.pass ? 0 : 1;
