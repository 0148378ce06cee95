import type { ServiceContext } from './daemon';
import type { Service } from './service';

/**
 * The services a configured daemon runs, in start order. This is the one place that knows the
 * concrete implementations (the embedded cloud, the sync engine, the bank scheduler, the local
 * API); each comes with its own issue and is added here when it lands.
 */
export function wireServices(_ctx: ServiceContext): Service[] {
  return [];
}
