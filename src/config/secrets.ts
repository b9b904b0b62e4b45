import type { Config } from './schema';

/**
 * Config keys whose values are secrets: a configuration error never echoes them, and a log field
 * of that name is redacted. test/config/secrets.test.ts fails when the schema gains a key named
 * like a secret that is missing here or in secretValuesOf.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'appKey',
  'jwtSecret',
  'tokens',
  'token',
  'secret',
  'previousSecret',
  'password',
  // A hash, but an operator may paste the client secret itself here by mistake.
  'secretSha256',
  'databaseUrl',
]);

/**
 * Every secret value the configuration holds: the one list that log lines are scrubbed of.
 * Passwords inside connection URLs are listed as written and percent-decoded, since either form
 * can turn up in a driver's error text.
 */
export function secretValuesOf(config: Config): string[] {
  const tenants = Object.values(config.tenants);
  const values = [
    config.upstream.appKey,
    config.auth.jwtSecret,
    ...config.callbacks.tokens,
    config.callbacks.basicAuth?.password,
    config.metrics.token,
    config.verification.secret,
    config.adminEvents.webhook?.secret,
    ...passwordOf(config.store.databaseUrl),
    ...passwordOf(config.redis.url),
    ...tenants.flatMap((tenant) => [tenant.webhook?.secret, tenant.webhook?.previousSecret]),
    ...tenants.flatMap((tenant) => tenant.clients.map((client) => client.secretSha256)),
    ...Object.values(config.forms).map((form) =>
      'secret' in form.captcha ? form.captcha.secret : undefined,
    ),
  ];
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value !== ''))];
}

function passwordOf(url: string | undefined): string[] {
  if (!url || !URL.canParse(url)) return [];
  const { password } = new URL(url);
  if (!password) return [];
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Not valid percent-encoding: the written form is the only one a driver can show.
  }
  return [password, decoded];
}
