// bench/overhead: how much latency and memory the gateway adds over calling the provider directly,
// and over an nginx that only adds the APPKEY header (the least a proxy in front of the provider
// can cost). The provider is the stand-in (bench/provider-stand-in.mjs, its own process, cap
// lifted); the gateway runs in production mode with the budget and tenant rate limit lifted.
// Each path is driven at a constant rate, open loop (bench/constant-rate.mjs: one request every
// 1000 / rate ms, latency from when it was due, in µs; not autocannon's per-second quota, which
// fires in clumps and inflates its p99, see there), in interleaved rounds after a warm-up: direct,
// nginx, node floor (bench/node-floor.mjs: the least a Node.js gateway adds here), the Express
// floor and the Express + ledger floor (bench/express-floor.mjs: the same through Express 5, then
// with smsgate's ledger writes around the call, the least an Express gateway with a durable
// ledger adds), smsgate.
// Reports p50/p99 per path, what smsgate adds over each, the gateway's RSS once started and at its
// peak, its event-loop delay and its CPU per send (and each floor's per request), with the load
// average.
// Goals: p50 ≤ +1 ms and p99 ≤ +5 ms over direct (and beside nginx's), peak RSS < 120 MB.
// nginx: found on PATH or in /usr/sbin (Debian: apt-get install -y nginx-light); without it the
// bench says so and compares with direct only.
// Usage: npm run bench:overhead [-- --rate 200 --duration 20 --rounds 3]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { constantRate } from './constant-rate.mjs';
import {
  cpuMs,
  eventLoopDelay,
  freePort,
  loadNow,
  machine,
  rssMb,
  rssSampler,
  startExpressFloor,
  startGatewayBeside,
  startNodeFloor,
  startStandIn,
  table,
  writeResult,
  stolenSinceStart,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Number(values.rounds);
const rate = Number(values.rate);
const duration = Number(values.duration);
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';

const load = (opts) => constantRate({ rate, duration, ...opts });

const summary = ({ requests, p50, p99, max, errors, non2xx }) => ({
  requests,
  p50,
  p99,
  max,
  errors,
  non2xx,
});

function findNginx() {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

async function startNginx(binary, port, upstreamPort) {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream provider { server 127.0.0.1:${upstreamPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header APPKEY "${appKey}";
    }
  }
}
`,
  );
  const child = spawn(binary, ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const ok = await fetch(`http://127.0.0.1:${port}/_stats`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('nginx did not start');
}

const info = await machine();
const standIn = await startStandIn({ cap: 0, appKey });
const { gateway, port: gatewayPort } = await startGatewayBeside(standIn, {
  appKey,
  jwtSecret,
  env: { SMSGATE__upstream__callsPerSecond: '100000' },
});
const { floor, port: floorPort } = await startNodeFloor(standIn, { appKey });
const { floor: expressFloor, port: expressFloorPort } = await startExpressFloor(standIn, { appKey });
const { floor: ledgerFloor, port: ledgerFloorPort } = await startExpressFloor(standIn, {
  appKey,
  sqliteFile: join(mkdtempSync(join(tmpdir(), 'smsgate-overhead-floor-')), 'ledger.db'),
});
const nginxBinary = findNginx();
const nginxPort = await freePort();
const nginx = nginxBinary ? await startNginx(nginxBinary, nginxPort, standIn.port) : undefined;
if (!nginx)
  console.log('nginx: NOT INSTALLED (apt-get install -y nginx-light); comparing with direct calls only');

const token = jwt.sign({ tenant: 'demo', scope: 'sms:send sms:read' }, jwtSecret, {
  algorithm: 'HS256',
  expiresIn: '1h',
});
const providerBody = JSON.stringify({
  sms_text: 'Benchmark message',
  numbers: ['+61412345678'],
  from: '',
  custom_string: 'b',
});
const paths = {
  direct: {
    url: `${standIn.url}/api/v3/send-sms`,
    method: 'POST',
    headers: { APPKEY: appKey, 'Content-Type': 'application/json' },
    body: providerBody,
  },
  ...(nginx
    ? {
        nginx: {
          url: `http://127.0.0.1:${nginxPort}/api/v3/send-sms`,
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: providerBody,
        },
      }
    : {}),
  // The least any Node.js gateway adds here (bench/node-floor.mjs: one server, one provider call).
  'node floor': floorPath(floorPort),
  // The same through Express 5, then with smsgate's ledger writes (bench/express-floor.mjs).
  'express floor': floorPath(expressFloorPort),
  'express + ledger floor': floorPath(ledgerFloorPort),
  smsgate: {
    url: `http://127.0.0.1:${gatewayPort}/v1/messages`,
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ to: '0412345678', text: 'Benchmark message' }),
  },
};

function floorPath(port) {
  return {
    url: `http://127.0.0.1:${port}/v1/messages`,
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ to: '+61412345678', text: 'Benchmark message' }),
  };
}
const FLOORS = ['node floor', 'express floor', 'express + ledger floor'];

