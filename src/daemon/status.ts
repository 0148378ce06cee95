import { describeConfig, type Config } from '../config';
import type { BooksStore } from '../ledger';
import { VERSION } from '../shared/version';

/** The version the CLI and status report; read once from package.json. */
export { VERSION };

export interface StatusReport {
  version: string;
  running: boolean;
  pid?: number;
  started_at?: string;
  uptime_s?: number;
  config: Record<string, unknown>;
  store: { path: string; documents: Record<string, number>; total: number };
  services: Record<string, Record<string, unknown>>;
}

/** Builds the part of the status every caller has: config summary and document counts. */
export async function baseStatus(
  config: Config,
  store: BooksStore,
  storePath: string,
): Promise<StatusReport> {
  const documents = await store.countByType();
  const total = Object.values(documents).reduce((a, b) => a + b, 0);
  return {
    version: VERSION,
    running: false,
    config: describeConfig(config),
    store: { path: storePath, documents, total },
    services: {},
  };
}
