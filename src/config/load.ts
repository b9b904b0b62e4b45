import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { createEgressPolicy } from '../egress';
import { isLoopback } from '../security';
import { checkTemplate } from '../templates';
import { configSchema, type Config } from './schema';
import { SECRET_KEYS } from './secrets';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
type Tree = Record<string, unknown>;

const DEFAULT_FILE = resolve(__dirname, '../../config/default.yaml');
/**
 * The defaults of sandbox mode alone: the demo tenants. An overlay merges key by key and can add
 * tenants but never remove one, so in production mode these are not loaded at all: only the
 * tenants the operator declares exist there.
 */
const SANDBOX_FILE = resolve(__dirname, '../../config/sandbox.yaml');

export interface LoadOptions {
  /**
   * `minting`: for the token CLI, which signs with the JWT secret and checks the tenants only. The
   * provider key is neither required nor read, so whoever mints tokens need not hold it.
   */
  purpose?: 'gateway' | 'minting';
}

/**
 * Loads configuration in layers: config/default.yaml (and config/sandbox.yaml in sandbox mode),
 * then the file named by SMSGATE_CONFIG, then environment variables (named ones such as PORT, and
 * SMSGATE__section__key=value for any key), then secrets from SMSGATE_APPKEY / SMSGATE_JWT_SECRET
 * or their *_FILE twins. Fails fast with a message that names the key and what was expected.
 */
export function loadConfig(env: Env = process.env, overrides: Tree = {}, options: LoadOptions = {}): Config {
  const minting = options.purpose === 'minting';
  let operator = env.SMSGATE_CONFIG ? readYamlFile(resolve(env.SMSGATE_CONFIG)) : {};
  operator = mergeTrees(operator, envOverrides(env, { readAppKey: !minting }));
  operator = mergeTrees(operator, overrides);
  const defaults = readYamlFile(DEFAULT_FILE);
  let tree = mergeTrees(defaults, operator);
  if (tree.mode === 'sandbox') tree = mergeTrees(mergeTrees(defaults, readYamlFile(SANDBOX_FILE)), operator);
  if (minting) setPath(tree, ['upstream', 'appKey'], undefined);
  const config = parseConfig(tree, { requireAppKey: !minting });
  return withDevelopmentSecrets(config, { appKey: !minting });
}

export function parseConfig(tree: unknown, checks: { requireAppKey?: boolean } = {}): Config {
  const result = configSchema.safeParse(tree, { reportInput: true });
  if (!result.success) throw new ConfigError(`invalid configuration:\n${describeIssues(result.error)}`);
  return checkConsistency(result.data, checks.requireAppKey ?? true);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.map(String).join('.') || '(root)';
      const secret = issue.path.some((part) => SECRET_KEYS.has(String(part)));
      const shown =
        'input' in issue && issue.input !== undefined && typeof issue.input !== 'object' && !secret;
      const received = shown ? `, got ${JSON.stringify(issue.input)}` : '';
      return `  ${key}: ${issue.message}${received}`;
    })
    .join('\n');
}