// Resident memory once started (before any load: what the modules and the store hold), then the peak.
const startRssMb = Math.round(rssMb(gateway.pid) * 10) / 10;
const rss = rssSampler(gateway.pid);
let result;
try {
  for (const path of Object.values(paths)) await load({ ...path, duration: 3 }); // warm-up
  await eventLoopDelay(`http://127.0.0.1:${gatewayPort}`);
  const rounds = [];
  // CPU per request of smsgate and of the floors at this rate: at a low rate every request finds
  // the CPU cold, and each costs several times what it costs at capacity (docs/benchmarks.md).
  const processOf = {
    smsgate: gateway.pid,
    'node floor': floor.pid,
    'express floor': expressFloor.pid,
    'express + ledger floor': ledgerFloor.pid,
  };
  const cpu = Object.fromEntries(Object.keys(processOf).map((name) => [name, 0]));
  const served = { ...cpu };
  for (let i = 0; i < ROUNDS; i++) {
    const round = { loadAverage: await loadNow() };
    for (const [name, path] of Object.entries(paths)) {
      const pid = processOf[name];
      const before = pid ? cpuMs(pid) : 0;
      round[name] = summary(await load(path));
      if (pid) {
        cpu[name] += cpuMs(pid) - before;
        served[name] += round[name].requests;
      }
    }
    const added = (path, p) => Math.round((path[p] - round.direct[p]) * 100) / 100;
    round.addedP50 = added(round.smsgate, 'p50');
    round.addedP99 = added(round.smsgate, 'p99');
    round.floorsAdded = Object.fromEntries(
      FLOORS.map((name) => [name, { p50: added(round[name], 'p50'), p99: added(round[name], 'p99') }]),
    );
    if (round.nginx) {
      round.nginxAddedP50 = added(round.nginx, 'p50');
      round.nginxAddedP99 = added(round.nginx, 'p99');
    }
    rounds.push(round);
  }
  const loop = await eventLoopDelay(`http://127.0.0.1:${gatewayPort}`);
  const median = (list) => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)];
  result = {
    machine: info,
    rate,
    duration,
    nginx: nginx ? nginxBinary : 'not installed',
    rounds,
    addedP50Ms: median(rounds.map((r) => r.addedP50)),
    addedP99Ms: median(rounds.map((r) => r.addedP99)),
    floorsAddedMs: Object.fromEntries(
      FLOORS.map((name) => [
        name,
        {
          p50: median(rounds.map((r) => r.floorsAdded[name].p50)),
          p99: median(rounds.map((r) => r.floorsAdded[name].p99)),
        },
      ]),
    ),
    nginxAddedP50Ms: nginx ? median(rounds.map((r) => r.nginxAddedP50)) : null,
    nginxAddedP99Ms: nginx ? median(rounds.map((r) => r.nginxAddedP99)) : null,
    gatewayErrors: rounds.reduce((n, r) => n + r.smsgate.errors + r.smsgate.non2xx, 0),
    gatewayStartRssMb: startRssMb,
    gatewayPeakRssMb: rss.stop(),
    gatewayCpuUsPerSend: Math.round((cpu.smsgate * 1000) / served.smsgate),
    floorsCpuUsPerRequest: Object.fromEntries(
      FLOORS.map((name) => [name, Math.round((cpu[name] * 1000) / served[name])]),
    ),
    eventLoopMaxMs: loop.maxMs,
  };
  result.pass =
    result.addedP50Ms <= 1 &&
    result.addedP99Ms <= 5 &&
    result.gatewayErrors === 0 &&
    result.gatewayPeakRssMb < 120;
} finally {
  rss.stop();
  gateway.kill('SIGTERM');
  nginx?.kill('SIGTERM');
  for (const child of [floor, expressFloor, ledgerFloor]) child.kill('SIGTERM');
  standIn.child.kill('SIGTERM');
}
const rows = [];
result.rounds.forEach((round, i) => {
  for (const name of Object.keys(paths)) {
    const r = round[name];
    rows.push([i + 1, name, r.requests, r.p50, r.p99, r.max, r.errors, r.non2xx, round.loadAverage]);
  }
});
const text = table(
  ['round', 'path', 'requests', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'load avg (1 min)'],
  rows,
);
const verdict =
  `overhead at ${rate}/s: smsgate adds p50 ${result.addedP50Ms} ms (≤ 1), p99 ${result.addedP99Ms} ms (≤ 5) over direct` +
  (nginx
    ? `; nginx adds p50 ${result.nginxAddedP50Ms}, p99 ${result.nginxAddedP99Ms}`
    : '; nginx NOT INSTALLED, not compared') +
  FLOORS.map((name) => {
    const { p50, p99 } = result.floorsAddedMs[name];
    return `; ${name} adds p50 ${p50}, p99 ${p99} (${result.floorsCpuUsPerRequest[name]} µs CPU a request)`;
  }).join('') +
  `; errors ${result.gatewayErrors}, peak RSS ${result.gatewayPeakRssMb} MB (< 120; ${result.gatewayStartRssMb} once started), gateway CPU ${result.gatewayCpuUsPerSend} µs per send, loop max ${result.eventLoopMaxMs} ms, CPU stolen by the hypervisor ${stolenSinceStart()}: ${result.pass ? 'PASS' : 'FAIL'}`;
result.verdict = verdict;
console.log(`${text}\n\n${verdict}`);
const file = writeResult(
  'overhead',
  result,
  `# bench/overhead, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average at start ${info.loadAverage.join(' / ')}, build ${info.build}\n\n${text}\n\n${verdict}\n`,
);
console.log(`written to ${file}`);
process.exitCode = result.pass ? 0 : 1;
