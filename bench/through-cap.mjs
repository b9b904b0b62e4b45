// bench/through-cap: messages per second through the account's real cap of 15 calls/s, measured at
// a strict provider stand-in (a separate process that counts arrivals and answers 429 past 15 in
// any 1000 ms). Three mixes, each on a fresh gateway (production mode, SQLite, default budget):
//   same-text     1 recipient per request, the same text (coalesced into send-sms calls)   goal ≥ 3,000 msg/s
//   distinct-bulk 1 recipient per request, every text different, upstream.bulkSend on       goal ≥ 2,000 msg/s
//   thousand      1,000 recipients per request                                             goal ≥ 14,000 msg/s
// and for all: at most 15 arrivals in any second, 0 provider 429s, event-loop delay max < 50 ms.
// Usage: npm run bench:cap [-- --duration 20 --mix same-text,distinct-bulk,thousand]
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import {
  australianMobile,
  eventLoopDelay,
  loadNow,
  machine,
  rssSampler,
  startGatewayBeside,
  startStandIn,
  table,
  writeResult,
  stolenSinceStart,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    mix: { type: 'string', default: 'same-text,distinct-bulk,thousand' },
  },
});
const duration = Number(values.duration);
const appKey = `bench-${Math.random().toString(36).slice(2)}-key`;
const jwtSecret = 'bench-jwt-secret-bench-jwt-secret-0123456789';
const token = jwt.sign({ tenant: 'demo', scope: 'sms:send sms:read' }, jwtSecret, {
  algorithm: 'HS256',
  expiresIn: '1h',
});

let counter = 0;
const number = () => australianMobile(counter++);
const MIXES = {
  'same-text': {
    goal: 3000,
    connections: 200,
    recipients: 1,
    env: { SMSGATE__upstream__bulkSend: 'false' },
    body: () => ({ to: number(), text: 'Your code is ready' }),
  },
  'distinct-bulk': {
    goal: 2000,
    connections: 200,
    recipients: 1,
    env: { SMSGATE__upstream__bulkSend: 'true' },
    body: () => ({ to: number(), text: `Your code is ${counter}` }),
  },
  thousand: {
    goal: 14000,
    connections: 40,
    recipients: 1000,
    env: { SMSGATE__upstream__bulkSend: 'false' },
    body: () => ({ to: Array.from({ length: 1000 }, number), text: 'Service notice for everyone' }),
  },
};

function load(url, mix, seconds) {
  return new Promise((done, fail) =>
    autocannon(
      {
        url: `${url}/v1/messages`,
        connections: mix.connections,
        duration: seconds,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: JSON.stringify(mix.body()) }),
          },
        ],
      },
      (error, result) => (error ? fail(error) : done(result)),
    ),
  );
}

const info = await machine();
const standIn = await startStandIn({ cap: 15, appKey });
const rows = [];
const results = [];
try {
  for (const name of values.mix.split(',')) {
    const mix = MIXES[name];
    if (!mix) throw new Error(`unknown mix ${name}`);
    const { gateway, url } = await startGatewayBeside(standIn, {
      appKey,
      jwtSecret,
      env: { SMSGATE__http__maxInFlightPerTenant: '1000', ...mix.env },
    });
    try {
      await load(url, mix, 3); // warm-up: JIT, keep-alive sockets, SQLite pages
      await new Promise((r) => setTimeout(r, 6000)); // let the warm-up's queue drain
      await standIn.reset();
      await eventLoopDelay(url); // resets the histogram
      const rss = rssSampler(gateway.pid);
      const loadBefore = await loadNow();
      const result = await load(url, mix, duration);
      const loop = await eventLoopDelay(url);
      const peakRss = rss.stop();
      const provider = await standIn.stats();
      const ok = result['2xx'];
      const messagesPerSecond = Math.round((ok * mix.recipients) / duration);
      const r = {
        mix: name,
        connections: mix.connections,
        recipientsPerRequest: mix.recipients,
        answered2xx: ok,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        messagesPerSecond,
        providerCalls: provider.calls,
        // From the stand-in's reset, a few ms before the load, to the first call it saw: the part
        // of the run the budget's pace could not use (every later call waits for the pace).
        firstProviderCallMs: provider.firstArrivalMs,
        providerMessages: provider.messages,
        provider429s: provider.throttled,
        mostArrivalsInAnySecond: provider.mostInAnySecond,
        eventLoopMaxMs: loop.maxMs,
        eventLoopP99Ms: loop.p99Ms,
        peakRssMb: peakRss,
        loadAverage: `${loadBefore} → ${await loadNow()}`,
        goal: mix.goal,
      };
      r.pass =
        messagesPerSecond >= mix.goal &&
        r.provider429s === 0 &&
        r.mostArrivalsInAnySecond <= 15 &&
        r.eventLoopMaxMs < 50;
      results.push(r);
      rows.push([
        name,
        `${messagesPerSecond} (≥ ${mix.goal})`,
        `${ok} / ${r.non2xx} / ${r.errors}`,
        `${r.p50Ms} / ${r.p99Ms}`,
        `${r.providerCalls}`,
        `${r.firstProviderCallMs}`,
        `${r.mostArrivalsInAnySecond} (≤ 15)`,
        `${r.provider429s}`,
        `${r.eventLoopMaxMs} / ${r.eventLoopP99Ms} (max < 50)`,
        `${peakRss}`,
        r.loadAverage,
        r.pass ? 'PASS' : 'FAIL',
      ]);
    } finally {
      gateway.kill('SIGTERM');
    }
  }
} finally {
  standIn.child.kill('SIGTERM');
}
const pass = results.every((r) => r.pass);
const header = [
  'mix',
  'messages/s',
  '2xx / non-2xx / errors',
  'p50 / p99 ms',
  'provider calls',
  'first call ms',
  'most in any 1 s',
  'provider 429s',
  'loop delay max / p99 ms',
  'peak RSS MB',
  'load avg (1 min)',
  'verdict',
];
const text = table(header, rows);
const verdict = `through-cap (${duration} s per mix): ${results.map((r) => `${r.mix} ${r.messagesPerSecond} msg/s`).join(', ')}; most in any second ${Math.max(...results.map((r) => r.mostArrivalsInAnySecond))}, provider 429s ${results.reduce((n, r) => n + r.provider429s, 0)}, loop max ${Math.max(...results.map((r) => r.eventLoopMaxMs))} ms, CPU stolen by the hypervisor ${stolenSinceStart()}: ${pass ? 'PASS' : 'FAIL'}`;
console.log(`${text}\n\n${verdict}`);
const file = writeResult(
  'through-cap',
  { machine: info, duration, results, verdict },
  `# bench/through-cap, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average at start ${info.loadAverage.join(' / ')}, build ${info.build}\n\n${text}\n\n${verdict}\n`,
);
console.log(`written to ${file}`);
process.exitCode = pass ? 0 : 1;
