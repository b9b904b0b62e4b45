// bench/upstream-budget: does one fair, cluster-wide budget hold the provider account's cap?
//
// Starts the provider sandbox (15 calls/s per key, as the real account) and 1 or 3 gateway
// replicas sharing one Redis, then drives tenants open-loop (each request fired on schedule,
// whatever happened to the last) and measures at the sandbox: the most calls it saw in any
// rolling second, its 429s, budget utilisation while demand exceeds the cap, each tenant's share
// of provider calls and Jain's fairness index, client response times (queue wait included), and
// messages per second delivered with and without coalescing.
// Needs a Redis on REDIS_URL (default redis://127.0.0.1:6379). Usage: npm run bench:budget [-- --duration 20]
//
// With `--replicas N` it runs only two scenarios at N replicas and writes
// bench/results/upstream-budget-<date>-<N>-replicas.json: the equal-weights flood, and the same flood
// with Redis lost (a loopback proxy in front of it cut) from 30 % to 65 % of the run: the
// fallback shares take over and hand back, and the cap must hold through both switches.
import { Agent, request } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { freePort, percentile, root, start } from './lib.mjs';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '20' }, replicas: { type: 'string' } },
});
const DURATION_S = Number(values.duration);
const ONLY_REPLICAS = values.replicas === undefined ? undefined : Number(values.replicas);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CAP = 15;
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const agent = new Agent({ keepAlive: true, maxSockets: 2000 });
const dir = mkdtempSync(join(tmpdir(), 'smsgate-budget-'));

const sandboxPort = await freePort();
const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
const sandbox = await start(
  'sandbox/cli.js',
  {
    SMSGATE_APPKEY: appKey,
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_CALLS_PER_SECOND: String(CAP),
    SANDBOX_DLR_DELAY_MS: '600000',
  },
  `${sandboxUrl}/_sandbox/calls`,
);

/** Starts `replicas` gateways on one Redis key space, with these tenants. */
async function startCluster(name, replicas, tenants, coalesce, redisUrl = REDIS_URL) {
  const config = join(dir, `${name}.json`);
  const tenantConfig = Object.fromEntries(
    Object.entries(tenants).map(([id, weight]) => [
      id,
      {
        scopes: ['sms:send'],
        allowedCountries: ['AU'],
        weight,
        rateLimit: { requests: 1_000_000, windowSec: 60 },
      },
    ]),
  );
  writeFileSync(
    config,
    JSON.stringify({
      tenants: tenantConfig,
      upstream: { callsPerSecond: CAP, maxQueueWaitMs: 5000, coalesce: { enabled: coalesce, windowMs: 0 } },
      redis: { keyPrefix: `bench-${name}-${Date.now()}` },
      cluster: { replicas },
    }),
  );
  const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
  const children = await Promise.all(
    ports.map((port, i) =>
      start(
        'main.js',
        {
          SMSGATE_CONFIG: config,
          SMSGATE_MODE: 'production',
          PORT: String(port),
          HOST: '127.0.0.1',
          SMSGATE_UPSTREAM_URL: `${sandboxUrl}/api/v3/`,
          SMSGATE_APPKEY: appKey,
          SMSGATE_JWT_SECRET: jwtSecret,
          SMSGATE_SQLITE_FILE: join(dir, `${name}-${i}.db`),
          SMSGATE__http__requireHttps: 'false',
          REDIS_URL: redisUrl,
          LOG_LEVEL: 'error',
        },
        `http://127.0.0.1:${port}/readyz`,
      ),
    ),
  );
  return {
    urls: ports.map((p) => `http://127.0.0.1:${p}`),
    stop: () => children.forEach((c) => c.kill('SIGTERM')),
  };
}

function send(url, token, body) {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const req = request(
      `${url}/v1/messages`,
      {
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - startedAt }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - startedAt }));
    req.end(JSON.stringify(body));
  });
}

/**
 * Fires each tenant's requests open-loop at its rate for DURATION_S, round-robin over the
 * replicas. `body(tenant, i)` makes request i of a tenant.
 */
