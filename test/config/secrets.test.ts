import type { z } from 'zod';
import { configSchema, parseConfig, SECRET_KEYS, secretValuesOf, type Config } from '../../src/config';

// A new secret field cannot be forgotten: every key of the schema named like a secret must be set
// in the fixture below (so the check sees it), be one of SECRET_KEYS (never echoed in a config
// error, redacted as a log field), and have its value in secretValuesOf (scrubbed from every log
// line). Credentials inside connection URLs are checked the same way.
const SECRET_NAME = /secret|token|password|app_?key|api_?key|private_?key|credential/i;

type Schema = z.core.$ZodType;

/** The schema's keys named like a secret that hold text, as paths (`*` for a record's keys). */
function secretKeyPaths(schema: Schema, path: string[] = [], found = new Set<string>()): Set<string> {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const children: [string | undefined, Schema][] = [];
  if (def.type === 'object') {
    for (const [key, child] of Object.entries(def.shape as Record<string, Schema>))
      children.push([key, child]);
  } else if (def.type === 'record') {
    children.push(['*', def.valueType as Schema]);
  } else if (def.type === 'array') {
    children.push([undefined, def.element as Schema]);
  } else if (def.type === 'union') {
    for (const option of def.options as Schema[]) children.push([undefined, option]);
  } else if ('innerType' in def) {
    // optional, default, prefault, nullable, readonly …
    children.push([undefined, def.innerType as Schema]);
  }
  for (const [key, child] of children) {
    const childPath = key === undefined ? path : [...path, key];
    if (key !== undefined && key !== '*' && SECRET_NAME.test(key) && holdsText(child)) {
      found.add(childPath.join('.'));
    }
    secretKeyPaths(child, childPath, found);
  }
  return found;
}

function holdsText(schema: Schema): boolean {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'string') return true;
  if (def.type === 'array') return holdsText(def.element as Schema);
  if ('innerType' in def) return holdsText(def.innerType as Schema);
  return false;
}

/** Every text value of the config, with its path (array indices left out). */
function textValues(value: unknown, path: string[] = []): { path: string[]; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((item) => textValues(item, path));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => textValues(child, [...path, key]));
  }
  return [];
}

const matches = (schemaPath: string, path: string[]) =>
  new RegExp(`^${schemaPath.replace(/\./g, '\\.').replace(/\*/g, '[^.]+')}$`).test(path.join('.'));

const WEBHOOK = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WEBHOOK_OLD = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

/** A config with every secret the schema knows set to a distinct value. */
const fixture: Config = parseConfig({
  mode: 'production',
  auth: { jwtSecret: 'jwt-secret-0123456789-0123456789-abcdef' },
  upstream: { appKey: 'appkey-0123456789' },
  callbacks: {
    tokens: ['callback-token-one-0123456789-0123456789', 'callback-token-two-0123456789-0123456789'],
    basicAuth: { username: 'cellcast', password: 'basic-password-0123456789' },
  },
  metrics: { token: 'metrics-token-0123456789' },
  verification: { secret: 'verification-secret-0123456789-0123456789' },
  adminEvents: {
    webhook: { url: 'https://ops.example.com/hooks', secret: 'whsec_b3BzLWFkbWluLWV2ZW50cy1zZWNyZXQtMDE=' },
  },
  store: { databaseUrl: 'postgres://smsgate:db-p%40ssword-0123@db.example.com:5432/smsgate' },
  redis: { url: 'rediss://:redis-password-0123456789@cache.example.com:6380' },
  tenants: {
    acme: {
      clients: [
        {
          id: 'acme-backend',
          secretSha256: 'a3f1c6b0e4d2978c5b1e0f3a6d9c2b8e7f4a1d0c3b6e9f2a5d8c1b4e7a0d3f6c',
        },
      ],
      webhook: { url: 'https://hooks.example.com/sms', secret: WEBHOOK, previousSecret: WEBHOOK_OLD },
    },
  },
  forms: {
    contact: {
      tenant: 'acme',
      recipients: ['+61400000001'],
      template: 'New enquiry',
      allowedOrigins: ['https://www.example.com'],
      captcha: { provider: 'turnstile', secret: 'captcha-secret-0123456789' },
    },
  },
});

describe('secretValuesOf', () => {
  const listed = secretValuesOf(fixture);

  it('the fixture sets every secret-named key of the schema, and each is a SECRET_KEY', () => {
    const schemaPaths = [...secretKeyPaths(configSchema)];
    // The walk itself must find the known ones, or it proves nothing.
    expect(schemaPaths).toEqual(
      expect.arrayContaining([
        'upstream.appKey',
        'auth.jwtSecret',
        'callbacks.tokens',
        'tenants.*.webhook.secret',
        'forms.*.captcha.secret',
      ]),
    );
    const values = textValues(fixture);
    const unset = schemaPaths.filter((p) => !values.some((v) => matches(p, v.path)));
    expect(unset).toEqual([]);
    const unnamed = schemaPaths.map((p) => p.split('.').at(-1) ?? '').filter((key) => !SECRET_KEYS.has(key));
    expect(unnamed).toEqual([]);
  });

  it('lists the value of every secret-named key', () => {
    const missing = textValues(fixture)
      .filter(({ path }) => SECRET_NAME.test(path.at(-1) ?? ''))
      .filter(({ value }) => !listed.includes(value))
      .map(({ path }) => path.join('.'));
    expect(missing).toEqual([]);
  });

  it('lists the password of every URL that carries one (as written and decoded)', () => {
    const passwords = textValues(fixture).flatMap(({ path, value }) => {
      const password = URL.canParse(value) ? new URL(value).password : '';
      return password ? [{ key: path.join('.'), password }] : [];
    });
    expect(passwords.map((p) => p.key).sort()).toEqual(['redis.url', 'store.databaseUrl']);
    for (const { password } of passwords) {
      expect(listed).toContain(password);
      expect(listed).toContain(decodeURIComponent(password));
    }
  });

  it('lists nothing that is not a secret, and no empty strings', () => {
    expect(listed).not.toContain('cellcast');
    expect(listed).not.toContain('https://hooks.example.com/sms');
    expect(listed.every((s) => s.length > 0)).toBe(true);
  });
});
