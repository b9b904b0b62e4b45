// `smsgate token --tenant ID [--scope "sms:send sms:read"] [--ttl 15m] [--sub SUBJECT]`: one JWT.
// It needs the JWT secret and the tenants only; the provider APPKEY is neither read nor required,
// so whoever mints tokens need not hold the key the gateway keeps hidden.
import { parseArgs } from 'node:util';
import { loadConfig, scopeSchema } from '../config';
import { mintToken, parseTtl } from './token';

/** Mints the token the command line asks for; a problem is thrown as an Error that names the option. */
export function mintFromCommandLine(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      scope: { type: 'string', default: 'sms:send sms:read' },
      ttl: { type: 'string', default: '15m' },
      sub: { type: 'string' },
    },
    strict: true,
  });
  if (!values.tenant) throw new Error('--tenant: required (one of the tenants in config)');
  const scopes = scopeSchema.array().safeParse(values.scope.split(/[\s,]+/).filter(Boolean));
  if (!scopes.success)
    throw new Error(`--scope: expected scopes from ${scopeSchema.options.join(', ')}, got '${values.scope}'`);
  const config = loadConfig(env, {}, { purpose: 'minting' });
  return mintToken(config, {
    tenantId: values.tenant,
    scopes: scopes.data,
    ttlSec: parseTtl(values.ttl),
    ...(values.sub ? { subject: values.sub } : {}),
  });
}
