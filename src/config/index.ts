// Configuration: one zod schema, loaded from YAML + env + secret files, validated at start-up.
// The provider APPKEY is read here and handed only to upstream/.
export { loadConfig, parseConfig, ConfigError, refuseConfig, mergeTrees, type LoadOptions } from './load';
export { secretValuesOf, SECRET_KEYS } from './secrets';
export {
  configSchema,
  scopeSchema,
  NUMBER_TYPES,
  DEFAULT_OPT_OUT_KEYWORDS,
  DEFAULT_OPT_IN_KEYWORDS,
  type NumberType,
  type Config,
  type ConfigInput,
  type TenantConfig,
  type FormConfig,
  type TemplateConfig,
  type VerificationConfig,
  type Scope,
} from './schema';
