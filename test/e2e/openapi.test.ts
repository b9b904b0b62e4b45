import type { Express } from 'express';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { startTestGateway } from '../support/gateway';
import { documentedRoutes, mountedRoutes } from '../support/openapi';

describe('GET /openapi.json and /docs', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.stop());

  it('documents exactly the routes the built app serves, both ways', async () => {
    const res = await request(gw.url).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const documented = documentedRoutes(res.body);
    const mounted = mountedRoutes(gw.gateway.app as Express);
    expect(mounted.length).toBeGreaterThan(20);
    expect({
      servedButNotDocumented: mounted.filter((route) => !documented.includes(route)),
      documentedButNotServed: documented.filter((route) => !mounted.includes(route)),
    }).toEqual({ servedButNotDocumented: [], documentedButNotServed: [] });
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await request(gw.url).get('/docs/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
