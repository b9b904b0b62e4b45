// Shared by the benchmarks: free ports, starting built entry points and waiting until they answer.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import autocannon from 'autocannon';

export const root = resolve(import.meta.dirname, '..');

/** The build the benches run: BENCH_DIST=/path/to/other/dist runs another (a "before" for a comparison). */
export const benchDist = process.env.BENCH_DIST ?? join(root, 'dist');

export async function freePort() {
  const server = createServer();
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * The Node.js flags `npm start` (package.json) and the image run the gateway with: a bench measures
 * the gateway as it is run.
 */
export const gatewayNodeFlags = (() => {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const flags = /\bnode((?: --\S+)*) dist\/main\.js/.exec(scripts.start)?.[1] ?? '';
  return flags.split(' ').filter(Boolean);
})();

/** Starts a built entry point and resolves once `readyUrl` answers 2xx (30 s at most). */
export async function start(script, env, readyUrl, { dist: distOf } = {}) {
  // BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the started processes.
  const flags = [
    ...(script === 'main.js' ? gatewayNodeFlags : []),
    ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  // `dist` names a build for this process alone (bench/ab.mjs runs two builds side by side).
  const dist = distOf ?? benchDist;
  const child = spawn(process.execPath, [...flags, isAbsolute(script) ? script : join(dist, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ok = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return child;
    await new Promise((done) => setTimeout(done, 100));
  }
  child.kill();
  throw new Error(`${script} did not become ready`);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * The `n`th of the Australian mobiles the benches send to, in national form (`0410000000` on):
 * valid numbers, a new one for each `n` up to 89,999,999, then again from the first.
 */
export function australianMobile(n) {
  return `04${String(10_000_000 + (n % 89_999_999)).padStart(8, '0')}`;
}

/** The VM's CPU counters (/proc/stat, in ticks): all time, and time stolen by the hypervisor. */
function cpuTicks() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    return { total: fields.reduce((sum, n) => sum + n, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined; // not Linux
  }
}
const ticksAtStart = cpuTicks();

/**
 * The share of the VM's CPU time (idle included) the hypervisor gave to other machines since this
 * bench started (`steal` in /proc/stat), e.g. "5.3 %": on a shared VM, runs with much of it are
 * slower for every process, floors included. Idle time is in the total, so the share of the busy
 * time is larger. "unknown" off Linux.
 */
export function stolenSinceStart() {
  const now = cpuTicks();
  if (!ticksAtStart || !now || now.total === ticksAtStart.total) return 'unknown';
  return `${((100 * (now.steal - ticksAtStart.steal)) / (now.total - ticksAtStart.total)).toFixed(1)} %`;
}

/** Where and when a result was measured: every number is recorded beside the machine's load. */
export async function machine() {
  const os = await import('node:os');
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
    node: process.version,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    build: process.env.BENCH_DIST ?? 'dist/ of this checkout',
    // The gateway's Node.js flags (package.json's start script; a BENCH_DIST build gets them too),
    // then BENCH_NODE_FLAGS, which come after them on the command line (for V8, the last one wins).
    gatewayFlags: [
      ...gatewayNodeFlags,
      ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    ].join(' '),
  };
}

export const loadNow = async () => (await import('node:os')).loadavg()[0].toFixed(2);

/** Starts bench/provider-stand-in.mjs (a separate process) and resolves once it listens. */
export async function startStandIn({ cap = 0, appKey }) {
  const child = spawn(
    process.execPath,
    [join(root, 'bench', 'provider-stand-in.mjs'), '--cap', String(cap), '--appkey', appKey],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise((done, fail) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /listening (\d+)/.exec(text);
      if (match) done(Number(match[1]));
    });
    child.once('exit', (code) => fail(new Error(`provider stand-in exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    stats: () => fetch(`${url}/_stats`).then((r) => r.json()),
    reset: () => fetch(`${url}/_reset`, { method: 'POST' }).then((r) => r.text()),
  };
}

/**
 * The environment of the gateway in production mode against `upstreamUrl`: the bench's defaults
 * (SQLite in `dataDir`, HTTPS not required, the demo tenant's rate limit lifted), `env` on top.
 */
export function gatewayEnv({ port, upstreamUrl, appKey, jwtSecret, dataDir, env = {} }) {
  return {
    SMSGATE_MODE: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    SMSGATE_UPSTREAM_URL: upstreamUrl,
    SMSGATE_APPKEY: appKey,
    SMSGATE_JWT_SECRET: jwtSecret,
    SMSGATE_SQLITE_FILE: join(dataDir, 'bench.db'),
    SMSGATE__http__requireHttps: 'false',
    SMSGATE__tenants__demo__rateLimit: '{requests: 100000000, windowSec: 60}',
    LOG_LEVEL: 'info',
    ...env,
  };
}

/** The gateway in production mode against `upstreamUrl` (`gatewayEnv`), started from `dist`. */
export async function startGateway({ port, upstreamUrl, appKey, jwtSecret, dataDir, env = {}, dist }) {
  return start(
    'main.js',
    gatewayEnv({ port, upstreamUrl, appKey, jwtSecret, dataDir, env }),
    `http://127.0.0.1:${port}/readyz`,
    { dist },
  );
}

/**
 * The gateway (production mode, `startGateway`'s defaults and `env`) on a free port against the
 * provider stand-in, with a data directory of its own.
 */
export async function startGatewayBeside(standIn, { appKey, jwtSecret, env = {}, dist }) {
  const port = await freePort();
  const gateway = await startGateway({
    port,
    upstreamUrl: `${standIn.url}/api/v3/`,
    appKey,
    jwtSecret,
    dataDir: mkdtempSync(join(tmpdir(), 'smsgate-bench-')),
    env,
    dist,
  });
  return { gateway, port, url: `http://127.0.0.1:${port}` };
}

/**
 * bench/node-floor.mjs on a free port against the stand-in: the least a Node.js gateway costs here
 * (one HTTP server, one keep-alive provider call, nothing else), to tell smsgate's own cost from
 * Node's and the kernel's. With `refuse` true, it answers every send 429 without calling the
 * provider; with `refuse` an Authorization value, only the sends that carry it.
 */
export function startNodeFloor(standIn, { appKey, refuse = false }) {
  return startFloor('node-floor.mjs', standIn, appKey, {
    REFUSE: refuse === true ? '1' : '0',
    // refuse: an Authorization value: only the requests carrying it are refused.
    REFUSE_AUTH: typeof refuse === 'string' ? refuse : '',
  });
}

/**
 * bench/express-floor.mjs on a free port against the stand-in: the node floor's exchange through
 * Express 5 and, with `sqliteFile` or `databaseUrl`, smsgate's ledger writes around the provider
 * call too. Its requests are born with the app's prototypes, as smsgate's are; with
 * `prototypesPerRequest`, Express changes them per request, as under `app.listen`.
 */
export function startExpressFloor(
  standIn,
  { appKey, sqliteFile, databaseUrl, prototypesPerRequest = false },
) {
  return startFloor('express-floor.mjs', standIn, appKey, {
    ...(sqliteFile ? { SQLITE_FILE: sqliteFile } : {}),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(prototypesPerRequest ? { EXPRESS_PROTOTYPES: 'per-request' } : {}),
  });
}

/** A floor script of bench/ on a free port, calling the stand-in with the APPKEY, `env` on top. */
async function startFloor(script, standIn, appKey, env) {
  const port = await freePort();
  const floor = await start(
    join(root, 'bench', script),
    { PORT: String(port), UPSTREAM_URL: `${standIn.url}/api/v3/`, APPKEY: appKey, ...env },
    `http://127.0.0.1:${port}/readyz`,
  );
  return { floor, port, url: `http://127.0.0.1:${port}` };
}

/** A 1-recipient message as the send path records it `queued` (tenant demo), for the ledger benches. */
export function queuedMessage({ id, batchId, recipient = '+61412345678', text = 'Benchmark message' }) {
  const at = new Date().toISOString();
  return {
    id,
    tenantId: 'demo',
    batchId,
    recipient,
    sender: '',
    text,
    segments: 1,
    encoding: 'GSM-7',
    status: 'queued',
    reference: null,
    providerMessageId: null,
    error: null,
    scheduledAt: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** The gateway's event-loop delay (prom-client's histogram, reset at every scrape): max and p99 in ms since the last call. */
export async function eventLoopDelay(gatewayUrl) {
  const text = await fetch(`${gatewayUrl}/metrics`).then((r) => r.text());
  const read = (name) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return {
    maxMs: Math.round(read('smsgate_nodejs_eventloop_lag_max_seconds') * 10) / 10,
    p99Ms: Math.round(read('smsgate_nodejs_eventloop_lag_p99_seconds') * 10) / 10,
  };
}

export function rssMb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

/** Peak RSS of a process, sampled every 250 ms until stop() (which returns MB). */
export function rssSampler(pid) {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process ended
    }
  }, 250);
  return { stop: () => (clearInterval(timer), Math.round(peak * 10) / 10), peak: () => peak };
}

/**
 * Writes a result as JSON and Markdown under bench/results/<name>-<date>T<HHMMSS>-<host>.{json,md}
 * (to the second: two runs started in one minute would otherwise overwrite each other).
 */
export function writeResult(name, result, markdown) {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const { date, host } = result.machine;
  const day = `${date.slice(0, 10)}T${date.slice(11, 19).replaceAll(':', '')}-${host.replace(/[^A-Za-z0-9-]/g, '').slice(0, 24)}`;
  writeFileSync(join(dir, `${name}-${day}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(dir, `${name}-${day}.md`), markdown);
  return join('bench', 'results', `${name}-${day}.md`);
}

export function table(headers, rows) {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

/** CPU time (user + system) a process has used so far, in ms (from /proc: load-independent, unlike latency). */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are the 12th and 13th.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100
}

/**
 * autocannon at `url` with bench:capacity's send (1 recipient), as fast as answers come, for
 * `duration` s on `connections` connections; resolves with autocannon's result.
 */
export function loadSends(url, { headers, connections, duration }) {
  return new Promise((done, fail) =>
    autocannon(
      {
        url,
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ to: '0412345678', text: 'Benchmark message' }),
        connections,
        duration,
        timeout: 10,
      },
      (error, result) => (error ? fail(error) : done(result)),
    ),
  );
}
