// How long `smsgate <command>` takes from process start to exit, against `node -e 0` on the same
// machine (Node's own start). The HTTP commands are pointed at a closed port, so the time is
// start-up, module loading and one refused connection. `node bench/cli-startup.mjs` (after a build).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { root } from './lib.mjs';

const RUNS = Number(process.env.RUNS ?? 7);
const cli = join(root, 'dist/cli.js');
const closed = { SMSGATE_URL: 'http://127.0.0.1:9', SMSGATE_TOKEN: 'x' };
const cases = [
  ['node -e 0 (baseline)', ['-e', '0'], {}],
  ['smsgate help', [cli, 'help'], {}],
  ['smsgate usage', [cli, 'usage'], closed],
  ['smsgate messages --last 1234', [cli, 'messages', '--last', '1234'], closed],
  ['smsgate token --tenant demo', [cli, 'token', '--tenant', 'demo'], {}],
  [
    'smsgate config check config/sandbox.yaml',
    [cli, 'config', 'check', join(root, 'config/sandbox.yaml')],
    {},
  ],
];
const results = [];
for (const [name, args, env] of cases) {
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    spawnSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore', cwd: root });
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  results.push({ name, medianMs: Math.round(ms[Math.floor(ms.length / 2)]), minMs: Math.round(ms[0]) });
}
const out = {
  date: new Date().toISOString(),
  node: process.version,
  loadAverage: loadavg().map((l) => +l.toFixed(1)),
  runs: RUNS,
  results,
};
console.log(JSON.stringify(out, null, 2));
