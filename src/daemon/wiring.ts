import type { Config } from '../config';
import { BankService } from './bank-service';
import type { ServiceContext } from './daemon';
import { CloudSwitch } from './cloud-switch';
import { EmbeddedCloud } from './embedded-cloud';
import { LedgerService } from './ledger-service';
import { LocalApiService } from './local-api-service';
import { OpsService } from '../ops';
import { RatesService } from './rates-service';
import type { Service } from './service';
import { VERSION } from './status';
import { SyncService } from './sync-service';

/** Database name of the embedded cloud. */
const EMBEDDED_DATABASE = 'books';

/**
 * The services a configured daemon runs, in start order (stopped in reverse). This is the one
 * place that knows the concrete implementations.
 */
export function wireServices(ctx: ServiceContext): Service[] {
  const { config, store, logger, control } = ctx;
  const services: Service[] = [];
  // First to start and last to stop: /healthz and /readyz answer for the daemon's whole life.
  const ops = new OpsService({ config, store, logger, version: VERSION });
  services.push(ops);
  // The embedded cloud runs while the config says `cloud.url: embedded`; a reload may switch
  // between it and a real cloud URL (cloud-switch.ts), and the sync follows the URL.
  const cloud = new CloudSwitch(
    config,
    () =>
      new EmbeddedCloud(ctx.stateDir, EMBEDDED_DATABASE, 0, logger.child({ component: 'cloud' })),
    logger.child({ component: 'cloud' }),
  );
  services.push(cloud);
  const cloudUrl = (current: Config): Promise<string> => cloud.urlFor(current);
  const ledger = new LedgerService(config, store, logger, control, ops.observeMovesPosted);
  services.push(ledger);
  services.push(new RatesService(config, store, logger, control));
  services.push(new SyncService(config, store, cloudUrl, logger, control, ops.observeSyncEngine));
  services.push(
    new LocalApiService(
      config,
      store,
      logger.child({ component: 'local_api' }),
      ops.localApiObserver(),
    ),
  );
  services.push(
    new BankService(config, store, logger, control, ledger.afterRun, ops.observeBankRun),
  );
  // The ledger's status counts every bank line: /healthz asks the others and the books.
  ops.addProbes(
    services
      .filter((s) => s !== ops && s !== ledger && s.status !== undefined)
      .map((s) => ({ name: s.name, check: () => Promise.resolve(s.status?.()) })),
  );
  return services;
}