async function drive(urls, rates, body) {
  const results = Object.fromEntries(Object.keys(rates).map((t) => [t, []]));
  const pending = [];
  const started = Date.now();
  await Promise.all(
    Object.entries(rates).map(async ([tenant, perSecond]) => {
      const token = jwt.sign({ tenant, scope: 'sms:send' }, jwtSecret, {
        algorithm: 'HS256',
        expiresIn: '1h',
      });
      for (let i = 0; ; i++) {
        const due = started + (i * 1000) / perSecond;
        if (due > started + DURATION_S * 1000) break;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((done) => setTimeout(done, wait));
        pending.push(
          send(urls[i % urls.length], token, body(tenant, i)).then((r) => results[tenant].push(r)),
        );
      }
    }),
  );
  await Promise.all(pending);
  return { results, started };
}

/** What the provider saw: successful send-sms calls and 429s, with their tenant (from the text). */
async function providerCalls(since) {
  const calls = await (await fetch(`${sandboxUrl}/_sandbox/calls`)).json();
  return calls.filter((c) => c.endpoint === 'send-sms' && c.at >= since);
}

function maxInAnySecond(times) {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j] - sorted[i] >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

/**
 * Sustained calls per second of a list. Slots are used in bursts (up to 15 at once, spread over
 * a few hundred ms when the gateway is busy, then a window's wait), so the rate is measured
 * between calls in the same position of their bursts: call i and call i + 15m are m windows apart.
 */
function ratePerSecond(calls) {
  const times = calls.map((c) => c.at).sort((a, b) => a - b);
  const last = Math.floor((times.length - 1) / CAP) * CAP;
  return last === 0 ? 0 : last / ((times[last] - times[0]) / 1000);
}

function jain(values) {
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 0 : (sum * sum) / (values.length * squares);
}

function latencies(list) {
  const ok = list
    .filter((r) => r.status === 201)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  return { p50: Math.round(percentile(ok, 50)), p99: Math.round(percentile(ok, 99)) };
}

/** Runs one budget scenario: distinct texts, so every request is its own provider call. */
async function fairnessScenario(name, replicas, weights, rates) {
  await fetch(`${sandboxUrl}/_sandbox/reset`, { method: 'POST' });
  const cluster = await startCluster(name, replicas, weights, false);
  try {
    const { results, started } = await drive(cluster.urls, rates, (tenant, i) => ({
      to: '0412345678',
      text: `${tenant} message ${i}`,
    }));
    const calls = await providerCalls(started);
    const ok = calls.filter((c) => c.status === 200);
    // Steady state: skip the first and last two seconds of the run.
    const steady = ok.filter((c) => c.at >= started + 2000 && c.at < started + (DURATION_S - 2) * 1000);
    const shares = Object.fromEntries(
      Object.keys(rates).map((t) => [t, steady.filter((c) => c.body.sms_text.startsWith(`${t} `)).length]),
    );
    const normalised = Object.entries(shares).map(([t, n]) => n / weights[t]);
    const perTenant = Object.fromEntries(
      Object.entries(results).map(([t, list]) => [
        t,
        {
          sent: list.length,
          ok: list.filter((r) => r.status === 201).length,
          overLimit: list.filter((r) => r.status === 429).length,
          ...latencies(list),
        },
      ]),
    );
    return {
      scenario: name,
      replicas,
      weights,
      demandPerSecond: Object.values(rates).reduce((a, b) => a + b, 0),
      maxCallsInAnySecond: maxInAnySecond(calls.map((c) => c.at)),
      provider429s: calls.filter((c) => c.status === 429).length,
      utilisation: Math.round((ratePerSecond(steady) / CAP) * 1000) / 1000,
      shares,
      // Fairness is only meaningful where every tenant asks for more than its share.
      jainIndex:
        new Set(Object.values(rates)).size === 1 ? Math.round(jain(normalised) * 10000) / 10000 : null,
      perTenant,
    };
  } finally {
    cluster.stop();
  }
}

/** A loopback TCP proxy in front of Redis: cutting it is Redis lost for every replica at once. */
async function redisProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set();
  let open = true;
  const server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = new Socket();
    upstream.connect(Number(target.port || 6379), target.hostname);
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * The equal flood while Redis goes away for every replica and comes back: what the provider saw
 * in each phase, and the most calls in any second around each switch.
 */
