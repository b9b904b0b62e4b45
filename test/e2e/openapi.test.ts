import Ajv2020 from 'ajv/dist/2020';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { documentedRoutes, mountedRoutes } from '../support/openapi';
import { openEventStream } from '../support/sse';
import { waitFor } from '../support/wait';
import packageJson from '../../package.json';

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
    // One version for the project: the document reports package.json's.
    expect(res.body.info.version).toBe(packageJson.version);
    const documented = documentedRoutes(res.body);
    const mounted = mountedRoutes(gw.gateway.app);
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

describe('the events documented as webhooks', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      sandbox: { dlrDelayMs: 30 },
      inbound: { rules: [{ keyword: 'alpha', tenant: 'alpha' }], defaultTenant: 'alpha' },
      // Opt-outs on the account list, so a STOP and a START that are no replies count (for alpha).
      optOuts: { scope: 'account' },
      account: { lowBalanceThreshold: 2_000_000, notifyTenants: ['alpha'] },
      tenants: {
        alpha: {
          scopes: ['sms:send', 'sms:read', 'sms:read:all', 'verify:send', 'verify:check', 'admin'],
          templates: {
            verify: { text: 'Code {{code}}', fields: { code: { type: 'digits', maxLength: 6 } } },
          },
          verification: { template: 'verify' },
        },
      },
    });
  });
  afterAll(() => gw.stop());

  it('are what the gateway really sends', async () => {
    const document = (await request(gw.url).get('/openapi.json')).body;
    expect(Object.keys(document.webhooks).sort()).toEqual([
      'account.low_balance',
      'contact.opted_in',
      'contact.opted_out',
      'fraud.suspected',
      'message.inbound',
      'message.status',
      'verification.approved',
      'verification.expired',
    ]);
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(document, 'openapi');
    const payloadOf = (type: string) =>
      ajv.getSchema(`openapi#/webhooks/${type}/post/requestBody/content/application~1json/schema`)!;

    const stream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'hello' })
      .expect(201);
    await request(gw.url)
      .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`)
      .send([{ message_id: `IN-${Date.now()}`, from: '61412345678', body: 'alpha hi' }])
      .expect(200);
    for (const [i, body] of ['STOP', 'START'].entries()) {
      await request(gw.url)
        .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`)
        .send([{ message_id: `IN-${Date.now()}-${i}`, from: '61412345670', body }])
        .expect(200);
    }
    await gw.gateway.account.pollOnce(); // the sandbox's balance is below 2 000 000
    const verification = await request(gw.url)
      .post('/v1/verifications')
      .set(bearer(tokenFor('alpha', { scope: 'verify:send' })))
      .send({ to: '0423456789', channel: 'sms' })
      .expect(201);
    const code = /Code (\d+)/.exec([...gw.sandbox!.sent.values()].at(-1)!.body)![1];
    await request(gw.url)
      .post(`/v1/verifications/${verification.body.data.id}/check`)
      .set(bearer(tokenFor('alpha', { scope: 'verify:check' })))
      .send({ code })
      .expect(200);
    const events = await waitFor(
      () =>
        [
          'message.status',
          'message.inbound',
          'contact.opted_out',
          'contact.opted_in',
          'account.low_balance',
          'verification.approved',
        ].every((type) => stream.events.some((e) => e.event === type)) && stream.events,
      5000,
      'an event of every type',
    );
    stream.close();
    for (const event of events) {
      const validate = payloadOf(event.event);
      expect({
        event: event.event,
        valid: validate(JSON.parse(event.data)),
        errors: validate.errors ?? null,
      }).toEqual({
        event: event.event,
        valid: true,
        errors: null,
      });
    }
  });
});
