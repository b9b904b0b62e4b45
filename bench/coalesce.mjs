// bench/coalesce: the CPU one coalesced provider call costs the event loop once its slot is granted,
// for a group of N one-number sends of the same text: the merged request built, the provider's
// answer (a stand-in function here, no HTTP) shared out to every member, every member resolved.
// Through the cap, sends that queue behind a slot all join its group, so the group grows with how
// long the budget makes them wait: ~170 members at 2,500 sends/s, up to 1,000 (maxNumbers) after a
// stall. Runs the built coalescer (BENCH_DIST or dist/), in this process; --rounds calls per size,
// the median CPU printed. No goal: the figure to watch is how the cost grows with the group.
// Usage: node bench/coalesce.mjs [--sizes 10,170,1000 --rounds 40]
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDist, machine, table, writeResult } from './lib.mjs';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,170,1000' },
    rounds: { type: 'string', default: '40' },
    label: { type: 'string' },
  },
});
const { createSendCoalescer } = createRequire(import.meta.url)(join(benchDist, 'scheduler', 'coalescer.js'));

/** The numbers one provider call may carry (upstream's maxNumbers). */
const MAX_NUMBERS = 1000;

/** CPU (user + system, ms) of one merged call of `size` one-number sends, from its slot's grant. */
async function mergedCall(size) {
  let grant;
  const budget = { run: (_tenant, call) => new Promise((granted) => (grant = () => granted(call({})))) };
  const upstream = {
    sendSms: async (request) => ({
      messages: request.numbers.map((to, i) => ({ providerMessageId: `P${i}`, to, from: '' })),
      totalNumbers: request.numbers.length,
      successNumber: request.numbers.length,
      creditsUsed: request.numbers.length,
    }),
  };
  const send = createSendCoalescer({
    budget,
    upstream,
    clock: {},
    enabled: true,
    windowMs: 0,
    maxNumbers: MAX_NUMBERS,
    bulkSend: false,
  });
  const sends = [];
  // The first send takes the slot's group; the rest join it while it waits.
  for (let i = 0; i < size; i++) {
    sends.push(
      send('t', {
        text: 'Your code is ready',
        numbers: [`+614${10_000_000 + i}`],
        from: '',
        customString: 'b',
      }),
    );
  }
  const before = process.cpuUsage();
  grant();
  const results = await Promise.all(sends);
  const used = process.cpuUsage(before);
  // Each member got its own number's message back (what the timed work is for).
  const last = results.at(-1)?.messages.map((m) => m.to);
  if (last?.length !== 1 || last[0] !== `+614${10_000_000 + size - 1}`) throw new Error('wrong share');
  return (used.user + used.system) / 1000;
}

const rounds = Number(values.rounds);
const sizes = values.sizes.split(',').map(Number);
// One group per call: a larger size would open a second group, which this bench never grants.
if (sizes.some((size) => !(size >= 1 && size <= MAX_NUMBERS)))
  throw new Error(`--sizes: 1 to ${MAX_NUMBERS} each`);
const rows = [];
for (const size of sizes) {
  const ms = [];
  for (let i = 0; i < rounds; i++) ms.push(await mergedCall(size));
  ms.sort((a, b) => a - b);
  rows.push({
    size,
    medianMs: Math.round(ms[Math.floor(rounds / 2)] * 100) / 100,
    minMs: Math.round(ms[0] * 100) / 100,
  });
}
const info = await machine();
const headers = ['members (one number each)', 'CPU per merged call, median ms', 'least ms'];
const markdown = `# bench/coalesce, ${info.date} on ${info.host} (${info.cpus}, Node ${info.node}), build ${info.build}, load average ${info.loadAverage.join(' / ')}${values.label ? ` (${values.label})` : ''}

${table(
  headers,
  rows.map((r) => [r.size, r.medianMs, r.minMs]),
)}
`;
console.log(markdown);
console.log(
  `written to ${writeResult(`coalesce${values.label ? `-${values.label}` : ''}`, { machine: info, dist: benchDist, rounds, rows }, markdown)}`,
);