async function outageScenario(name, replicas) {
  await fetch(`${sandboxUrl}/_sandbox/reset`, { method: 'POST' });
  const proxy = await redisProxy();
  const weights = { t1: 1, t2: 1, t3: 1 };
  const cluster = await startCluster(name, replicas, weights, false, proxy.url);
  const cutAfter = DURATION_S * 0.3 * 1000;
  const restoreAfter = DURATION_S * 0.65 * 1000;
  const timers = [];
  let lostAt = 0;
  let backAt = 0;
  try {
    const driving = drive(cluster.urls, { t1: 15, t2: 15, t3: 15 }, (tenant, i) => ({
      to: '0412345678',
      text: `${tenant} message ${i}`,
    }));
    timers.push(
      setTimeout(() => {
        lostAt = Date.now();
        proxy.cut();
      }, cutAfter),
      setTimeout(() => {
        backAt = Date.now();
        proxy.restore();
      }, restoreAfter),
    );
    const { started } = await driving;
    const calls = await providerCalls(started);
    const times = calls.map((c) => c.at);
    const within = (from, to) => times.filter((t) => t >= from && t < to);
    const share = Math.max(1, Math.floor(CAP / replicas));
    return {
      scenario: name,
      replicas,
      demandPerSecond: 45,
      redisLostAfterSeconds: cutAfter / 1000,
      redisBackAfterSeconds: restoreAfter / 1000,
      maxCallsInAnySecond: maxInAnySecond(times),
      maxCallsInAnySecondAroundLoss: maxInAnySecond(within(lostAt - 2000, lostAt + 4000)),
      maxCallsInAnySecondAroundReturn: maxInAnySecond(within(backAt - 2000, backAt + 4000)),
      provider429s: calls.filter((c) => c.status === 429).length,
      // While Redis is gone each replica keeps limit / replicas, after holding ~1.5 s at the switch.
      callsPerSecondWhileLost:
        Math.round((within(lostAt + 2000, backAt).length / ((backAt - lostAt - 2000) / 1000)) * 100) / 100,
      fallbackCapPerSecond: Math.round(((share * replicas) / 1.051) * 100) / 100,
      utilisationBeforeLoss:
        Math.round(
          (ratePerSecond(calls.filter((c) => c.status === 200 && c.at >= started + 2000 && c.at < lostAt)) /
            CAP) *
            1000,
        ) / 1000,
      utilisationAfterReturn:
        Math.round(
          (ratePerSecond(
            calls.filter(
              (c) => c.status === 200 && c.at >= backAt + 3000 && c.at < started + (DURATION_S - 1) * 1000,
            ),
          ) /
            CAP) *
            1000,
        ) / 1000,
    };
  } finally {
    timers.forEach(clearTimeout);
    cluster.stop();
    proxy.close();
  }
}

/** Same text to many numbers: messages per second delivered, with and without coalescing. */
async function throughputScenario(name, replicas, coalesce) {
  await fetch(`${sandboxUrl}/_sandbox/reset`, { method: 'POST' });
  const cluster = await startCluster(name, replicas, { a: 1, b: 1, c: 1 }, coalesce);
  try {
    // 3 tenants x 40 requests/s x 5 recipients = 600 messages offered per second.
    const rates = { a: 40, b: 40, c: 40 };
    const { results, started } = await drive(cluster.urls, rates, (tenant, i) => ({
      to: Array.from(
        { length: 5 },
        (_, k) => `+614${String(10_000_000 + ((i * 5 + k) % 90_000_000)).padStart(8, '0')}`,
      ),
      text: `Service notice for ${tenant}`,
    }));
    const calls = (await providerCalls(started)).filter((c) => c.status === 200);
    const delivered = calls.reduce((n, c) => n + c.body.numbers.length, 0);
    const spanSeconds = calls.length > 1 ? (calls[calls.length - 1].at - calls[0].at) / 1000 : DURATION_S;
    const all = Object.values(results).flat();
    return {
      scenario: name,
      replicas,
      coalescing: coalesce,
      offeredMessagesPerSecond: 600,
      providerCalls: calls.length,
      maxCallsInAnySecond: maxInAnySecond(calls.map((c) => c.at)),
      deliveredMessages: delivered,
      deliveredMessagesPerSecond: Math.round(delivered / Math.max(spanSeconds, 1)),
      requestsOk: all.filter((r) => r.status === 201).length,
      requestsRefused: all.filter((r) => r.status !== 201).length,
      ...latencies(all),
    };
  } finally {
    cluster.stop();
  }
}

