// bench/cpu-by-rate: what one send costs in CPU at a low, a middling and a high constant rate, for
// smsgate and for the bare Node.js floor (bench/node-floor.mjs) and the provider stand-in beside
// them. On this project's VM a request that finds the CPU idle costs several times what it costs
// when requests follow each other closely (caches, the hypervisor waking the vCPU), whatever the
// program: the added-latency row of bench/overhead (200 sends/s) is measured in that regime, and
// bench/capacity in the other. No goal: the table explains the others.
// Usage: npm run bench:rates [-- --rates 50,200,1000 --duration 10]
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { constantRate } from './constant-rate.mjs';
import {
  cpuMs,
  machine,
  startGatewayBeside,
  startNodeFloor,
  startStandIn,
  table,
  writeResult,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '50,200,1000' },
    duration: { type: 'string', default: '10' },
  },
});
const rates = values.rates.split(',').map(Number);
const duration = Number(values.duration);
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const token = jwt.sign({ tenant: 'demo', scope: 'sms:send sms:read' }, jwtSecret, {
  algorithm: 'HS256',
  expiresIn: '1h',
});

const info = await machine();
const standIn = await startStandIn({ cap: 0, appKey });
const { gateway, url } = await startGatewayBeside(standIn, {
  appKey,
  jwtSecret,
  env: { SMSGATE__upstream__callsPerSecond: '100000' },
});
const { floor, url: floorUrl } = await startNodeFloor(standIn, { appKey });
const paths = {
  smsgate: {
    pid: gateway.pid,
    url: `${url}/v1/messages`,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ to: '0412345678', text: 'Benchmark message' }),
  },
  'node floor': {
    pid: floor.pid,
    url: `${floorUrl}/v1/messages`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ to: '+61412345678', text: 'Benchmark message' }),
  },
};
const rows = [];
try {
  for (const path of Object.values(paths))
    await constantRate({ ...path, method: 'POST', rate: 200, duration: 3 });
  for (const rate of rates) {
    for (const [name, { pid, ...request }] of Object.entries(paths)) {
      const before = { own: cpuMs(pid), standIn: cpuMs(standIn.child.pid) };
      const load = await constantRate({ ...request, method: 'POST', rate, duration });
      const perRequest = (ms) => Math.round((ms * 1000) / load.requests);
      rows.push({
        rate,
        path: name,
        cpuUsPerRequest: perRequest(cpuMs(pid) - before.own),
        standInCpuUsPerRequest: perRequest(cpuMs(standIn.child.pid) - before.standIn),
        p50Ms: load.p50,
        p99Ms: load.p99,
        errors: load.errors + load.non2xx,
      });
    }
  }
} finally {
  gateway.kill('SIGTERM');
  floor.kill('SIGTERM');
  standIn.child.kill('SIGTERM');
}
const text = table(
  ['sends/s', 'path', 'CPU µs per request', 'stand-in CPU µs per request', 'p50 ms', 'p99 ms', 'errors'],
  rows.map((r) => [r.rate, r.path, r.cpuUsPerRequest, r.standInCpuUsPerRequest, r.p50Ms, r.p99Ms, r.errors]),
);
console.log(text);
const file = writeResult(
  'cpu-by-rate',
  { machine: info, duration, rows },
  `# bench/cpu-by-rate, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average at start ${info.loadAverage.join(' / ')}, build ${info.build}\n\n${text}\n`,
);
console.log(`written to ${file}`);
