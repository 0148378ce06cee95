import type { Config } from '../config';
import type { LevelDown } from '../shared/leveldown';

/**
 * A long-running part of the daemon (the embedded cloud, the sync engine, the bank scheduler, the
 * local API). The daemon starts services in order, stops them in reverse order, and hands each
 * a new config on reload. A service that cannot apply a reload throws, and the daemon keeps the
 * old config in force for everyone.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop taking new work, finish or safely abandon in-flight work by `deadline` (epoch ms). */
  stop(deadline: number): Promise<void>;
  reload?(config: Config): Promise<void>;
  /** Secrets the service holds besides the config's (e.g. a generated password), masked in every log line and control answer. */
  secrets?(): readonly string[];
  /** A secret-free summary for `booksync status`. */
  status?(): Promise<Record<string, unknown>>;
  /** Resolves while the service's loop makes progress, rejects with the reason when it is stuck (systemd's watchdog). */
  liveness?(): Promise<void>;
  /** LevelDB stores a backup copies, by section name (see src/backup); read synchronously at the snapshot instant. */
  backupLevels?(): Record<string, LevelDown>;
  /** Told when the daemon becomes ready (every service started) and when it begins to stop. */
  daemonPhase?(phase: 'ready' | 'stopping'): void;
}
