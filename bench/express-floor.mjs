// Two more floors between bench/node-floor.mjs and smsgate, for bench/capacity: what a send costs
// with the parts smsgate is built on and nothing of its own around them.
// - Express floor: the node floor's exchange (same body in, one keep-alive provider call, JSON
//   out) through an Express 5 app with express.json() and one route. Express 5 is the project's
//   framework (architecture.md); its cost per request is this row minus the node floor.
// - With SQLITE_FILE (or DATABASE_URL, PostgreSQL) set, the ledger too: the send is recorded
//   `queued` before the call and its outcome after, through smsgate's own message repository
//   (group commit, prepared statements), as a durable send must. No auth, validation, limits, budget, metrics or logs.
//   What smsgate costs above this row is everything else it does per send.
// - Its server creates each request and response with the app's prototypes, as smsgate's does
//   (src/http/server-objects.ts), so Express does not change them per request. With
//   EXPRESS_PROTOTYPES=per-request (or a BENCH_DIST build without server-objects.js) it is Express
//   as `app.listen` runs it.
//   PORT=… UPSTREAM_URL=http://127.0.0.1:…/api/v3/ APPKEY=… [SQLITE_FILE=… | DATABASE_URL=…] node bench/express-floor.mjs
// GET /readyz answers 200 once it listens, with `X-Floor-Prototypes: born` or `per-request`.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { benchDist as dist, queuedMessage } from './lib.mjs';
import { callProvider } from './provider-call.mjs';

const ledger =
  process.env.SQLITE_FILE || process.env.DATABASE_URL
    ? await openLedger(process.env.SQLITE_FILE, process.env.DATABASE_URL)
    : undefined;

async function openLedger(sqliteFile, databaseUrl) {
  const store = await import(join(dist, 'store', 'index.js'));
  const db = await store.openDatabase({ sqliteFile, databaseUrl });
  await store.migrateToLatest(db);
  return store.createMessageRepository(db);
}

let serial = 0;
function queued(to, text) {
  const n = ++serial;
  const id = `msg_floor_${process.pid}_${String(n).padStart(10, '0')}`;
  return queuedMessage({ id, batchId: `b-floor-${process.pid}-${n}`, recipient: to, text });
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '1mb' }));
app.get('/readyz', (_req, res) => {
  res.set('X-Floor-Prototypes', prototypes).send('ok');
});
app.post('/v1/messages', async (req, res) => {
  const { to, text } = req.body;
  try {
    const message = queued(to, text);
    await ledger?.insertBatch([message]);
    const answer = await callProvider(
      JSON.stringify({ sms_text: text, numbers: [to], from: '', custom_string: message.batchId }),
    );
    const providerMessageId = answer.data?.messages?.[0]?.message_id ?? null;
    await ledger?.recordOutcomes([{ id: message.id, status: 'sent', providerMessageId }], message.createdAt);
    res.status(201).json({ data: answer.data, error: { code: 'SUCCESS', description: '' } });
  } catch {
    res.status(502).end();
  }
});
const serverObjects = join(dist, 'http', 'server-objects.js');
const options =
  process.env.EXPRESS_PROTOTYPES !== 'per-request' && existsSync(serverObjects)
    ? (await import(serverObjects)).serverObjectsOf(app)
    : {};
const prototypes = options.IncomingMessage ? 'born' : 'per-request';
const server = createServer(options, app).listen(Number(process.env.PORT), '127.0.0.1');
server.keepAliveTimeout = 65_000;
