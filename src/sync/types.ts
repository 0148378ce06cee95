import type { Logger } from '../shared/logger';
import type { Backoff, BackoffName } from './backoff';
import type { Base, Bookkeeping } from './bookkeeping';
import type { LocalDoc, LocalStore } from './local-store';
import type { Content, TypeProjection, TypeRule, Way } from './projection';
import type { RemoteDoc, RemoteStore } from './remote-store';

/** Per-type settings: the projection rule plus the conflict strategy by name. */
export interface SyncTypeOptions extends TypeRule {
  /** `local-wins | remote-wins | newest-wins | merge | manual`; default `remote-wins` (the cloud is the master). */
  conflict?: string;
  /** For `merge`: who wins a field both sides changed; default `remote-wins`. */
  tie_breaker?: string;
}

/** Timers the engine owns; tests may inject their own. `set` returns a cancel function. */
export interface Timers {
  set(fn: () => void, ms: number): () => void;
}

export const systemTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface SyncEngineOptions {
  local: LocalStore;
  remote: RemoteStore;
  bookkeeping: Bookkeeping;
  logger: Logger;
  /** `live`: follow both changes feeds; `interval`: one cycle every `intervalMs`. Default live. */
  mode?: 'live' | 'interval';
  /** @default 900000 (15 min) */
  intervalMs?: number;
  /** Documents per request. @default 500 */
  batchSize?: number;
  /** Bytes per write request. @default 4194304 */
  batchBytes?: number;
  /** Largest attachment synced either way; a larger one is refused with an error naming it. @default 20 MiB */
  maxAttachmentBytes?: number;
  /** Batches in flight per direction. @default 3 */
  pipelineDepth?: number;
  /** A named backoff or a function of the previous delay. @default 'exponential-jitter' */
  backoff?: BackoffName | Backoff;
  /** @default 1000 */
  backoffBaseMs?: number;
  /** @default 300000 (5 min) */
  backoffMaxMs?: number;
  /** Retry delay after a 401/403. @default 900000 (15 min) */
  authRetryMs?: number;
  /** How long a live `_changes` long-poll waits on the server. @default 25000 */
  longpollMs?: number;
  /** Per-type direction, exclusions and conflict strategy. */
  types?: Readonly<Record<string, SyncTypeOptions>>;
  /** Types not listed. @default { direction: 'none' } */
  default?: SyncTypeOptions;
  clock?: () => Date;
  timers?: Timers;
}

export type SyncState = 'online' | 'syncing' | 'offline' | 'auth_error' | 'stopped';

export interface SyncStatus {
  state: SyncState;
  mode: 'live' | 'interval';
  last_push_at: string | null;
  last_pull_at: string | null;
  /** Local changes not yet pushed (sequence distance; null when unknown). */
  pending_push: number | null;
  /** Cloud changes not yet pulled, as the server last reported (null when unknown). */
  pending_pull: number | null;
  open_conflicts: number;
  last_error: { code: string; message: string } | null;
  /** A re-walk of both sides under way (a new, replaced or restored cloud, or changed rules), else null. */
  rewalk: RewalkProgress | null;
  /**
   * Per type: fields newly excluded from push that cloud copies still hold, and how many copies
   * (of the documents the books also hold). Removed from the cloud only on request
   * (`booksync sync strip-excluded`). Null when there is nothing to report.
   */
  excluded_in_cloud: Record<string, { fields: string[]; docs: number }> | null;
}

export interface RewalkProgress {
  /** Why: `cloud marker missing`, `different cloud`, `cloud restored from an older copy`, `rules changed`, ... */
  reason: string;
  /** Types walked; null = all. */
  types: string[] | null;
  /** Books documents compared with the cloud so far. */
  checked: number;
  /** Documents in the books (live ones), for a sense of how far along. */
  books_docs: number | null;
  /** Documents written to the cloud / into the books by the re-walk. */
  pushed: number;
  pulled: number;
}

export interface CycleReport {
  direction: Way;
  /** Documents written (either side) by this cycle. */
  docs: number;
  /** Conflicts met (resolved automatically or recorded for an admin). */
  conflicts: number;
  ms: number;
}

/** An audit record as `listResolved` returns it. */
export interface AuditRecord {
  _id: string;
  doc_id: string;
  strategy: string;
  resolved_at: string;
  taken: 'local' | 'remote' | 'merged';
  local: Content | null;
  remote: Content | null;
  base: Content | null;
  overwritten: { local?: unknown; remote?: unknown };
  scope?: 'books' | 'cloud';
  [extra: string]: unknown;
}

export type ConflictChoice = { take: 'local' | 'remote' } | { doc: Record<string, unknown> };

/** One document a batch has to reconcile the slow way (both sides looked at). */
export interface Item {
  id: string;
  tp: TypeProjection;
  local: LocalDoc | null;
  remote: RemoteDoc | null;
  base: Base | undefined;
}

export interface BatchResult {
  docs: number;
  conflicts: number;
}
