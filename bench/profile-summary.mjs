// bench/profile-summary: where a profiled process spent its busy time, by who wrote the code that ran:
// Node.js itself, the kernel and V8 (native frames), SQLite, Express 5 and its parts, other
// dependencies, and smsgate's own folders under dist/. Self time only: a Node.js function called
// by our code counts as Node.js, so "ours" is the least our code costs, not all it causes.
// Idle time is left out; the percentages are of the busy time.
// Usage: BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:capacity -- --dialects sqlite
//        node bench/profile-summary.mjs /tmp/prof/CPU.*.cpuprofile [--markdown]
// (only a process that exits by itself writes its profile: the gateway does on SIGTERM, the floors
// do not).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './lib.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { markdown: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [--markdown]');
  process.exit(2);
}

// Express 5 and the packages it is made of (its own dependency tree), so that they count as Express.
const EXPRESS = new Set(
  (
    'express router body-parser raw-body type-is parseurl content-type finalhandler on-finished ' +
    'media-typer mime-types mime-db send statuses http-errors qs cookie vary accepts negotiator depd ' +
    'iconv-lite bytes unpipe ee-first path-to-regexp encodeurl escape-html etag fresh range-parser ' +
    'proxy-addr forwarded ipaddr.js merge-descriptors content-disposition is-promise debug ms ' +
    'safe-buffer setprototypeof toidentifier inherits side-channel side-channel-list side-channel-map ' +
    'side-channel-weakmap object-inspect call-bound get-intrinsic dunder-proto math-intrinsics ' +
    'es-errors function-bind hasown gopd has-symbols es-object-atoms es-define-property ' +
    'call-bind-apply-helpers get-proto once wrappy serve-static cookie-signature'
  ).split(' '),
);

/** Who wrote the code of one profile node. */
function ownerOf({ url, functionName }) {
  if (functionName === '(garbage collector)') return 'V8: garbage collection';
  if (functionName === '(program)' || functionName === '(root)') return 'V8: other';
  if (!url) return 'native: kernel calls and V8 builtins (writev, microtasks, hashing)';
  if (/^node:internal\/(modules|bootstrap)/.test(url)) return 'start-up: module loading';
  if (url.startsWith('node:')) return 'Node.js: http, net, streams, events, timers';
  const pkg = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/)?.[1];
  if (pkg === 'better-sqlite3') return 'SQLite';
  if (pkg !== undefined) return EXPRESS.has(pkg) ? 'Express 5 and its parts' : `dependency: ${pkg}`;
  // better-sqlite3 runs SQLite inside the JavaScript frame that calls it: the ledger's runner.
  if (/dist\/store\/write-plan\.js$/.test(url) && (functionName === 'runSqlite' || functionName === ''))
    return 'SQLite';
  const folder = url.match(/dist\/([^/]+?)(\.js)?(\/|$)/)?.[1];
  return folder === undefined ? url : `smsgate: ${folder}`;
}

const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const byOwner = new Map();
let busy = 0;
for (const [i, id] of profile.samples.entries()) {
  const frame = nodes.get(id).callFrame;
  if (frame.functionName === '(idle)') continue;
  const us = profile.timeDeltas[i] ?? 0;
  busy += us;
  const owner = ownerOf(frame);
  byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
}

const share = (us) => `${((100 * us) / busy).toFixed(1)} %`;
const rows = [...byOwner].sort((a, b) => b[1] - a[1]);
const ours = rows.filter(([owner]) => owner.startsWith('smsgate: ')).reduce((sum, [, us]) => sum + us, 0);
const dependencies = rows
  .filter(([owner]) => owner.startsWith('dependency: '))
  .reduce((sum, [, us]) => sum + us, 0);
const grouped = [
  ...rows.filter(([owner]) => !owner.startsWith('smsgate: ') && !owner.startsWith('dependency: ')),
  ['dependencies other than Express', dependencies],
  ['smsgate’s own code (all of dist/)', ours],
].sort((a, b) => b[1] - a[1]);
const detail = rows.filter(([owner]) => owner.startsWith('smsgate: ') || owner.startsWith('dependency: '));

const summary = `${(busy / 1e6).toFixed(1)} s busy in ${positionals[0].split('/').pop()}`;
if (values.markdown) {
  console.log(
    `${summary}\n\n${table(
      ['who wrote the code', 'share of busy time'],
      grouped.map(([o, us]) => [o, share(us)]),
    )}\n`,
  );
  console.log(
    table(
      ['of which', 'share of busy time'],
      detail.slice(0, 20).map(([o, us]) => [o, share(us)]),
    ),
  );
} else {
  console.log(summary);
  for (const [owner, us] of grouped) console.log(`${share(us).padStart(7)}  ${owner}`);
  console.log('of which:');
  for (const [owner, us] of detail.slice(0, 20)) console.log(`${share(us).padStart(7)}    ${owner}`);
}
