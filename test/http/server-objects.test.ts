import { Agent, createServer, get as httpGet, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import express, { type Express } from 'express';
import request from 'supertest';
import { serverObjectsOf } from '../../src/http';

// The gateway's server creates each request and response with the Express app's prototypes, so
// Express's own per-request prototype change is a no-op (src/http/server-objects.ts). Express and
// Node must not notice: every answer is the same as a server of Node's own objects gives.

/** An app that uses what Express adds to both objects: the body parser, getters, res.status/json/set. */
function exampleApp(): Express {
  const app = express();
  app.set('query parser', 'simple');
  app.use(express.json());
  app.post('/echo/:id', (req, res) => {
    res
      .status(201)
      .set('X-Seen', `${req.method} ${req.path}`)
      .json({
        id: req.params.id,
        body: req.body as unknown,
        query: req.query,
        type: req.get('content-type'),
        host: req.hostname,
        json: req.is('json'),
      });
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    res.write('one,');
    res.end('two');
  });
  return app;
}

/** What a 'request' listener in front of the app saw: the prototypes the objects were born with. */
interface Born {
  request: object | null;
  response: object | null;
}

async function listen(
  app: Express,
  withObjects: boolean,
): Promise<{ server: Server; url: string; born: Born[] }> {
  const server = withObjects ? createServer(serverObjectsOf(app), app) : createServer(app);
  const born: Born[] = [];
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    born.push({
      request: Object.getPrototypeOf(req) as object,
      response: Object.getPrototypeOf(res) as object,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, born };
}

describe("a server whose requests are born with the app's prototypes", () => {
  const app = exampleApp();
  let ours: Awaited<ReturnType<typeof listen>>;
  let nodes: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    ours = await listen(app, true);
    nodes = await listen(app, false);
  });
  afterAll(async () => {
    await new Promise((resolve) => ours.server.close(resolve));
    await new Promise((resolve) => nodes.server.close(resolve));
  });

  it('creates each request and response with app.request and app.response, before Express sees them', async () => {
    await request(ours.url).get('/stream');
    expect(ours.born).toHaveLength(1);
    expect(ours.born[0]?.request).toBe(app.request);
    expect(ours.born[0]?.response).toBe(app.response);
    // Node's own server: Node's prototypes, which Express changes.
    await request(nodes.url).get('/stream');
    expect(nodes.born[0]?.request).toBe(IncomingMessage.prototype);
    expect(nodes.born[0]?.response).toBe(ServerResponse.prototype);
  });

  it('answers as a server of Node’s own objects does: body, params, query, getters, headers, status', async () => {
    const send = (url: string) =>
      request(url)
        .post('/echo/42?x=1&y=two')
        .set('Content-Type', 'application/json')
        .send({ hello: 'world' });
    const [mine, theirs] = [await send(ours.url), await send(nodes.url)];
    expect(mine.status).toBe(201);
    expect(mine.body).toEqual({
      id: '42',
      body: { hello: 'world' },
      query: { x: '1', y: 'two' },
      type: 'application/json',
      host: '127.0.0.1',
      json: 'json',
    });
    expect(mine.headers['x-seen']).toBe('POST /echo/42');
    expect(theirs.status).toBe(mine.status);
    expect(mine.body).toEqual(theirs.body);
    // The same headers, in the same order, with the same values (but the date).
    const headers = (res: typeof mine) => Object.entries(res.headers).filter(([name]) => name !== 'date');
    expect(headers(mine)).toEqual(headers(theirs));
  });

  it('streams a body written in parts, and keeps the connection for the next request', async () => {
    let connections = 0;
    const count = () => connections++;
    ours.server.on('connection', count);
    const agent = new Agent({ keepAlive: true });
    const get = () =>
      new Promise<{ type: string | undefined; text: string }>((resolve, reject) =>
        httpGet(`${ours.url}/stream`, { agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ type: res.headers['content-type'], text }));
        }).on('error', reject),
      );
    try {
      expect(await get()).toEqual({ type: 'text/plain; charset=utf-8', text: 'one,two' });
      expect(await get()).toEqual({ type: 'text/plain; charset=utf-8', text: 'one,two' });
      expect(connections).toBe(1);
    } finally {
      agent.destroy();
      ours.server.off('connection', count);
    }
  });

  it('gives each response its own res.locals, and HEAD, HTTP/1.0 and Expect: 100-continue their usual answers', async () => {
    const locals = express();
    locals.get('/locals', (_req, res) => {
      const mine = res.locals as { seen?: boolean };
      const fresh = mine.seen === undefined;
      mine.seen = true;
      res.json({ fresh });
    });
    const server = await listen(locals, true);
    try {
      expect((await request(server.url).get('/locals')).body).toEqual({ fresh: true });
      expect((await request(server.url).get('/locals')).body).toEqual({ fresh: true });
    } finally {
      await new Promise((resolve) => server.server.close(resolve));
    }
    const head = await request(ours.url).head('/stream');
    expect(head.status).toBe(200);
    expect(head.text).toBeUndefined();
    // HTTP/1.0 and Expect: 100-continue, on a raw socket: the status line is what Node sends.
    const raw = (lines: string[]) =>
      new Promise<string>((resolve, reject) => {
        const { port } = new URL(ours.url);
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(lines.join('\r\n')));
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const old = await raw(['GET /stream HTTP/1.0', 'Host: 127.0.0.1', '', '']);
    expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(old).toMatch(/\r\n\r\none,two$/);
    const body = JSON.stringify({ hello: 'continue' });
    const continued = await raw([
      'POST /echo/7 HTTP/1.1',
      'Host: 127.0.0.1',
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
      'Expect: 100-continue',
      'Connection: close',
      '',
      body,
    ]);
    expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
    expect(continued).toContain('"body":{"hello":"continue"}');
  });

  it('passes the server’s options to Node’s constructors (the response’s high-water mark)', async () => {
    const marks = express();
    marks.get('/mark', (_req, res) => {
      res.json({ mark: res.writableHighWaterMark });
    });
    const server = createServer({ ...serverObjectsOf(marks), highWaterMark: 1024 }, marks);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect((await request(`http://127.0.0.1:${port}`).get('/mark')).body).toEqual({ mark: 1024 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers a malformed body with the parser’s 400, as before', async () => {
    const res = await request(ours.url).post('/echo/1').set('Content-Type', 'application/json').send('{"x":');
    expect(res.status).toBe(400);
  });
});

describe('the objects keep fast properties', () => {
  // V8's own check, which functions parsed while this flag is set may call (turned off again after
  // these tests: the flag is the worker process's). An object in dictionary mode (slow properties)
  // makes every property access on it, Node's and Express's, a look-up.
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- %-calls exist only in code parsed now
  const hasFastProperties = new Function('object', 'return %HasFastProperties(object)') as (
    object: object,
  ) => boolean;
  hasFastProperties({}); // parsed in full now, while the flag is on
  afterAll(() => setFlagsFromString('--no-allow-natives-syntax'));

  it('from start-up to the end of the answer, with what Express and the app add to them', async () => {
    const app = exampleApp();
    const seen: boolean[] = [];
    const server = createServer(serverObjectsOf(app), (req, res) => {
      seen.push(hasFastProperties(req), hasFastProperties(res));
      res.on('finish', () => seen.push(hasFastProperties(req), hasFastProperties(res)));
      app(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 10; i++) {
        const res = await request(`http://127.0.0.1:${port}`).post('/echo/1?x=1').send({ i });
        expect(res.status).toBe(201);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen).toHaveLength(40);
    expect(seen.every(Boolean)).toBe(true);
  });

  it('as V8 tells them from an object whose properties are slow (the check can fail)', () => {
    const slow: Record<string, number> = { a: 1, b: 2 };
    delete slow.a; // deleting a property that is not the last one makes a dictionary
    expect(hasFastProperties(slow)).toBe(false);
    const req = Object.assign(new IncomingMessage(undefined as never), {
      method: 'GET',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
    });
    const { ServerResponse: Ours } = serverObjectsOf(express());
    expect(hasFastProperties(new (Ours as typeof ServerResponse)(req))).toBe(true);
  });
});

describe('when Node’s constructors cannot be called on our object', () => {
  /** serverObjectsOf from a fresh copy of the module, over node:http with these constructors. */
  function withConstructors(wrap: <T extends object>(constructor: T) => T) {
    let options: object | undefined;
    jest.isolateModules(() => {
      jest.doMock('node:http', () => {
        const actual = jest.requireActual<typeof import('node:http')>('node:http');
        return {
          ...actual,
          IncomingMessage: wrap(class extends actual.IncomingMessage {}),
          ServerResponse: wrap(class extends actual.ServerResponse {}),
        };
      });
      type Module = typeof import('../../src/http/server-objects');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fresh = require('../../src/http/server-objects') as Module;
      options = fresh.serverObjectsOf(express());
    });
    jest.dontMock('node:http');
    return options;
  }

  it('gives no options, so Node creates its own objects and Express changes their prototypes as before', () => {
    // A Node.js release whose constructors are classes.
    expect(withConstructors((constructor) => constructor)).toEqual({});
    // An instrumentation library that wraps them (its wrapper does not read as a class).
    expect(withConstructors((constructor) => new Proxy(constructor, {}))).toEqual({});
    // Node.js 20's own.
    expect(Object.keys(serverObjectsOf(express()))).toEqual(['IncomingMessage', 'ServerResponse']);
  });
});
