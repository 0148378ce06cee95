import type { RunOutcome } from '../bank';
import { SYNC_DOC_TYPES, type Config } from '../config';
import type { BooksStore } from '../ledger';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { SyncEngine, SyncStatus } from '../sync';
import { activeAlerts, type ActiveAlert } from './alerts';
import { Health, type HealthProbe, type Phase } from './health';
import { jsonAnswer, OpsListener } from './http';
import { BooksyncMetrics } from './metrics';
import { SnapshotBuilder, type ConnectionPlan, type SyncView } from './snapshot';
import { AlertNotifier } from './webhooks';

/** What the local API reports to its observer (the shape LocalApiOptions.observer takes). */
export interface LocalApiObserver {
  onResponse(statusCode: number): void;
  onLoginDenied(): void;
}

export interface OpsOptions {
  config: Config;
  store: BooksStore;
  logger: Logger;
  version: string;
  clock?: () => Date;
}

/** Sync states in which nothing crosses to or from the cloud. */
const DOWN_STATES: ReadonlySet<string> = new Set(['offline', 'auth_error']);

function connectionPlans(config: Config): ConnectionPlan[] {
  return config.bank.connections.map((c) => ({
    name: c.name,
    enabled: c.enabled,
    schedule: 'every' in c.schedule ? { every: c.schedule.every } : { cron: c.schedule.cron },
    ...(c.provider === 'simplefin' ? { timezone: c.settings.timezone } : {}),
  }));
}

/**
 * Operations as a daemon service: the metrics registry fed by small hooks on the other services
 * (`observeSyncEngine`, `observeBankRun`, `observeMovesPosted`, `localApiObserver`), the HTTP
 * listener for /metrics, /healthz and /readyz (`ops.listen`), and the webhook alerts
 * (`alerts.webhooks`). It starts first and stops last, so /healthz and /readyz answer for the
 * whole life of the daemon. A listener that cannot bind is logged and the daemon runs on: the
 * books matter more than their monitoring.
 */
export class OpsService {
  readonly name = 'ops';
  readonly metrics: BooksyncMetrics;
  private config: Config;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly health: Health;
  private readonly snapshots: SnapshotBuilder;
  private readonly listener: OpsListener;
  private probes: HealthProbe[] = [];
  private sync: { engine: SyncEngine; status: SyncStatus; since: Date } | undefined;
  private notifier: AlertNotifier | undefined;
  private alertTimer: NodeJS.Timeout | undefined;
  private evaluating: Promise<ActiveAlert[]> | undefined;

  constructor(options: OpsOptions) {
    this.config = options.config;
    this.logger = options.logger.child({ component: 'ops' });
    this.clock = options.clock ?? (() => new Date());
    this.metrics = new BooksyncMetrics(options.version);
    const store = options.store;
    this.probes.push({ name: 'books', check: () => store.db.info() });
    this.snapshots = new SnapshotBuilder({
      store,
      connections: () => connectionPlans(this.config),
      ledgerConnections: () => Object.keys(this.config.ledger.connections),
      sync: () => this.syncView(),
      clock: this.clock,
    });
    this.health = new Health(
      () => this.probes,
      () => this.syncView(),
      this.config.ops.ready_offline_max_ms,
      this.clock,
    );
    this.listener = new OpsListener(
      {
        '/metrics': async () => ({
          status: 200,
          contentType: this.metrics.registry.contentType,
          body: await this.scrape(),
        }),
        '/healthz': () => this.health.liveness(),
        '/readyz': () => Promise.resolve(this.health.readiness()),
        '/': () =>
          Promise.resolve(
            jsonAnswer(200, {
              service: 'booksync',
              endpoints: ['/metrics', '/healthz', '/readyz'],
            }),
          ),
      },
      this.logger,
    );
    for (const c of this.config.bank.connections) this.metrics.addConnection(c.name);
  }

  /** `http://host:port` of the listener while it listens. */
  get url(): string | undefined {
    return this.listener.url;
  }

  // ---- hooks the wiring connects ----------------------------------------------------------------

  /** Follows a sync engine (each one the sync service starts, e.g. after a reload). */
  readonly observeSyncEngine = (engine: SyncEngine): void => {
    const types = new Set<string>(SYNC_DOC_TYPES);
    engine.status$.subscribe({
      next: (status) => {
        // offline ↔ auth_error is one outage: it keeps its start.
        const prev = this.sync?.engine === engine ? this.sync : undefined;
        const same =
          prev &&
          (prev.status.state === status.state ||
            (DOWN_STATES.has(prev.status.state) && DOWN_STATES.has(status.state)));
        this.sync = { engine, status, since: same ? prev.since : this.clock() };
      },
      complete: () => {
        if (this.sync?.engine === engine) this.sync = undefined;
      },
    });
    engine.cycle$.subscribe((report) => this.metrics.onCycle(report));
    engine.error$.subscribe((err) => this.metrics.onSyncError(err.code));
    engine.resolution$.subscribe((r) =>
      this.metrics.onResolution(types.has(r.type) ? r.type : 'other', r.strategy),
    );
  };

