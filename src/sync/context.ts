import type { Logger } from '../shared/logger';
import type { Bookkeeping } from './bookkeeping';
import type { ConflictStrategy } from './conflicts';
import type { KeyedLock } from '../shared/keyed-lock';
import type { LocalStore } from './local-store';
import type { Projection, Way } from './projection';
import type { RemoteStore } from './remote-store';
import type { SyncStatus } from './types';

/**
 * What the parts of the engine (push, pull, reconcile, identity, conflict admin) share: the stores,
 * the rules, the per-document lock and a few hooks into the runner's state. The runner builds one
 * and hands it to each part.
 */
export interface SyncContext {
  readonly local: LocalStore;
  readonly remote: RemoteStore;
  readonly bk: Bookkeeping;
  readonly log: Logger;
  readonly projection: Projection;
  readonly lock: KeyedLock;
  readonly clock: () => Date;
  /** Documents per request. */
  readonly batchSize: number;
  /** Bytes per write request. */
  readonly batchBytes: number;
  /** Batches in flight per direction. */
  readonly depth: number;
  strategyFor(type: string): ConflictStrategy;
  /** True once `stop()` was called: loops finish the page in hand and return. */
  stopping(): boolean;
  /** A cycle found work: the state shows `syncing`. */
  markBusy(way: Way): void;
  patchStatus(patch: Partial<SyncStatus>): void;
  /**
   * A write met a cloud that no longer holds a document both sides had agreed on (an emptied or
   * replaced cloud): the runner checks the cloud's identity before the next cycle.
   */
  suspectCloud(reason: string): void;
  /** The same, quietly: a long-poll the server held open may be on a database deleted meanwhile. */
  recheckCloud(): void;
}
