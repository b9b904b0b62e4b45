// bench/recipients: the CPU a send's recipient checks cost, per number: `normaliseRecipients` (the
// send path's checks: libphonenumber parses each number and asks its type, then the tenant's
// types and countries) on sends of --size new Australian mobiles in national form, as bench:cap's
// 1,000-recipient mix sends them.
//
// Each build (--dist, repeatable; default dist/) is measured in a process of its own (each loads
// its own libphonenumber, which a build may tune: src/messages/phone-number.ts), --rounds times,
// the builds taking turns round by round so that the host's drift falls on all of them. A round
// checks 10 warm-up sends, then --sends measured ones, and reports the process's CPU time (user +
// system) per number. Printed per build: the median round and the range. No goal: compares builds.
// Usage: node bench/recipients.mjs [--dist /tmp/before/dist --dist dist --rounds 9 --sends 30 --size 1000]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { australianMobile, machine, percentile, root, table, writeResult } from './lib.mjs';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', multiple: true, default: ['dist'] },
    rounds: { type: 'string', default: '9' },
    sends: { type: 'string', default: '30' },
    size: { type: 'string', default: '1000' },
    label: { type: 'string' },
    // Internal: one round of one build, in a process of its own; prints µs a number.
    round: { type: 'string' },
  },
});
const SENDS = Number(values.sends);
const SIZE = Number(values.size);

if (values.round !== undefined) {
  const { normaliseRecipients } = await import(resolve(values.round, 'messages', 'index.js'));
  const tenant = { numberTypes: ['mobile', 'fixed_line_or_mobile'], allowedCountries: ['AU'] };
  let serial = 0;
  const send = () => Array.from({ length: SIZE }, () => australianMobile(serial++));
  const check = (list) => {
    if (normaliseRecipients(list, tenant, 'AU', SIZE).length !== SIZE)
      throw new Error('a number was refused');
  };
  for (let i = 0; i < 10; i++) check(send());
  const sends = Array.from({ length: SENDS }, send);
  const before = process.cpuUsage();
  for (const list of sends) check(list);
  const used = process.cpuUsage(before);
  console.log(((used.user + used.system) / (SENDS * SIZE)).toFixed(3));
  process.exit(0);
}

const dists = values.dist.map((d) => resolve(root, d));
const perDist = new Map(dists.map((d) => [d, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const dist of dists) {
    const out = execFileSync(
      process.execPath,
      [import.meta.filename, '--round', dist, '--sends', String(SENDS), '--size', String(SIZE)],
      { encoding: 'utf8' },
    );
    perDist.get(dist).push(Number(out.trim()));
  }
}
const info = await machine();
const rows = dists.map((dist) => {
  const sorted = [...perDist.get(dist)].sort((a, b) => a - b);
  return { dist, medianUs: percentile(sorted, 50), minUs: sorted[0], maxUs: sorted.at(-1), rounds: sorted };
});
const markdown = `# bench/recipients, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), load average ${info.loadAverage.join(' / ')}${values.label ? ` (${values.label})` : ''}

CPU µs a number of \`normaliseRecipients\`, sends of ${SIZE} new Australian mobiles (national form), ${SENDS} sends a round after 10 warm-up, ${values.rounds} rounds a build, builds taking turns.

${table(
  ['build', 'µs a number, median round', 'range'],
  rows.map((r) => [r.dist, r.medianUs.toFixed(2), `${r.minUs.toFixed(2)}–${r.maxUs.toFixed(2)}`]),
)}
`;
console.log(markdown);
console.log(
  `written to ${writeResult(`recipients${values.label ? `-${values.label}` : ''}`, { machine: info, sends: SENDS, size: SIZE, rows }, markdown)}`,
);