  /** Every bank run's outcome, skipped ones included. */
  readonly observeBankRun = (outcome: RunOutcome): void => {
    this.metrics.onBankRun(outcome);
    this.snapshots.invalidateLedger();
  };

  readonly observeMovesPosted = (connection: string, count: number): void => {
    this.metrics.onMovesPosted(connection, count);
    this.snapshots.invalidateLedger();
  };

  /** The observer to hand to the local API. */
  localApiObserver(): LocalApiObserver {
    return {
      onResponse: (statusCode) => this.metrics.onLocalResponse(statusCode),
      onLoginDenied: () => this.metrics.localDenied.inc(),
    };
  }

  /** Parts /healthz asks for a sign of life besides the books. */
  addProbes(probes: readonly HealthProbe[]): void {
    this.probes.push(...probes);
  }

  // ---- service ----------------------------------------------------------------------------------

  async start(): Promise<void> {
    await this.bind();
  }

  /** The daemon's phase: readiness follows it, and alert evaluation runs while ready. */
  daemonPhase(phase: Phase): void {
    this.health.setPhase(phase);
    this.metrics.ready.set(phase === 'ready' ? 1 : 0);
    if (phase === 'ready') this.armAlerts();
    else this.disarmAlerts();
  }

  async stop(): Promise<void> {
    this.health.setPhase('stopping');
    this.disarmAlerts();
    await this.evaluating?.catch(() => undefined);
    await this.notifier?.idle();
    await this.listener.close();
    this.health.close();
  }

  async reload(config: Config): Promise<void> {
    const previous = this.config;
    this.config = config;
    this.health.setOfflineMax(config.ops.ready_offline_max_ms);
    for (const c of config.bank.connections) this.metrics.addConnection(c.name);
    if (JSON.stringify(config.ops.listen) !== JSON.stringify(previous.ops.listen)) {
      await this.listener.close();
      await this.bind();
    }
    if (
      JSON.stringify(config.alerts) !== JSON.stringify(previous.alerts) &&
      this.health.current === 'ready'
    ) {
      this.disarmAlerts();
      this.armAlerts();
    }
  }

  status(): Promise<Record<string, unknown>> {
    return Promise.resolve({
      listen: this.listener.url ?? null,
      phase: this.health.current,
      webhooks: this.config.alerts.webhooks.map((w) => w.name),
    });
  }

  /** Evaluates the alert conditions now and hands them to the webhooks (tests call it directly). */
  evaluateAlerts(): Promise<ActiveAlert[]> {
    const run = (async () => {
      const a = this.config.alerts;
      const active = activeAlerts(await this.snapshots.build(), {
        syncOfflineAfterMs: a.sync_offline_after_ms,
        consentWarningMs: a.consent_warning_ms,
        conflictAgeMs: a.conflict_age_ms,
      });
      this.notifier?.update(active);
      return active;
    })();
    this.evaluating = run;
    return run;
  }

  // ---- internals --------------------------------------------------------------------------------

  private syncView(): SyncView | undefined {
    const s = this.sync;
    if (!s) return undefined;
    return {
      status: s.status,
      stateSince: s.since,
      conflictTimes: async () => (await s.engine.listConflicts()).map((c) => c.detected_at),
    };
  }

  private async scrape(): Promise<string> {
    this.metrics.applySnapshot(await this.snapshots.build());
    return this.metrics.registry.metrics();
  }

  private async bind(): Promise<void> {
    const listen = this.config.ops.listen;
    if (!listen) return;
    try {
      await this.listener.listen(listen.host, listen.port);
      this.logger.info(
        `operations listener on ${this.listener.url} (/metrics, /healthz, /readyz)`,
        { event: 'ops.listening', url: this.listener.url },
      );
    } catch (err) {
      this.logger.error(
        `${describeError(err).message}; running without metrics and health endpoints`,
        { event: 'ops.listen_failed', ...describeError(err) },
      );
    }
  }

  private armAlerts(): void {
    const a = this.config.alerts;
    if (a.webhooks.length === 0 || this.alertTimer) return;
    this.notifier = new AlertNotifier({
      webhooks: a.webhooks,
      repeatMs: a.repeat_every_ms,
      maxPerHour: a.max_per_hour,
      sendResolved: a.send_resolved,
      logger: this.logger,
      onDelivery: (webhook, outcome) => this.metrics.webhookDeliveries.inc({ webhook, outcome }),
      clock: this.clock,
    });
    let busy = false;
    const tick = () => {
      if (busy) return; // the last evaluation is still reading
      busy = true;
      this.evaluateAlerts()
        .catch((err: unknown) =>
          this.logger.error(`alert evaluation failed: ${describeError(err).message}`, {
            event: 'alerts.error',
            ...describeError(err),
          }),
        )
        .finally(() => (busy = false));
    };
    this.alertTimer = setInterval(tick, a.check_every_ms);
    this.alertTimer.unref();
    tick();
  }

  private disarmAlerts(): void {
    if (this.alertTimer) clearInterval(this.alertTimer);
    this.alertTimer = undefined;
  }
}
