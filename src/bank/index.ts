/**
 * Bank feeds: provider registry, fetch loop (per-connection runs with watermark semantics),
 * exactly-once statement lines, connection status, scheduler and the institutions catalog.
 * The daemon builds `ConnectionSpec`s from its Config and wires
 * `new BankScheduler(specs, { loop: new FetchLoop({ store, registry: builtinRegistry(), logger }), store, logger })`.
 */
export * from './provider';
export * from './errors';
export * from './registry';
export * from './dedup';
export * from './status';
export * from './fetch-loop';
export * from './scheduler';
export * from './catalog';
export * from './duplicates';
export { builtinProviders, builtinRegistry } from './providers';
