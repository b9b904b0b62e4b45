import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import type { RequestHandler } from 'express';
import { createHttpApp, type RouteDefinition } from '../../src/http';
import { createLogger } from '../../src/observability';
import { testConfig } from '../support/gateway';
import { waitFor } from '../support/wait';

// Under a load of sends, the requests a poll phase reads all ran their whole chain (routing,
// authentication, the limiter, validation) in that phase: 200 connections' requests held the loop
// 55-86 ms (docs/benchmarks.md). Each request now waits for its turn (nextCpuTurn in the gateway)
// once its body is read, and the routes run in turns.
describe('a request takes its turn before the routes', () => {
  const granted: (() => void)[] = [];
  const reached: string[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const pass: RequestHandler = (_req, _res, next) => next();
    const echo: RouteDefinition = {
      method: 'post',
      path: '/echo',
      access: 'public',
      summary: 'echo',
      tags: [],
      responses: { 200: { description: 'the body' } },
      handler: (req, res) => {
        reached.push(JSON.stringify(req.body));
        res.json({ data: req.body as unknown, error: { code: 'SUCCESS', description: '' } });
      },
    };
    const app = createHttpApp(
      testConfig(),
      {
        logger: createLogger({
          level: 'silent',
          secrets: [],
          destination: new Writable({ write: (_c, _e, done) => done() }),
        }),
        httpMetrics: pass,
        isDraining: () => false,
        guards: { authenticate: pass, rateLimit: pass, requireAccess: () => pass },
        takeTurn: () => new Promise<void>((resolve) => granted.push(resolve)),
      },
      { publicRoutes: [echo], tenantRoutes: [] },
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('waits for its turn before the routes, and reaches its route only once the turn is granted', async () => {
    const answers = [1, 2].map((n) =>
      fetch(`${url}/echo`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ n }),
      }),
    );
    await waitFor(() => granted.length === 2, 5000, 'both requests asking for a turn');
    expect(reached).toEqual([]);

    granted.shift()!();
    await waitFor(() => reached.length === 1, 5000, 'the first request reaching its route');
    granted.shift()!();
    const bodies = await Promise.all(answers.map(async (answer) => (await answer).json()));
    expect(bodies).toEqual([
      { data: { n: 1 }, error: { code: 'SUCCESS', description: '' } },
      { data: { n: 2 }, error: { code: 'SUCCESS', description: '' } },
    ]);
    expect(reached.sort()).toEqual(['{"n":1}', '{"n":2}']);
  });
});
