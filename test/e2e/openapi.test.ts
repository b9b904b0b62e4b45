import type { Express } from 'express';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { startTestGateway } from '../support/gateway';
import { mountedRoutes } from '../support/openapi';
import packageJson from '../../package.json';

describe('GET /openapi.json and /docs', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.stop());

  it('serves an OpenAPI 3.1 document that covers every mounted route', async () => {
    const res = await request(gw.url).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    // One version for the project: the document reports package.json's.
    expect(res.body.info.version).toBe(packageJson.version);
    const documented = new Set(
      Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    const mounted = mountedRoutes(gw.gateway.app as Express);
    expect(mounted.length).toBeGreaterThan(20);
    expect(mounted.filter((route) => !documented.has(route))).toEqual([]);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await request(gw.url).get('/docs/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
