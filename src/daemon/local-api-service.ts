import type { Config } from '../config';
import type { BooksStore } from '../ledger';
import { LocalApi, type LocalApiObserver } from '../local-api';
import type { Logger } from '../shared/logger';
import type { Service } from './service';

/** The local API as a daemon service: it follows the `local_api` section of each config. */
export class LocalApiService implements Service {
  readonly name = 'local-api';
  private readonly api: LocalApi;

  constructor(config: Config, store: BooksStore, logger: Logger, observer?: LocalApiObserver) {
    this.api = new LocalApi({ store, settings: config.local_api, logger, observer });
  }

  start(): Promise<void> {
    return this.api.start();
  }

  stop(deadline: number): Promise<void> {
    return this.api.stop(deadline);
  }

  reload(config: Config): Promise<void> {
    return this.api.reload(config.local_api);
  }

  status(): Promise<Record<string, unknown>> {
    return this.api.status();
  }
}
