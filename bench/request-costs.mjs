// bench/request-costs: what one request of each kind costs the gateway in CPU, one request at a
// time (no queueing, no batching), to tell where a send's time goes:
//   health       GET /healthz: the HTTP edge every request crosses (metrics, access log, headers)
//   refused send POST /v1/messages with a bad number: the edge + authentication + limits + body +
//                validation + the error envelope
//   list         GET /v1/messages?page=1
//   send         POST /v1/messages, 1 recipient: all of the above + the ledger + the provider call
//   node floor   the same send through bench/node-floor.mjs (one Node.js server, one provider call)
// Gateway in production mode on SQLite, budget lifted; the provider is the stand-in. CPU is the
// server process's (user + system, /proc), per request.
// Usage: node bench/request-costs.mjs [--requests 2000]   (run `npm run build` first)
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import {
  cpuMs,
  loadNow,
  machine,
  startGatewayBeside,
  startNodeFloor,
  startStandIn,
  table,
  writeResult,
} from './lib.mjs';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const N = Number(values.requests);
const info = await machine();
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const standIn = await startStandIn({ cap: 0, appKey });
const { gateway, url: gatewayUrl } = await startGatewayBeside(standIn, {
  appKey,
  jwtSecret,
  env: { SMSGATE__upstream__callsPerSecond: '100000' },
});
const { floor, url: floorUrl } = await startNodeFloor(standIn, { appKey });

const token = jwt.sign({ tenant: 'demo', scope: 'sms:send sms:read' }, jwtSecret, {
  algorithm: 'HS256',
  expiresIn: '1h',
});
const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const post = (url, body, expected) => async () => {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  await response.text();
  if (response.status !== expected) throw new Error(`${url}: ${response.status}, expected ${expected}`);
};
const get = (url) => async () => {
  const response = await fetch(url, { headers });
  await response.text();
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
};
const kinds = [
  ['health', gateway.pid, get(`${gatewayUrl}/healthz`)],
  ['refused send', gateway.pid, post(`${gatewayUrl}/v1/messages`, { to: 'x', text: 'y' }, 400)],
  ['list', gateway.pid, get(`${gatewayUrl}/v1/messages?page=1`)],
  [
    'send',
    gateway.pid,
    post(`${gatewayUrl}/v1/messages`, { to: '0412345678', text: 'Benchmark message' }, 201),
  ],
  [
    'node floor send',
    floor.pid,
    post(`${floorUrl}/v1/messages`, { to: '+61412345678', text: 'Benchmark message' }, 201),
  ],
];
const rows = [];
try {
  for (const [name, pid, request] of kinds) {
    for (let i = 0; i < 300; i++) await request(); // warm-up
    const load = await loadNow();
    const cpu0 = cpuMs(pid);
    const started = performance.now();
    for (let i = 0; i < N; i++) await request();
    const cpuUs = Math.round(((cpuMs(pid) - cpu0) * 1000) / N);
    const wallUs = Math.round(((performance.now() - started) * 1000) / N);
    rows.push([name, cpuUs, wallUs, load]);
  }
} finally {
  gateway.kill('SIGTERM');
  floor.kill('SIGTERM');
  standIn.child.kill('SIGTERM');
}
const text = table(['request', 'server CPU µs', 'round trip µs', 'load avg (1 min)'], rows);
console.log(text);
const file = writeResult(
  'request-costs',
  {
    machine: info,
    requests: N,
    rows: rows.map(([name, cpuUs, wallUs, load]) => ({ name, cpuUs, wallUs, load })),
  },
  `# bench/request-costs, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), build ${info.build}, ${N} requests of each kind, one at a time\n\n${text}\n`,
);
console.log(`written to ${file}`);
