import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUpstreamClient, UpstreamError } from '../../src/upstream';

// The write gate is asked right before a request reaches the provider's socket: on a kept-alive
// socket when the request is handed to the agent, on a new connection when the connect completes.
describe('the upstream client asks the write gate before writing', () => {
  let server: Server;
  let baseUrl = '';
  let arrivals = 0;
  const ok = {
    meta: { code: 200, status: 'SUCCESS' },
    msg: 'Queued',
    data: {
      messages: [{ message_id: 'M-1', to: '61400000001' }],
      total_numbers: 1,
      success_number: 1,
      credits_used: 1,
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      arrivals += 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(ok));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => (arrivals = 0));

  const request = { text: 'hi', numbers: ['+61400000001'], from: '', customString: 'b-1' };
  const client = () =>
    createUpstreamClient({ baseUrl, authMode: 'appkey', appKey: 'gate-test-key-123', timeoutMs: 30_000 });

  it('a stale slot on a new connection: the connection is dropped before anything is written, `stale`', async () => {
    const upstream = client();
    let asked = 0;
    // Fresh when handed to the agent, stale by the time the connection is up.
    const error = await upstream.sendSms(request, () => ++asked === 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'stale', code: 'UPSTREAM_UNAVAILABLE' });
    expect(asked).toBe(2);
    expect(arrivals).toBe(0);
    upstream.close();
  });

  it('a stale slot on a kept-alive socket: refused when handed to the agent, nothing written', async () => {
    const upstream = client();
    await upstream.sendSms(request, () => true); // warms a keep-alive socket
    expect(arrivals).toBe(1);
    let asked = 0;
    const error = await upstream
      .sendSms(request, () => {
        asked += 1;
        return false;
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'stale' });
    expect(asked).toBe(1);
    expect(arrivals).toBe(1);
    // The socket is still good for the next call.
    await expect(upstream.sendSms(request, () => true)).resolves.toMatchObject({ successNumber: 1 });
    expect(arrivals).toBe(2);
    upstream.close();
  });

  it('a fresh slot is written; without a gate every call is written', async () => {
    const upstream = client();
    await upstream.sendSms(request, () => true);
    await upstream.sendSms(request);
    expect(arrivals).toBe(2);
    upstream.close();
  });
});
