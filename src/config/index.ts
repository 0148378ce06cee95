/**
 * booksync configuration: one YAML file → a validated, deeply frozen, typed Config.
 * See config/booksync.example.yaml for every key and config/booksync.schema.json for editors.
 */
export { loadConfig, parseConfigText, type LoadOptions } from './load';
export { ConfigError, formatIssue, type ConfigErrorCode, type ConfigIssue } from './errors';
export { describeConfig, secretValues, stripUserinfo } from './describe';
export { configSchema, schemaJson } from './schema';
export * from './constants';
export type * from './types';
