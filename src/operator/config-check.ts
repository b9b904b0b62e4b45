import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadConfig, SECRET_KEYS, secretValuesOf, type Config } from '../config';
import { checkFormRecipients } from '../forms';

/**
 * `smsgate config check [FILE]`: loads the configuration as the gateway would (defaults, the file,
 * the environment, secret files) and prints what it would run with, every secret masked: a key in
 * SECRET_KEYS shows `[secret]`, and any other string holding a secret value (a password inside a
 * URL) has it replaced. An invalid configuration is thrown with the loader's message, as is a
 * contact form the gateway would refuse at start-up.
 */
export function configCheck(args: string[], env: NodeJS.ProcessEnv): string {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const file = positionals[0];
  const config = loadConfig(file ? { ...env, SMSGATE_CONFIG: file } : env);
  // What the gateway also refuses at start-up.
  checkFormRecipients(config);
  const shown = masked(config);
  const body = values.json ? JSON.stringify(shown, null, 2) : stringify(shown);
  const source = file ?? env.SMSGATE_CONFIG ?? '(defaults and environment)';
  return `# smsgate config check: ${source} is valid (${config.mode} mode, ${Object.keys(config.tenants).length} tenants)\n${body}`;
}

export function masked(config: Config): unknown {
  const secrets = secretValuesOf(config).sort((a, b) => b.length - a.length);
  const walk = (value: unknown, key: string | undefined): unknown => {
    if (key !== undefined && SECRET_KEYS.has(key) && value !== undefined && value !== null) {
      return Array.isArray(value) ? value.map(() => '[secret]') : '[secret]';
    }
    if (typeof value === 'string') {
      return secrets.reduce((text, secret) => text.split(secret).join('[secret]'), value);
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, undefined));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return value;
  };
  return walk(config, undefined);
}
