export { ConfigSchema, keySchema, isSecret, type Config, type ConfigKey } from './schema.js';
export { loadConfig, ConfigError, workerCount, usesRedis, describeAllowed } from './load.js';
export { maskedConfig, configAsText, maskUrlPassword, MASK } from './mask.js';
