import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { createUpstreamClient, UpstreamError } from '../../src/upstream';
import { waitFor } from '../support/wait';

/** A loopback stand-in that answers exactly what a test says the provider answered. */
describe('the upstream client against the provider as captured live', () => {
  let server: Server;
  let baseUrl = '';
  let answer: { status: number; body: unknown; headers?: Record<string, string>; bom?: boolean } = {
    status: 200,
    body: {},
  };
  let lastRequest: { headers: IncomingMessage['headers']; body: string } | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        lastRequest = { headers: req.headers, body };
        res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
        res.end(`${answer.bom ? '\uFEFF' : ''}${JSON.stringify(answer.body)}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  // Generous: these cases are not about timeouts, and on a busy machine an answer can take seconds.
  const client = () =>
    createUpstreamClient({ baseUrl, authMode: 'appkey', appKey: 'live-shape-key-123', timeoutMs: 30_000 });
  const send = () =>
    client().sendSms({ text: 'hi', numbers: ['+61485872892'], from: '', customString: 'b-1' });

  it('parses string-typed counts and adds the + the provider leaves off numbers', async () => {
    answer = {
      status: 200,
      body: {
        meta: { code: 200, status: 'SUCCESS' },
        msg: 'Queued',
        data: {
          messages: [
            {
              message_id: '51947A4B-A6F9-AA7C-764B-2A97BF5DD42A',
              from: '61447023680',
              to: '61485872892',
              body: 'hi',
              date: '2022-01-01 10:00:00',
              custom_string: 'b-1',
              direction: 'out',
            },
          ],
          total_numbers: '1',
          success_number: '1',
          credits_used: '1',
        },
        low_sms_alert: 'Your account credits are low',
      },
    };
    await expect(send()).resolves.toEqual({
      messages: [
        {
          providerMessageId: '51947A4B-A6F9-AA7C-764B-2A97BF5DD42A',
          to: '+61485872892',
          from: '61447023680',
        },
      ],
      totalNumbers: 1,
      successNumber: 1,
      creditsUsed: 1,
      lowBalanceAlert: 'Your account credits are low',
    });
    expect(lastRequest?.headers.appkey).toBe('live-shape-key-123');
    expect(JSON.parse(lastRequest?.body ?? '{}')).toEqual({
      sms_text: 'hi',
      numbers: ['+61485872892'],
      from: '',
      custom_string: 'b-1',
    });
  });

  it('reads an answer that starts with a byte-order mark, and says who calls and that it wants no compression', async () => {
    answer = {
      status: 200,
      bom: true,
      body: {
        meta: { code: 200, status: 'SUCCESS' },
        msg: 'Queued',
        data: {
          messages: [{ message_id: 'M-1', to: '61485872892' }],
          total_numbers: 1,
          success_number: 1,
          credits_used: 1,
        },
      },
    };
    await expect(send()).resolves.toMatchObject({ successNumber: 1 });
    expect(lastRequest?.headers).toMatchObject({ 'user-agent': 'smsgate', 'accept-encoding': 'identity' });
  });

  it('treats HTTP 200 with a non-SUCCESS meta.status as a refusal', async () => {
    answer = {
      status: 200,
      body: { meta: { code: 400, status: 'RECIPIENTS_ERROR' }, msg: 'bad numbers', data: [] },
    };
    await expect(send()).rejects.toMatchObject({
      code: 'UPSTREAM_ERROR',
      kind: 'rejected',
      description: 'provider refused send-sms (HTTP 200 RECIPIENTS_ERROR): bad numbers',
    });
  });

  it('honours a Retry-After the provider sends with 429', async () => {
    answer = {
      status: 429,
      body: { meta: { code: 429, status: 'OVER_LIMIT' }, msg: 'slow down', data: [] },
      headers: { 'Retry-After': '3' },
    };
    const error = await send().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'throttled', headers: { 'Retry-After': '3' } });
  });

  it('scrubs the key from a provider message that echoes it', async () => {
    answer = {
      status: 400,
      body: { meta: { code: 400, status: 'FIELD_INVALID' }, msg: 'bad key live-shape-key-123', data: [] },
    };
    const error = (await send().catch((e: unknown) => e)) as UpstreamError;
    expect(error.description).not.toContain('live-shape-key-123');
    expect(error.description).toContain('[REDACTED]');
  });

  it('refuses a plain-http provider URL that is not loopback', () => {
    expect(() =>
      createUpstreamClient({
        baseUrl: 'http://cellcast.com.au/api/v3/',
        authMode: 'appkey',
        appKey: 'k'.repeat(10),
        timeoutMs: 1000,
      }),
    ).toThrow(/https/);
  });
});

describe('a provider host that never accepts the connection (black-holed, or seen too late on a busy host)', () => {
  // A listener in a worker thread that blocks right after listen(): the kernel completes handshakes
  // into its accept queue (backlog 1) until it is full, then silently drops further SYNs, so a
  // later connect never completes — what a firewalled or black-holed provider looks like.
  const gate = new Int32Array(new SharedArrayBuffer(4));
  let worker: Worker;
  let port = 0;
  const fillers: Socket[] = [];

  beforeAll(async () => {
    worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const server = require('node:net').createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         parentPort.postMessage(server.address().port);
         setImmediate(() => Atomics.wait(workerData, 0, 0));
       });`,
      { eval: true, workerData: gate },
    );
    port = await new Promise<number>((resolve) => worker.once('message', resolve));
    for (let i = 0; i < 8; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      fillers.push(socket);
    }
    await waitFor(() => fillers.some((s) => !s.connecting), 5000, 'the accept queue filling');
  });
  afterAll(async () => {
    for (const socket of fillers) socket.destroy();
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await worker.terminate();
  });

  it('a call cut off before its connection was made is unavailable (not sent, may be retried), not unknown', async () => {
    const client = createUpstreamClient({
      baseUrl: `http://127.0.0.1:${port}/api/v3`,
      authMode: 'appkey',
      appKey: 'live-shape-key-123',
      timeoutMs: 300,
    });
    try {
      const error = await client
        .sendSms({ text: 'hi', numbers: ['+61485872892'], from: '', customString: 'b-1' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({
        kind: 'unavailable',
        code: 'UPSTREAM_UNAVAILABLE',
        description: 'provider did not accept a connection for send-sms within 300 ms; not sent',
      });
    } finally {
      client.close();
    }
  });
});
