import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const dir = mkdtempSync(join(tmpdir(), 'smsgate-config-'));
const sandboxEnv = { SMSGATE__store__sqliteFile: join(dir, 'db.sqlite') };

function loadError(env: Record<string, string>, overrides = {}): string {
  try {
    loadConfig({ ...sandboxEnv, ...env }, overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('runs with no file and no environment: sandbox mode on port 8080 with generated development secrets', () => {
    const config = loadConfig(sandboxEnv);
    expect(config.mode).toBe('sandbox');
    expect(config.http.port).toBe(8080);
    expect(config.upstream.callsPerSecond).toBe(15);
    expect(config.upstream.appKey).toMatch(/^sandbox-[0-9a-f]{36}$/);
    expect(config.auth.jwtSecret?.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig(sandboxEnv).auth.jwtSecret).toBe(config.auth.jwtSecret);
  });

  it('turns bulk sends on in sandbox mode only, and keeps the request-path defaults', () => {
    const sandbox = loadConfig(sandboxEnv);
    expect(sandbox.upstream.bulkSend).toBe(true);
    expect(sandbox.auth.tokenCacheEntries).toBe(10_000);
    expect(sandbox.http.accessLogSampleEvery).toBe(100);
    expect(sandbox.http.maxInFlightPerTenant).toBe(2000);
    const production = loadConfig({
      SMSGATE_MODE: 'production',
      SMSGATE_APPKEY: 'k'.repeat(32),
      SMSGATE_JWT_SECRET: 's'.repeat(40),
      SMSGATE__tenants__acme__weight: '1',
    });
    expect(production.upstream.bulkSend).toBe(false);
  });

  it('layers SMSGATE_CONFIG, then named and SMSGATE__ environment variables', () => {
    const file = join(dir, 'override.yaml');
    writeFileSync(file, 'http:\n  port: 9000\nupstream:\n  timeoutMs: 1234\n');
    const config = loadConfig({
      ...sandboxEnv,
      SMSGATE_CONFIG: file,
      PORT: '9100',
      SMSGATE__upstream__callsPerSecond: '10',
    });
    expect(config.http.port).toBe(9100);
    expect(config.upstream.timeoutMs).toBe(1234);
    expect(config.upstream.callsPerSecond).toBe(10);
  });

  it('reads secrets from the environment or from *_FILE', () => {
    const keyFile = join(dir, 'appkey');
    writeFileSync(keyFile, 'key-from-a-file-123\n');
    const config = loadConfig({
      ...sandboxEnv,
      SMSGATE_APPKEY_FILE: keyFile,
      SMSGATE_JWT_SECRET: 'j'.repeat(40),
    });
    expect(config.upstream.appKey).toBe('key-from-a-file-123');
    expect(config.auth.jwtSecret).toBe('j'.repeat(40));
  });

  it('names the key and what was expected when a value is wrong', () => {
    expect(loadError({ PORT: 'eighty' })).toMatch(/http\.port: .*expected number.*got "eighty"/);
    expect(loadError({ SMSGATE__upstream__authMode: 'token' })).toMatch(
      /upstream\.authMode: .*"appkey"\|"basic"/,
    );
    expect(loadError({}, { tenants: { web: { allowedCountries: ['Australia'] } } })).toMatch(
      /tenants\.web\.allowedCountries\.0: expected an ISO 3166 alpha-2 country code/,
    );
    expect(loadError({}, { tenants: { web: { scopes: ['sms:send', 'root'] } } })).toMatch(
      /tenants\.web\.scopes\.1/,
    );
    expect(loadError({}, { upstream: { retries: 3 } })).toMatch(/upstream: Unrecognized key: "retries"/);
  });

  it('refuses inbound routing to a tenant that does not exist', () => {
    expect(loadError({}, { inbound: { rules: [{ keyword: 'JOIN', tenant: 'ghost' }] } })).toMatch(
      /inbound\.rules\.0\.tenant: 'ghost' is not a configured tenant/,
    );
    expect(loadError({}, { inbound: { defaultTenant: 'ghost' } })).toMatch(/inbound\.defaultTenant: 'ghost'/);
  });

  it('refuses webhook URLs on loopback, link-local or other internal addresses unless allowlisted', () => {
    const secret = 'whsec_YWxwaGEtd2ViaG9vay1zZWNyZXQtMDAwMQ==';
    const tenants = (url: string) => ({ tenants: { demo: { webhook: { url, secret } } } });
    expect(loadError({}, tenants('http://127.0.0.1:9000/hook'))).toMatch(
      /tenants\.demo\.webhook\.url: refused \(127\.0\.0\.1 is a loopback address\)/,
    );
    expect(loadError({}, tenants('http://169.254.169.254/'))).toMatch(
      /169\.254\.169\.254 is a linkLocal address/,
    );
    expect(loadError({}, tenants('http://[::1]/'))).toMatch(/::1 is a loopback address/);
    expect(loadError({}, tenants('http://0x7f000001/'))).toMatch(/127\.0\.0\.1 is a loopback address/);
    const allowed = loadConfig(sandboxEnv, {
      ...tenants('http://127.0.0.1:9000/hook'),
      webhooks: { allowPrivateTargets: ['127.0.0.1:9000'] },
    });
    expect(allowed.tenants.demo?.webhook?.url).toBe('http://127.0.0.1:9000/hook');
    expect(
      loadError({}, { tenants: { demo: { webhook: { url: 'https://hooks.example.com/', secret: 'x' } } } }),
    ).toMatch(/tenants\.demo\.webhook\.secret: expected whsec_/);
  });

  it('checks contact forms: real tenant, declared placeholders, a CAPTCHA in production and for replies', () => {
    const form = {
      tenant: 'demo',
      recipients: ['0412345678'],
      template: 'From {{name}}: {{body}}',
      fields: { name: { required: true } },
      allowedOrigins: ['https://www.example.com'],
      captcha: { provider: 'none' },
      reply: { enabled: true, field: 'phone', template: 'Thanks' },
    };
    const message = loadError({}, { forms: { contact: { ...form, tenant: 'ghost' } } });
    expect(message).toMatch(/forms\.contact\.tenant: 'ghost' is not a configured tenant/);
    expect(message).toMatch(/forms\.contact\.template: {{body}} is not one of the form's fields/);
    expect(message).toMatch(/forms\.contact\.reply: replying to submitters needs a CAPTCHA/);
    expect(message).toMatch(/forms\.contact\.reply\.field: 'phone' is not one of the form's fields/);
    const production = loadError(
      { SMSGATE_MODE: 'production', SMSGATE_APPKEY: 'k'.repeat(32), SMSGATE_JWT_SECRET: 's'.repeat(40) },
      { forms: { contact: { ...form, template: 'From {{name}}', reply: undefined } } },
    );
    expect(production).toMatch(/forms\.contact\.captcha: a public form needs a CAPTCHA in production mode/);
    expect(
      loadError({}, { forms: { contact: { ...form, allowedOrigins: ['https://x.example/path'] } } }),
    ).toMatch(/forms\.contact\.allowedOrigins\.0/);
  });

  it('never echoes a secret value in a configuration error', () => {
    expect(loadError({ SMSGATE_APPKEY: 'short' })).not.toContain('short');
    expect(
      loadError(
        {},
        { tenants: { demo: { webhook: { url: 'https://a.example/', secret: 'whsec_tooShort' } } } },
      ),
    ).not.toContain('tooShort');
  });

  it('refuses production mode without the provider key or the JWT secret', () => {
    const message = loadError({ SMSGATE_MODE: 'production' });
    expect(message).toMatch(/upstream\.appKey: required in production mode/);
    expect(message).toMatch(/auth\.jwtSecret: required for HS256 in production mode/);
  });

  it('refuses plain http to a non-loopback provider, and mixing HMAC with public-key algorithms', () => {
    expect(loadError({ SMSGATE_UPSTREAM_URL: 'http://cellcast.com.au/api/v3/' })).toMatch(
      /upstream\.baseUrl: expected https:\/\//,
    );
    expect(loadError({ SMSGATE_UPSTREAM_URL: 'http://127.0.0.1.nip.io/api/v3/' })).toMatch(
      /upstream\.baseUrl: expected https:\/\//,
    );
    expect(
      loadError(
        {},
        {
          auth: {
            algorithms: ['HS256', 'RS256'],
            jwksUrl: 'https://idp.test/jwks',
            issuer: 'i',
            audience: 'a',
          },
        },
      ),
    ).toMatch(/auth\.algorithms: mix HS256/);
    expect(loadError({}, { auth: { algorithms: ['RS256'] } })).toMatch(/auth\.jwksUrl: required/);
  });

  it('refuses a client-token lifetime that the token check would refuse', () => {
    expect(loadError({}, { auth: { clientTokenTtlSec: 7200, maxTokenTtlSec: 3600 } })).toMatch(
      /auth\.clientTokenTtlSec: 7200 s is longer than auth\.maxTokenTtlSec \(3600 s\)/,
    );
  });

  it('lets the sandbox demo tenant verify numbers (the example app’s “Verify my number”)', () => {
    const demo = loadConfig(sandboxEnv).tenants.demo;
    expect(demo?.scopes).toEqual(expect.arrayContaining(['verify:send', 'verify:check']));
    expect(demo?.verification?.template).toBe('verify');
    expect(demo?.templates.verify?.fields).toEqual({ code: { type: 'digits', maxLength: 10 } });
  });

  it('has the demo tenants in sandbox mode only: in production only the declared tenants exist', () => {
    expect(Object.keys(loadConfig(sandboxEnv).tenants)).toEqual(['demo', 'ops']);
    const declared = { tenants: { website: { scopes: ['sms:send'] } } };
    expect(Object.keys(loadConfig(sandboxEnv, declared).tenants)).toEqual(['demo', 'ops', 'website']);
    const production = {
      ...sandboxEnv,
      SMSGATE_MODE: 'production',
      SMSGATE_APPKEY: 'k'.repeat(32),
      SMSGATE_JWT_SECRET: 's'.repeat(40),
    };
    expect(Object.keys(loadConfig(production, declared).tenants)).toEqual(['website']);
    const file = join(dir, 'production.yaml');
    writeFileSync(file, 'mode: production\ntenants:\n  website:\n    scopes: [sms:send]\n');
    const fromFile = loadConfig({ ...production, SMSGATE_MODE: '', SMSGATE_CONFIG: file });
    expect(fromFile.mode).toBe('production');
    expect(Object.keys(fromFile.tenants)).toEqual(['website']);
    expect(loadError(production)).toMatch(
      /tenants: declare at least one tenant \(production mode has no built-in tenants\)/,
    );
  });

  it('loads for minting tokens without the provider key: it is neither required nor read', () => {
    const production = {
      ...sandboxEnv,
      SMSGATE_MODE: 'production',
      SMSGATE_JWT_SECRET: 's'.repeat(40),
      // The minting host does not hold the key; a key file it cannot read is not even opened.
      SMSGATE_APPKEY_FILE: join(dir, 'no-such-appkey-file'),
    };
    const declared = { tenants: { website: { scopes: ['sms:send'] } } };
    expect(loadError(production, declared)).toMatch(/SMSGATE_APPKEY_FILE: cannot read/);
    const config = loadConfig(production, declared, { purpose: 'minting' });
    expect(config.upstream.appKey).toBeUndefined();
    expect(config.auth.jwtSecret).toBe('s'.repeat(40));
    expect(Object.keys(config.tenants)).toEqual(['website']);
    const withKey = loadConfig(
      { ...production, SMSGATE_APPKEY_FILE: '', SMSGATE_APPKEY: 'k'.repeat(32) },
      declared,
      {
        purpose: 'minting',
      },
    );
    expect(withKey.upstream.appKey).toBeUndefined();
  });

  it('accepts plain http to a loopback provider however the address is written', () => {
    for (const url of [
      'http://127.0.0.1:4010/api/v3/',
      'http://localhost:4010/api/v3/',
      'http://[::1]:4010/api/v3/',
      'http://[0:0:0:0:0:0:0:1]:4010/api/v3/',
      'http://[::ffff:127.0.0.1]:4010/api/v3/',
    ]) {
      expect(loadConfig({ ...sandboxEnv, SMSGATE_UPSTREAM_URL: url }).upstream.baseUrl).toBe(url);
    }
  });

  it('loads the production example as documented in the README', () => {
    const config = loadConfig({
      SMSGATE_CONFIG: resolve(__dirname, '../../config/example.production.yaml'),
      SMSGATE_APPKEY: 'a-real-looking-appkey',
      SMSGATE_JWT_SECRET: 's'.repeat(48),
    });
    expect(config).toMatchObject({
      mode: 'production',
      http: { trustProxy: 1 },
      upstream: { baseUrl: 'https://cellcast.com.au/api/v3/' },
    });
    expect(Object.keys(config.tenants)).toEqual(['website', 'mobile-app', 'ops']);
  });

  it('loads the cluster example with its secrets and URLs from the environment', () => {
    const config = loadConfig({
      SMSGATE_CONFIG: resolve(__dirname, '../../config/example.cluster.yaml'),
      SMSGATE_APPKEY: 'a-real-looking-appkey',
      SMSGATE_JWT_SECRET: 's'.repeat(48),
      SMSGATE_CALLBACK_TOKEN: 'c'.repeat(40),
      DATABASE_URL: 'postgres://smsgate:pw@postgres:5432/smsgate',
      REDIS_URL: 'redis://redis:6379',
    });
    expect(config).toMatchObject({
      mode: 'production',
      cluster: { replicas: 3 },
      store: { databaseUrl: 'postgres://smsgate:pw@postgres:5432/smsgate' },
      redis: { url: 'redis://redis:6379' },
      upstream: { windowMarginMs: 150 },
    });
  });

  it('explains an unreadable or malformed config file', () => {
    expect(loadError({ SMSGATE_CONFIG: join(dir, 'missing.yaml') })).toMatch(/missing\.yaml: cannot be read/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'http: [unclosed');
    expect(loadError({ SMSGATE_CONFIG: bad })).toMatch(/bad\.yaml: not valid YAML/);
  });
});

describe('message templates and verification are checked at load', () => {
  const tenantWith = (tenant: Record<string, unknown>) => ({ tenants: { acme: tenant } });
  const codeTemplate = { text: 'Your code is {{code}}', fields: { code: { type: 'digits', maxLength: 6 } } };

  it('accepts a sound template and a verification that uses one', () => {
    const config = loadConfig(
      sandboxEnv,
      tenantWith({ templates: { verify: codeTemplate }, verification: { template: 'verify' } }),
    );
    expect(config.tenants.acme?.verification).toMatchObject({
      codeLength: 6,
      ttlSec: 600,
      maxChecks: 5,
      perPrefixPerHour: 10,
    });
    expect(config.verification.secret?.length).toBeGreaterThanOrEqual(32);
  });

  it('refuses a placeholder that is not a declared field, naming the key', () => {
    const message = loadError(
      {},
      tenantWith({
        templates: { hello: { text: 'Hi {{name}}, {{code}}', fields: { name: { maxLength: 20 } } } },
      }),
    );
    expect(message).toContain('tenants.acme.templates.hello.text: {{code}} is not a declared field');
  });

  it('refuses a declared field the text never uses', () => {
    const message = loadError(
      {},
      tenantWith({ templates: { hello: { text: 'Hello', fields: { name: { maxLength: 20 } } } } }),
    );
    expect(message).toContain('tenants.acme.templates.hello.fields.name: declared but never used');
  });

  it('refuses a text over its segment cap with every field at its maxLength', () => {
    // 30 GSM characters + a 140-character text field: one emoji makes it UCS-2, 280+ units.
    const message = loadError(
      {},
      tenantWith({
        templates: {
          note: {
            text: 'A note from the team: {{body}}',
            fields: { body: { maxLength: 140 } },
            maxSegments: 2,
          },
        },
      }),
    );
    expect(message).toMatch(
      /tenants\.acme\.templates\.note\.text: up to \d+ SMS segments .* over maxSegments 2/,
    );
    // The same field restricted to digits fits one segment.
    expect(() =>
      loadConfig(
        sandboxEnv,
        tenantWith({
          templates: {
            note: {
              text: 'Ref {{body}}',
              fields: { body: { type: 'digits', maxLength: 140 } },
              maxSegments: 1,
            },
          },
        }),
      ),
    ).not.toThrow();
  });

  it('refuses a verification whose template is missing or has no code field long enough', () => {
    expect(loadError({}, tenantWith({ verification: { template: 'verify' } }))).toContain(
      "tenants.acme.verification.template: 'verify' is not one of tenants.acme.templates",
    );
    expect(
      loadError(
        {},
        tenantWith({
          templates: { verify: codeTemplate },
          verification: { template: 'verify', codeLength: 8 },
        }),
      ),
    ).toContain('tenants.acme.verification.template: the template');
  });

  it('needs verification.secret in production when a tenant verifies', () => {
    const message = loadError(
      { SMSGATE_MODE: 'production', SMSGATE_APPKEY: 'appkey-0123456789', SMSGATE_JWT_SECRET: 'j'.repeat(40) },
      tenantWith({ templates: { verify: codeTemplate }, verification: { template: 'verify' } }),
    );
    expect(message).toContain('verification.secret: required in production mode');
  });
});
