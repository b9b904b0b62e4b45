// An open-loop load at a constant rate, for the latency rows (bench/overhead at 200 sends/s, the
// quiet tenant of bench/flood). Request i is due at start + i × 1000 / rate ms and leaves then,
// whether or not the earlier ones were answered; its latency counts from when it was due, in µs
// (performance.now), so a stall anywhere (the server, the kernel, this process) is counted in full
// and nothing is left out: the way wrk2 measures, without coordinated omission.
//
// Why not autocannon's `overallRate` for these rows: it gives each connection a quota per second,
// spent back to back at the top of the second (200/s on 4 connections is 4 chains of 50 requests,
// then nothing for most of the second), and it "corrects" each latency for coordinated omission
// with an expected interval of Math.ceil(1 / rate) = 1 ms whatever the rate (lib/run.js), so an
// answer of L ms is recorded L times (L, L−1, … 1 ms): one slow answer in 100 moves the p99. Its
// histogram also counts whole milliseconds, too coarse for a goal of +1 ms.
//
// Imported: constantRate({ url, method, headers, body, rate, duration }) → { requests, ok, non2xx,
// errors, p50, p90, p99, max } (ms, two decimals). Run as a script, it takes the same options as
// JSON in the CONSTANT_RATE environment variable and prints the result as JSON: bench/flood runs
// its quiet tenant in a process of its own, so the flood's load generator does not delay it.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export async function constantRate({
  url,
  method = 'GET',
  headers = {},
  body,
  rate,
  duration,
  maxSockets = 64,
}) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const payload = body === undefined ? undefined : Buffer.from(body);
  const allHeaders = payload ? { ...headers, 'Content-Length': String(payload.length) } : headers;
  const total = Math.round(rate * duration);
  const intervalMs = 1000 / rate;
  const latencies = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;

  // Every request is counted once, with its time, whatever happens to it: an answer, a failure
  // (counted in `errors`) or a connection closed mid-answer.
  const one = (dueAt) =>
    new Promise((done) => {
      let settled = false;
      let status = 0;
      const settle = (failed) => {
        if (settled) return;
        settled = true;
        latencies.push(performance.now() - dueAt);
        if (failed) errors += 1;
        else if (status >= 200 && status <= 299) ok += 1;
        else non2xx += 1;
        done();
      };
      const request = http.request(target, { method, headers: allHeaders, agent }, (answer) => {
        status = answer.statusCode;
        answer.resume();
        answer.on('end', () => settle(false));
        answer.on('error', () => settle(true));
        answer.on('close', () => settle(!answer.complete));
      });
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
      request.on('error', () => settle(true));
      request.end(payload);
    });

  const start = performance.now() + 5;
  const pending = [];
  let sent = 0;
  await new Promise((finished) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) {
        pending.push(one(start + sent * intervalMs));
        sent += 1;
      }
      if (sent === total) return finished();
      setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
    };
    setTimeout(tick, 5);
  });
  await Promise.all(pending);
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  // Nearest rank: the smallest latency that p % of them do not exceed (of 150, p99 is the 2nd slowest).
  const at = (p) => round2(sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
  return {
    requests: total,
    ok,
    non2xx,
    errors,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round2(sorted.at(-1) ?? 0),
  };
}

/** The same load from a process of its own (resolves when it is done). */
export function constantRateApart(options) {
  return new Promise((done, fail) =>
    execFile(
      process.execPath,
      [import.meta.filename],
      {
        env: { ...process.env, CONSTANT_RATE: JSON.stringify(options) },
        timeout: (options.duration + 60) * 1000,
      },
      (error, stdout) => {
        if (error) return fail(error);
        try {
          done(JSON.parse(stdout));
        } catch (unreadable) {
          fail(unreadable);
        }
      },
    ),
  );
}

const round2 = (ms) => Math.round(ms * 100) / 100;

if (process.argv[1] === import.meta.filename) {
  const result = await constantRate(JSON.parse(process.env.CONSTANT_RATE));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