function checkConsistency(config: Config, requireAppKey: boolean): Config {
  const problems: string[] = [];
  if (Object.keys(config.tenants).length === 0) {
    problems.push(
      config.mode === 'production'
        ? 'tenants: declare at least one tenant (production mode has no built-in tenants)'
        : 'tenants: expected at least one tenant',
    );
  }
  const usesHmac = config.auth.algorithms.includes('HS256');
  const usesKeys = config.auth.algorithms.some((alg) => alg !== 'HS256');
  if (usesHmac && usesKeys) {
    problems.push(
      'auth.algorithms: mix HS256 with RS256/ES256 and a public key can be replayed as an HMAC secret; choose one family',
    );
  }
  if (usesKeys && !config.auth.jwksUrl)
    problems.push('auth.jwksUrl: required when auth.algorithms is RS256 or ES256');
  if (config.auth.jwksUrl && (!config.auth.issuer || !config.auth.audience)) {
    problems.push('auth.issuer and auth.audience: both required with auth.jwksUrl');
  }
  if (config.mode === 'production') {
    if (requireAppKey && !config.upstream.appKey)
      problems.push(
        'upstream.appKey: required in production mode (set SMSGATE_APPKEY or SMSGATE_APPKEY_FILE)',
      );
    if (usesHmac && !config.auth.jwtSecret) {
      problems.push(
        'auth.jwtSecret: required for HS256 in production mode (set SMSGATE_JWT_SECRET or SMSGATE_JWT_SECRET_FILE)',
      );
    }
  }
  for (const [key, tenantId] of [
    ['inbound.defaultTenant', config.inbound.defaultTenant],
    ...config.inbound.rules.map((rule, i) => [`inbound.rules.${i}.tenant`, rule.tenant]),
    ...(config.account.notifyTenants ?? []).map((t, i) => [`account.notifyTenants.${i}`, t]),
  ] as [string, string | undefined][]) {
    if (tenantId !== undefined && !Object.hasOwn(config.tenants, tenantId))
      problems.push(`${key}: '${tenantId}' is not a configured tenant`);
  }
  const egress = createEgressPolicy(config.webhooks.allowPrivateTargets);
  for (const [tenantId, tenant] of Object.entries(config.tenants)) {
    const refused = tenant.webhook && egress.checkUrl(tenant.webhook.url);
    if (refused) {
      problems.push(
        `tenants.${tenantId}.webhook.url: refused (${refused}); list it in webhooks.allowPrivateTargets if it is meant`,
      );
    }
  }
  problems.push(...checkForms(config));
  problems.push(...checkTemplatesAndVerification(config));
  if (!config.tls.certFile !== !config.tls.keyFile) {
    problems.push('tls.certFile and tls.keyFile: set both (HTTPS) or neither');
  }
  for (const key of ['certFile', 'keyFile'] as const) {
    const file = config.tls[key];
    if (file && !existsSync(file)) problems.push(`tls.${key}: cannot read ${file}`);
  }
  const upstream = new URL(config.upstream.baseUrl);
  if (upstream.protocol !== 'https:' && !isLoopback(upstream.hostname)) {
    problems.push(
      `upstream.baseUrl: expected https:// for a non-loopback host, got ${upstream.protocol}//${upstream.host}`,
    );
  }
  if (config.auth.clientTokenTtlSec > config.auth.maxTokenTtlSec) {
    problems.push(
      `auth.clientTokenTtlSec: ${config.auth.clientTokenTtlSec} s is longer than auth.maxTokenTtlSec (${config.auth.maxTokenTtlSec} s), so every client token would be refused`,
    );
  }
  if (config.http.headersTimeoutMs <= config.http.keepAliveTimeoutMs) {
    problems.push('http.headersTimeoutMs: expected more than http.keepAliveTimeoutMs');
  }
  refuseConfig(problems);
  return config;
}

/** Throws the problems found, if any, as one ConfigError listing each on its own line. */
export function refuseConfig(problems: string[]): void {
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

function checkTemplatesAndVerification(config: Config): string[] {
  const problems: string[] = [];
  let verifies = false;
  for (const [tenantId, tenant] of Object.entries(config.tenants)) {
    const key = `tenants.${tenantId}`;
    for (const [templateId, template] of Object.entries(tenant.templates))
      problems.push(...checkTemplate(`${key}.templates.${templateId}`, template));
    const verification = tenant.verification;
    if (!verification) continue;
    verifies = true;
    const named: [string, string][] = [
      [`${key}.verification.template`, verification.template],
      ...Object.entries(verification.localeTemplates).map(([locale, id]): [string, string] => [
        `${key}.verification.localeTemplates.${locale}`,
        id,
      ]),
    ];
    for (const [path, templateId] of named) {
      const template = tenant.templates[templateId];
      if (!template) {
        problems.push(`${path}: '${templateId}' is not one of ${key}.templates`);
        continue;
      }
      const fields = Object.entries(template.fields);
      const code = template.fields.code;
      if (
        fields.length !== 1 ||
        !code ||
        code.type !== 'digits' ||
        code.maxLength < verification.codeLength
      ) {
        problems.push(
          `${path}: the template '${templateId}' must declare exactly one field, code (type digits, maxLength at least verification.codeLength ${verification.codeLength})`,
        );
      }
    }
  }
  if (verifies && config.mode === 'production' && !config.verification.secret) {
    problems.push(
      'verification.secret: required in production mode when a tenant has verification (set SMSGATE_VERIFICATION_SECRET or SMSGATE_VERIFICATION_SECRET_FILE)',
    );
  }
  if (config.adminEvents.webhook) {
    const refused = createEgressPolicy(config.webhooks.allowPrivateTargets).checkUrl(
      config.adminEvents.webhook.url,
    );
    if (refused)
      problems.push(
        `adminEvents.webhook.url: refused (${refused}); list it in webhooks.allowPrivateTargets if it is meant`,
      );
  }
  return problems;
}

function checkForms(config: Config): string[] {
  const problems: string[] = [];
  for (const [formId, form] of Object.entries(config.forms)) {
    const key = `forms.${formId}`;
    if (!Object.hasOwn(config.tenants, form.tenant))
      problems.push(`${key}.tenant: '${form.tenant}' is not a configured tenant`);
    for (const [, name] of form.template.matchAll(/{{\s*([^}\s]+)\s*}}/g)) {
      if (!Object.hasOwn(form.fields, name ?? ''))
        problems.push(`${key}.template: {{${name}}} is not one of the form's fields`);
    }
    if (Object.hasOwn(form.fields, form.honeypotField)) {
      problems.push(`${key}.honeypotField: '${form.honeypotField}' is also a real field`);
    }
    if (form.captcha.provider === 'none' && config.mode === 'production') {
      problems.push(`${key}.captcha: a public form needs a CAPTCHA in production mode`);
    }
    if (form.reply?.enabled) {
      if (form.captcha.provider === 'none')
        problems.push(`${key}.reply: replying to submitters needs a CAPTCHA`);
      if (!Object.hasOwn(form.fields, form.reply.field)) {
        problems.push(`${key}.reply.field: '${form.reply.field}' is not one of the form's fields`);
      }
    }
  }
  return problems;
}

function readYamlFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`config file ${file}: cannot be read`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isTree(parsed)) throw new ConfigError(`config file ${file}: expected a mapping at the top level`);
  return parsed;
}

/** Named variables for the common knobs, and SMSGATE__a__b=value for any key (value read as YAML). */
function envOverrides(env: Env, read: { readAppKey: boolean }): Tree {
  const tree: Tree = {};
  const named: Record<string, string[]> = {
    PORT: ['http', 'port'],
    HOST: ['http', 'host'],
    LOG_LEVEL: ['log', 'level'],
    SMSGATE_MODE: ['mode'],
    SMSGATE_UPSTREAM_URL: ['upstream', 'baseUrl'],
    SMSGATE_SQLITE_FILE: ['store', 'sqliteFile'],
    REDIS_URL: ['redis', 'url'],
    DATABASE_URL: ['store', 'databaseUrl'],
  };
  for (const [name, path] of Object.entries(named)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(tree, path, parseYaml(value));
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SMSGATE__') || value === undefined) continue;
    setPath(tree, name.slice('SMSGATE__'.length).split('__'), parseYaml(value));
  }
  const appKey = read.readAppKey ? readSecret(env, 'SMSGATE_APPKEY') : undefined;
  if (appKey !== undefined) setPath(tree, ['upstream', 'appKey'], appKey);
  const jwtSecret = readSecret(env, 'SMSGATE_JWT_SECRET');
  if (jwtSecret !== undefined) setPath(tree, ['auth', 'jwtSecret'], jwtSecret);
  const callbackToken = readSecret(env, 'SMSGATE_CALLBACK_TOKEN');
  if (callbackToken !== undefined) setPath(tree, ['callbacks', 'tokens'], [callbackToken]);
  const verificationSecret = readSecret(env, 'SMSGATE_VERIFICATION_SECRET');
  if (verificationSecret !== undefined) setPath(tree, ['verification', 'secret'], verificationSecret);
  return tree;
}

function readSecret(env: Env, name: string): string | undefined {
  const fileName = env[`${name}_FILE`];
  if (fileName) {
    try {
      return readFileSync(fileName, 'utf8').trim();
    } catch {
      throw new ConfigError(`${name}_FILE: cannot read ${fileName}`);
    }
  }
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Sandbox mode must work with no secrets set. Its JWT secret is generated once and kept in a
 * file beside the database (mode 0600), so `npm run token` and the gateway agree across restarts;
 * its sandbox APPKEY is random per process because only the in-process sandbox ever sees it.
 */
function withDevelopmentSecrets(config: Config, needs: { appKey: boolean }): Config {
  if (config.mode !== 'sandbox') return config;
  const auth = config.auth.jwtSecret
    ? config.auth
    : { ...config.auth, jwtSecret: developmentJwtSecret(config) };
  const upstream =
    config.upstream.appKey || !needs.appKey
      ? config.upstream
      : { ...config.upstream, appKey: `sandbox-${randomBytes(18).toString('hex')}` };
  const callbacks =
    config.callbacks.tokens.length > 0
      ? config.callbacks
      : { ...config.callbacks, tokens: [randomBytes(24).toString('base64url')] };
  const verification = config.verification.secret
    ? config.verification
    : { ...config.verification, secret: randomBytes(32).toString('base64url') };
  return { ...config, auth, upstream, callbacks, verification };
}

function developmentJwtSecret(config: Config): string {
  const file = resolve(dirname(resolve(config.store.sqliteFile)), 'dev-jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergeTrees(base: Tree, over: Tree): Tree {
  const merged: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    merged[key] = isTree(current) && isTree(value) ? mergeTrees(current, value) : value;
  }
  return merged;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isTree(next)) node[key] = {};
    node = node[key] as Tree;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}
