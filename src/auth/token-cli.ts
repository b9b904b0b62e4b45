// `npm run token -- --tenant ID [--scope "sms:send sms:read"] [--ttl 15m]` prints one JWT on
// stdout and nothing else; problems go to stderr with a non-zero exit.
import { parseArgs } from 'node:util';
import { loadConfig, scopeSchema } from '../config';
import { mintToken, parseTtl } from './token';

function main(): void {
  const { values } = parseArgs({
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
    throw new Error(`--scope: expected scopes from sms:send, sms:read, admin, got '${values.scope}'`);
  const config = loadConfig();
  const token = mintToken(config, {
    tenantId: values.tenant,
    scopes: scopes.data,
    ttlSec: parseTtl(values.ttl),
    ...(values.sub ? { subject: values.sub } : {}),
  });
  process.stdout.write(`${token}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
