// bench/flood: a tenant flooding past its rate limit, beside a quiet tenant. The noisy tenant
// (rate limit 100 per minute) spends its whole limit in the warm-up: those 100 are real sends,
// which would otherwise compete with the quiet tenant's for the 15 provider calls a second during
// the measurement, and a few more, refused. Then it sends POST /v1/messages as fast as 64
// connections allow, with the same token; every answer is 429 OVER_LIMIT (the window is a minute:
// keep --duration well under what is left of it). The quiet tenant sends 10 messages a second
// meanwhile. Goals: ≥ 10,000 429 answers/s, quiet tenant p99 < 25 ms. First the quiet tenant
// alone, for its baseline. The provider is the stand-in (separate process, cap lifted).
// Then the same flood on bench/node-floor.mjs answering 429 to everything: the most refusals a
// Node.js server answers here, whatever it does.
// Usage: npm run bench:flood [-- --duration 15 --connections 64]
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
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
const quietLoad = () => run(send('quiet', { connections: 2, overallRate: 10, duration }));
let result;
try {
  await run(send('quiet', { connections: 2, overallRate: 10, duration: 3 })); // warm-up
  // The noisy tenant's window spent before the measurement: 100 sends, then refusals.
  const spent = await run(send('noisy', { connections: 4, amount: 120 }));
  if (spent['2xx'] !== 100) throw new Error(`warm-up: ${spent['2xx']} noisy sends accepted, expected 100`);
  const loadAlone = await loadNow();
  const alone = await quietLoad();
  await eventLoopDelay(url);
  const rss = rssSampler(gateway.pid);
  const loadFlood = await loadNow();
  const cpuBefore = cpuMs(gateway.pid);
  const [noisy, quiet] = await Promise.all([
    run(send('noisy', { connections: Number(values.connections), duration })),
    quietLoad(),
  ]);
  const cpuUsed = cpuMs(gateway.pid) - cpuBefore;
  const loop = await eventLoopDelay(url);
  const peakRss = rss.stop();
  const refusedPerSecond = Math.round(noisy.non2xx / duration);
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
      p50Ms: alone.latency.p50,
      p99Ms: alone.latency.p99,
      ok: alone['2xx'],
      loadAverage: loadAlone,
    },
    quietDuringFlood: {
      p50Ms: quiet.latency.p50,
      p99Ms: quiet.latency.p99,
      ok: quiet['2xx'],
      non2xx: quiet.non2xx,
      loadAverage: `${loadFlood} → ${await loadNow()}`,
    },
    eventLoopMaxMs: loop.maxMs,
    peakRssMb: peakRss,
    // Gateway CPU per answer during the flood: what the answers cost whatever the machine's load.
    gatewayCpuUsPerAnswer: Math.round((cpuUsed * 1000) / (noisy.requests.total + quiet.requests.total)),
    gatewayCpuSeconds: Math.round(cpuUsed) / 1000,
  };
  result.pass = refusedPerSecond >= 10_000 && quiet.latency.p99 < 25 && quiet.non2xx === 0;
} finally {
  gateway.kill('SIGTERM');
}
try {
  const { floor, url: floorUrl } = await startNodeFloor(standIn, { appKey, refuse: true });
  try {
    const cpuBefore = cpuMs(floor.pid);
    const flood = await run({
      ...send('noisy', { connections: Number(values.connections), duration }),
      url: `${floorUrl}/v1/messages`,
    });
    result.nodeFloor = {
      refusedPerSecond: Math.round(flood.non2xx / duration),
      p50Ms: flood.latency.p50,
      p99Ms: flood.latency.p99,
      cpuUsPerAnswer: Math.round(((cpuMs(floor.pid) - cpuBefore) * 1000) / Math.max(1, flood.requests.total)),
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
      'quiet tenant alone',
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
      'quiet tenant during the flood',
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
  ],
);
const verdict = `flood (${duration} s, ${values.connections} connections): ${refusedPerSecond} 429s/s (≥ 10,000), quiet p99 ${result.quietDuringFlood.p99Ms} ms (< 25; alone ${result.quietAlone.p99Ms}), gateway CPU ${result.gatewayCpuUsPerAnswer} µs per answer (≤ 100 µs on 1 core for 10,000/s; a bare Node.js server ${result.nodeFloor.cpuUsPerAnswer} µs, ${result.nodeFloor.refusedPerSecond}/s), loop max ${result.eventLoopMaxMs} ms, peak RSS ${result.peakRssMb} MB: ${result.pass ? 'PASS' : 'FAIL'}`;
result.verdict = verdict;
console.log(`${text}\n\n${verdict}`);
const file = writeResult(
  `flood${values.label ? `-${values.label}` : ''}`,
  result,
  `# bench/flood${values.label ? ` (${values.label})` : ''}, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average at start ${info.loadAverage.join(' / ')}, build ${info.build}\n\n${text}\n\n${verdict}\n`,
);
console.log(`written to ${file}`);
process.exitCode = result.pass ? 0 : 1;
