import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { securityHeaders } from '../../src/http';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';

describe('the HTTP edge', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ http: { bodyLimit: '2kb' } });
  });
  afterAll(() => gw.stop());

  it('answers unknown routes with the NOT_FOUND envelope', async () => {
    const res = await request(gw.url).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', description: 'no route GET /nope' }, data: {} });
  });

  it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE before authenticating it', async () => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      description: 'body: larger than the limit of 2048 bytes',
    });
  });

  it('refuses JSON nested deeper than 32 levels with 400 before authenticating it; 32 levels are parsed as usual', async () => {
    // {"reference": [[…]]}: the object is one level, the arrays the rest.
    const body = (depth: number) =>
      `{"to":"0412345678","text":"hi","reference":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const logged = captured.logLines.length;
    const deep = await request(gw.url).post('/v1/messages').type('json').send(body(33));
    expect(deep.status).toBe(400);
    expect(deep.body).toEqual({
      error: { code: 'FIELD_INVALID', description: 'body: nested deeper than 32 levels' },
      data: {},
    });
    const bounded = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .type('json')
      .send(body(32));
    expect(bounded.status).toBe(400);
    expect(bounded.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: 'reference: Invalid input: expected string, received array',
    });
    // The same limit on every JSON route, e.g. the public token endpoint.
    const token = await request(gw.url)
      .post('/v1/auth/token')
      .type('json')
      .send(`${'['.repeat(400)}${']'.repeat(400)}`);
    expect(token.status).toBe(400);
    expect(token.body.error.description).toBe('body: nested deeper than 32 levels');
    expect(captured.logLines.slice(logged).filter((line) => line.includes('unhandled error'))).toEqual([]);
    expect(gw.sandbox!.calls).toEqual([]);
  });

  it.each([
    ['null', 'got null'],
    [' "hi"', 'got a string'],
    ['42', 'got a number'],
    ['true', 'got a boolean'],
  ])('says a JSON body of %s must be a JSON object (%s), not that it is malformed', async (text, got) => {
    const res = await request(gw.url).post('/v1/messages').type('json').send(text);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: `body: must be a JSON object, ${got}`,
    });
    const malformed = await request(gw.url).post('/v1/messages').type('json').send('{"to": ');
    expect(malformed.body.error.description).toBe('body: malformed JSON');
  });

  it('refuses an unsupported charset with 415', async () => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .set('Content-Type', 'application/json; charset=koi8-r')
      .send('{}');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('never answers with x-powered-by, always with a request id, and with helmet headers', async () => {
    const res = await request(gw.url).get('/healthz');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const echoed = await request(gw.url).get('/healthz').set('X-Request-Id', 'trace-123');
    expect(echoed.headers['x-request-id']).toBe('trace-123');
    const unsafe = await request(gw.url).get('/healthz').set('X-Request-Id', 'bad id\twith tab');
    expect(unsafe.headers['x-request-id']).not.toContain('bad');
  });

  it('answers the API without an ETag (no body is hashed for one)', async () => {
    const res = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha')));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBeUndefined();
    expect((await request(gw.url).get('/healthz')).headers.etag).toBeUndefined();
  });

  it('reports liveness and readiness in the envelope', async () => {
    expect((await request(gw.url).get('/healthz')).body).toEqual({
      error: { code: 'SUCCESS', description: '' },
      data: { status: 'ok' },
    });
    expect((await request(gw.url).get('/readyz')).body.data).toEqual({ status: 'ready' });
  });

  it('hides internal errors behind INTERNAL_ERROR with a request id and no stack trace', async () => {
    const original = gw.db.selectFrom.bind(gw.db);
    gw.db.selectFrom = () => {
      throw new Error('boom at /work/src/secret/path.ts:12');
    };
    try {
      const res = await request(gw.url)
        .get('/v1/messages')
        .set(bearer(tokenFor('alpha')))
        .set('X-Request-Id', 'req-500');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error: { code: 'INTERNAL_ERROR', description: 'internal error (request id req-500)' },
        data: {},
      });
      expect(res.text).not.toMatch(/boom|\.ts:|at /);
    } finally {
      gw.db.selectFrom = original;
    }
  });
});

describe('HTTPS only, as the contract says', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ mode: 'production', http: { trustProxy: 1 } });
  });
  afterAll(() => gw.stop());

  it('refuses plain HTTP in production mode, even from loopback', async () => {
    const res = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha')));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('HTTPS_REQUIRED');
  });

  it('accepts a request a trusted proxy says came over HTTPS', async () => {
    const res = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .set('X-Forwarded-Proto', 'https');
    expect(res.status).toBe(200);
  });

  it('leaves the health probes reachable over plain HTTP', async () => {
    expect((await request(gw.url).get('/healthz')).status).toBe(200);
  });
});

describe('the security headers, computed once from helmet', () => {
  it.each([
    ['without HSTS', { strictTransportSecurity: false as const }],
    ['with HSTS', { strictTransportSecurity: { maxAge: 86_400, includeSubDomains: true } }],
  ])('are the headers helmet sets on a request (%s)', async (_name, options) => {
    const app = express();
    app.use(helmet(options));
    app.get('/', (_req, res) => {
      res.end();
    });
    const fromHelmet = (await request(app).get('/')).headers;
    const listed = securityHeaders(helmet(options));
    expect(Object.isFrozen(listed)).toBe(true);
    expect(listed.length).toBeGreaterThanOrEqual(10);
    for (const [name, value] of listed) expect([name, fromHelmet[name.toLowerCase()]]).toEqual([name, value]);
    const expected = Object.keys(fromHelmet).filter(
      (name) => !['date', 'connection', 'content-length', 'keep-alive', 'transfer-encoding'].includes(name),
    );
    expect(listed.map(([name]) => name.toLowerCase()).sort()).toEqual(expected.sort());
  });
});
