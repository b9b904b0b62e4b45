// A strict Cellcast v3 stand-in for the benchmarks, run as its own process so that what it counts
// does not depend on the gateway's event loop. It stamps every request when its headers arrive,
// answers send-sms and bulk-send-sms in the documented shapes, and with --cap N answers 429
// OVER_LIMIT to a request that would make more than N arrivals in the trailing 1000 ms (every
// arrival counts, refused ones too, as a provider counting calls would).
//   node bench/provider-stand-in.mjs --port 0 --appkey KEY [--cap 15]
// Prints `listening <port>` once ready. GET /_stats: arrivals, 429s, messages, most arrivals in any
// 1000 ms, per-second counts, the first arrival's ms since the last reset; POST /_reset clears them.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    appkey: { type: 'string' },
    cap: { type: 'string', default: '0' },
  },
});
const cap = Number(values.cap);
const appKey = values.appkey;
let arrivals = [];
let throttled = 0;
let messages = 0;
let calls = 0;
let next = 0;
let resetAt = performance.now();

const envelope = (numbers, text) => {
  const list = (Array.isArray(numbers) ? numbers : [numbers]).map(String);
  messages += list.length;
  return {
    meta: { code: 200, status: 'SUCCESS' },
    msg: 'Queued',
    data: {
      messages: list.map((to) => ({
        message_id: `S${(next++).toString(16).padStart(12, '0')}`,
        from: '61400000000',
        to: to.replace(/^\+/, ''),
        body: text,
        custom_string: '',
        direction: 'out',
      })),
      total_numbers: list.length,
      success_number: list.length,
      credits_used: list.length,
    },
  };
};

function mostInAnyWindow(times, windowMs) {
  let most = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while (times[to] - times[from] >= windowMs) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

function stats() {
  const start = arrivals[0] ?? 0;
  const perSecond = [];
  for (const t of arrivals) {
    const i = Math.floor((t - start) / 1000);
    perSecond[i] = (perSecond[i] ?? 0) + 1;
  }
  return {
    arrivals: arrivals.length,
    calls,
    throttled,
    messages,
    mostInAnySecond: mostInAnyWindow(arrivals, 1000),
    perSecond: Array.from(perSecond, (n) => n ?? 0),
    // ms from the last reset (a bench resets right before its load) to the first arrival
    firstArrivalMs: arrivals.length > 0 ? Math.round(arrivals[0] - resetAt) : null,
  };
}

const server = createServer((req, res) => {
  const at = performance.now();
  if (req.url === '/_stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(stats()));
    return;
  }
  if (req.url === '/_reset') {
    arrivals = [];
    resetAt = performance.now();
    throttled = 0;
    messages = 0;
    calls = 0;
    res.end('{}');
    return;
  }
  arrivals.push(at);
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    res.setHeader('Content-Type', 'application/json');
    if (appKey && req.headers.appkey !== appKey) {
      res.statusCode = 401;
      res.end(JSON.stringify({ meta: { code: 401, status: 'AUTH_FAILED' }, msg: 'bad key', data: [] }));
      return;
    }
    if (cap > 0) {
      let inWindow = 0;
      for (let i = arrivals.length - 1; i >= 0 && at - arrivals[i] < 1000; i--) inWindow++;
      if (inWindow > cap) {
        throttled++;
        res.statusCode = 429;
        res.end(
          JSON.stringify({ meta: { code: 429, status: 'OVER_LIMIT' }, msg: 'Too many requests', data: [] }),
        );
        return;
      }
    }
    calls++;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.statusCode = 400;
      res.end(JSON.stringify({ meta: { code: 400, status: 'FIELD_INVALID' }, msg: 'bad json', data: [] }));
      return;
    }
    if (req.url.endsWith('/bulk-send-sms')) {
      res.end(JSON.stringify(body.map((m) => envelope(m.numbers, m.sms_text))));
    } else if (req.url.endsWith('/send-sms')) {
      res.end(JSON.stringify(envelope(body.numbers, body.sms_text)));
    } else {
      res.statusCode = 404;
      res.end(
        JSON.stringify({ meta: { code: 404, status: 'NOT_FOUND' }, msg: 'no such endpoint', data: [] }),
      );
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
