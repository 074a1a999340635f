export { ConfigError, describeAllowed, loadConfig, usesRedis, workerCount } from './load.js';
export { configAsText, MASK, maskedConfig, maskUrlPassword } from './mask.js';
export { type Config, type ConfigKey, ConfigSchema, isSecret, keySchema } from './schema.js';
