import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { Writable } from 'node:stream';
import { boundInFlight } from '../../src/limits';
import { accessLogger, ApiError, errorHandler } from '../../src/http';

describe('refusals are cheap answers', () => {
  it('a 4xx ApiError captures no stack frames; a 5xx one keeps its stack', () => {
    const refusal = new ApiError('OVER_LIMIT', 'rate limit: too many');
    expect(refusal.stack).toBe('ApiError: OVER_LIMIT: rate limit: too many');
    expect(refusal).toBeInstanceOf(Error);
    expect(new ApiError('UPSTREAM_UNAVAILABLE', 'provider down').stack).toMatch(/\n\s+at /);
    // The limit is restored for everyone else.
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });

  it('a refusal still answers the envelope with its code, description and headers', async () => {
    const app = express();
    app.get('/x', (_req, _res, next) =>
      next(new ApiError('OVER_LIMIT', 'rate limit: slow down', { 'Retry-After': '3' })),
    );
    app.use(errorHandler(pino({ level: 'silent' })));
    const res = await request(app).get('/x');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.body).toMatchObject({ error: { code: 'OVER_LIMIT', description: 'rate limit: slow down' } });
  });
});

describe('the access log samples 2xx and 429 answers, and keeps every 5xx', () => {
  function logged(level: 'info' | 'debug', sampleEvery: number) {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level }, sink);
    const app = express();
    const log = accessLogger(logger, { sampleEvery });
    app.use((req, res, next) => {
      log(req, res);
      next();
    });
    app.get('/status/:code', (req, res) => {
      res.status(Number(req.params.code)).json({});
    });
    return { app, lines };
  }

  it('at info: one in sampleEvery of 2xx and 429, every 5xx and every other 4xx', async () => {
    const { app, lines } = logged('info', 10);
    for (let i = 0; i < 30; i++) await request(app).get('/status/200');
    for (let i = 0; i < 20; i++) await request(app).get('/status/429');
    for (let i = 0; i < 7; i++) await request(app).get('/status/503');
    for (let i = 0; i < 3; i++) await request(app).get('/status/500');
    for (let i = 0; i < 4; i++) await request(app).get('/status/404');
    const byStatus = (code: number) =>
      lines.filter((l) => (l.res as { statusCode: number }).statusCode === code);
    expect(byStatus(200)).toHaveLength(3);
    expect(byStatus(429)).toHaveLength(2);
    expect(byStatus(200)[0]).toMatchObject({ level: 30, sampled: 10, msg: 'GET /status/200 200' });
    expect(byStatus(503)).toHaveLength(7);
    expect(byStatus(503)[0]).toMatchObject({ level: 40, msg: 'GET /status/503 503' });
    expect(byStatus(500)).toHaveLength(3);
    expect(byStatus(500)[0]).toMatchObject({ level: 50 });
    expect(byStatus(404)).toHaveLength(4);
    for (const line of lines) {
      expect(line.req).toMatchObject({ method: 'GET', path: expect.stringMatching(/^\/status\//) });
      expect(typeof (line.req as { id: unknown }).id).toBe('string');
    }
  });

  it('at debug: every answer, the unsampled ones at debug', async () => {
    const { app, lines } = logged('debug', 10);
    for (let i = 0; i < 10; i++) await request(app).get('/status/200');
    expect(lines).toHaveLength(10);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(9);
  });
});

describe('a bound on the requests a tenant has open at once', () => {
  it('refuses the request over the bound with 429 OVER_LIMIT, and frees the place when an answer ends', async () => {
    const app = express();
    const release: (() => void)[] = [];
    app.use((req, _res, next) => {
      req.user = { tenantId: String(req.headers['x-tenant']), scopes: [], subject: undefined };
      next();
    });
    app.use(boundInFlight(2));
    app.get('/slow', (_req, res) => {
      release.push(() => res.json({ ok: true }));
    });
    app.get('/fast', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorHandler(pino({ level: 'silent' })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slow = [
        fetch(`${url}/slow`, { headers: { 'x-tenant': 'a' } }),
        fetch(`${url}/slow`, { headers: { 'x-tenant': 'a' } }),
      ];
      while (release.length < 2) await new Promise((resolve) => setImmediate(resolve));
      const over = await fetch(`${url}/fast`, { headers: { 'x-tenant': 'a' } });
      expect(over.status).toBe(429);
      expect(await over.json()).toMatchObject({
        error: { code: 'OVER_LIMIT', description: expect.stringContaining('http.maxInFlightPerTenant') },
      });
      // Another tenant is not affected.
      expect((await fetch(`${url}/fast`, { headers: { 'x-tenant': 'b' } })).status).toBe(200);
      release.shift()?.();
      await (await slow[0]!).json();
      expect((await fetch(`${url}/fast`, { headers: { 'x-tenant': 'a' } })).status).toBe(200);
      release.shift()?.();
      await (await slow[1]!).json();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
