// The least a gateway written in Node.js can cost on this machine: an HTTP server that takes the
// same POST /v1/messages body, makes one keep-alive call to the provider with the APPKEY, and
// answers JSON. No auth, no validation, no ledger, no framework. What it costs (CPU per request,
// latency added over calling the provider directly) is Node's HTTP parser and the kernel's
// loopback, which smsgate pays too; what smsgate costs above it is its own code.
// With REFUSE=1 it answers every POST with a 429 envelope instead (no provider call): the least a
// Node.js server costs per refusal, the floor of bench/flood. With REFUSE_AUTH=<Authorization
// value> it refuses only the requests that carry it (the flooding tenant) and sends the others
// (the quiet tenant's): what a quiet tenant gets at best during that flood on this machine.
//   PORT=… UPSTREAM_URL=http://127.0.0.1:…/api/v3/ APPKEY=… [REFUSE=1 | REFUSE_AUTH=…] node bench/node-floor.mjs
// GET /readyz answers 200 once it listens.
import http from 'node:http';
import { callProvider } from './provider-call.mjs';

const refuseAll = process.env.REFUSE === '1';
const refuseAuth = process.env.REFUSE_AUTH || undefined;
const refusal = JSON.stringify({ data: null, error: { code: 'OVER_LIMIT', description: 'rate limit' } });

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.end('ok');
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    if (refuseAll || (refuseAuth !== undefined && req.headers.authorization === refuseAuth)) {
      res.writeHead(429, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(refusal),
      });
      res.end(refusal);
      return;
    }
    try {
      const { to, text } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const answer = await callProvider(
        JSON.stringify({ sms_text: text, numbers: [to], from: '', custom_string: 'floor' }),
      );
      const body = JSON.stringify({ data: answer.data, error: { code: 'SUCCESS', description: '' } });
      res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