const report = {
  date: new Date().toISOString(),
  node: process.version,
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 10) / 10),
  },
  durationSeconds: DURATION_S,
  cap: CAP,
  runs: [],
};
if (ONLY_REPLICAS !== undefined) {
  try {
    const n = ONLY_REPLICAS;
    report.runs.push(
      await fairnessScenario(
        `equal-${n}-replica${n === 1 ? '' : 's'}`,
        n,
        { t1: 1, t2: 1, t3: 1 },
        { t1: 15, t2: 15, t3: 15 },
      ),
    );
    report.runs.push(await outageScenario(`redis-outage-${n}-replica${n === 1 ? '' : 's'}`, n));
  } finally {
    sandbox.kill('SIGTERM');
    agent.destroy();
  }
  report.machine.loadAverageAtEnd = loadavg().map((l) => Math.round(l * 10) / 10);
  const [flood, outage] = report.runs;
  report.checks = {
    'max calls in any second <= 15 (both runs)': report.runs.every((r) => r.maxCallsInAnySecond <= CAP),
    'provider 429s = 0 (both runs)': report.runs.every((r) => r.provider429s === 0),
    'utilisation >= 95% (flood)': flood.utilisation >= 0.95,
    'utilisation >= 95% after Redis is back': outage.utilisationAfterReturn >= 0.95,
  };
  report.verdict = Object.values(report.checks).every(Boolean) ? 'PASS' : 'FAIL';
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(
      root,
      'bench',
      'results',
      `upstream-budget-${report.date.slice(0, 10)}-${ONLY_REPLICAS}-replicas.json`,
    ),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.verdict === 'PASS' ? 0 : 1);
}
try {
  const equal = { t1: 1, t2: 1, t3: 1 };
  const threeTimesCapacity = { t1: 15, t2: 15, t3: 15 };
  report.runs.push(await fairnessScenario('equal-1-replica', 1, equal, threeTimesCapacity));
  report.runs.push(await fairnessScenario('equal-3-replicas', 3, equal, threeTimesCapacity));
  report.runs.push(
    await fairnessScenario('weighted-2-1-3-replicas', 3, { gold: 2, basic: 1 }, { gold: 22, basic: 22 }),
  );
  report.runs.push(
    await fairnessScenario('noisy-vs-quiet-3-replicas', 3, { noisy: 1, quiet: 1 }, { noisy: 100, quiet: 1 }),
  );
  report.runs.push(await throughputScenario('throughput-no-coalescing', 3, false));
  report.runs.push(await throughputScenario('throughput-coalescing', 3, true));
} finally {
  sandbox.kill('SIGTERM');
  agent.destroy();
}

const [, equal3, weighted, noisy, , coalesced] = report.runs;
const checks = {
  'max calls in any second <= 15 (all runs)': report.runs.every((r) => r.maxCallsInAnySecond <= CAP),
  'provider 429s = 0 (all runs)': report.runs.every((r) => (r.provider429s ?? 0) === 0),
  'utilisation >= 95% (3 replicas)': equal3.utilisation >= 0.95,
  "Jain's index >= 0.98 (equal weights, 3 replicas)": equal3.jainIndex >= 0.98,
  '2:1 weights within 10%': Math.abs(weighted.shares.gold / weighted.shares.basic / 2 - 1) <= 0.1,
  'quiet tenant >= 99% success': noisy.perTenant.quiet.ok / noisy.perTenant.quiet.sent >= 0.99,
  'coalescing delivers >= 500 messages/s': coalesced.deliveredMessagesPerSecond >= 500,
};
report.checks = checks;
report.verdict = Object.values(checks).every(Boolean) ? 'PASS' : 'FAIL';
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'upstream-budget.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
process.exitCode = report.verdict === 'PASS' ? 0 : 1;
