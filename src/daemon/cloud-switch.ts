import type { Config } from '../config';
import type { Logger } from '../shared/logger';
import type { Service } from './service';

/** What the switch needs of the embedded cloud (embedded-cloud.ts). */
export interface EmbeddedCloudLike {
  readonly url: string;
  /** The URL with the embedded cloud's login in it, for the sync engine. */
  readonly syncUrl: string;
  /** Its generated password, for the daemon to mask. */
  secrets(): string[];
  start(): Promise<void>;
  stop(deadline: number): Promise<void>;
  status(): Promise<Record<string, unknown>>;
}

/**
 * Which cloud the sync talks to: the embedded one (started on demand) or `cloud.url`. A reload may
 * switch between them with no restart: the sync service asks `urlFor(config)` when it (re)starts,
 * which starts the embedded cloud when the config wants it and stops it once it is no longer the
 * cloud in use.
 */
export class CloudSwitch implements Service {
  readonly name = 'cloud';
  private embedded: EmbeddedCloudLike | null = null;
  private running = false;

  constructor(
    private config: Config,
    private readonly makeEmbedded: () => EmbeddedCloudLike,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.config.cloud.embedded) await this.startEmbedded();
  }

  async stop(deadline: number): Promise<void> {
    await this.stopEmbedded(deadline);
  }

  async reload(config: Config): Promise<void> {
    this.config = config;
    // Start the embedded cloud before the sync service reloads onto it; stopping waits for urlFor().
    if (config.cloud.embedded) await this.startEmbedded();
  }

  /** The cloud URL for `config` (the embedded cloud's own when `cloud.url` is `embedded`). */
  async urlFor(config: Config): Promise<string> {
    if (config.cloud.embedded) {
      await this.startEmbedded();
      return (this.embedded as EmbeddedCloudLike).syncUrl;
    }
    if (this.running) {
      this.logger.info('embedded cloud stopped: the sync now uses the configured cloud.url', {
        event: 'cloud.switch',
      });
      await this.stopEmbedded(Date.now() + 10_000);
    }
    return config.cloud.url;
  }

  secrets(): string[] {
    return this.embedded?.secrets() ?? [];
  }

  async status(): Promise<Record<string, unknown>> {
    return this.running && this.embedded ? await this.embedded.status() : { embedded: false };
  }

  private async startEmbedded(): Promise<void> {
    if (this.running) return;
    this.embedded ??= this.makeEmbedded();
    await this.embedded.start();
    this.running = true;
  }

  private async stopEmbedded(deadline: number): Promise<void> {
    if (!this.running || !this.embedded) return;
    this.running = false;
    await this.embedded.stop(deadline);
  }
}
