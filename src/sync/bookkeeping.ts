import { mkdirSync } from 'node:fs';
import { getMany, leveldown, readRange, type LevelDown } from '../shared/leveldown';
import type { Content } from './projection';
import { SyncError } from './errors';

/**
 * What both sides last agreed on for one document. Lives in the bookkeeping store, never inside a
 * replicated document (docs/ARCHITECTURE.md, "A sync cycle").
 */
export interface Base {
  /** Cloud revision at the moment of agreement. */
  remoteRev: string;
  /** Local revision at the moment of agreement. */
  localRev: string;
  /** Hash of the local document's push projection at agreement ('' when the type does not push). */
  pushHash: string;
  /** Hash of the cloud document's pull projection at agreement ('' when the type does not pull). */
  pullHash: string;
  /** Hash of the agreed shared content (every excluded path removed; `null` content when both sides agree it is deleted). */
  sharedHash: string;
  /**
   * The agreed shared content itself, kept only for types whose strategy needs it (`merge`: the base
   * of three-way merges). Other types save the bytes: their strategies never read a base.
   */
  shared?: Content | null;
  /** The agreed content is a posted move: a pull must read the stored document for the ledger check. */
  posted?: boolean;
  /** The cloud's values of excluded fields, carried over by optimistic writes. */
  keep?: Record<string, unknown>;
}

/** An unresolved conflict (strategy `manual`, a posted move, or a write the ledger refused). */
export interface OpenConflict {
  doc_id: string;
  type: string;
  /** Why it is manual: `manual` strategy, `posted_move`, or a ledger error code. */
  reason: string;
  detected_at: string;
  /** Local document as it stands (full, with excluded fields), or null when deleted/absent. */
  local: Record<string, unknown> | null;
  /** Cloud document as it stands (full body as fetched), or null when deleted/absent. */
  remote: Record<string, unknown> | null;
  /** Last agreed shared content, when there is one. */
  base: Content | null;
  /** For conflicts between cloud leaves: the losing revisions. */
  remote_leaves?: string[];
}

export type Checkpoint = unknown;

/** Where a walk stands: a direction's feed, or a re-walk of the books after a cloud reset or a rule change. */
export type CheckpointName = 'push' | 'pull' | 'rewalk';

/**
 * Which cloud database the bases and checkpoints belong to, and under which rules they were built
 * (identity.ts). Absent until the first successful identity check.
 */
export interface IdentityRecord {
  /** This site's id, the `<site>` of the cloud's `_local/booksync-<site>` document. */
  site: string;
  /** The replication id the cloud's marker carries; a new one is made for every new cloud. */
  replication: string;
  /** Counter bumped on every marker write; a cloud whose marker is lower was restored from an older copy. */
  generation: number;
  /** The cloud database it belongs to (credentials removed), for the log. */
  cloud: string;
  /** Rules in force per type when the bookkeeping was last brought in line with them. */
  rules: Record<string, unknown>;
}

const BASE = 'b!';
const CONFLICT = 'c!';
const CHECKPOINT = 'k!';
const IDENTITY = 'i!identity';
const SITE = 'i!site';
const REWALK = 'i!rewalk';

/**
 * Sync bookkeeping in a raw LevelDB of its own (bases read in batches with `getMany`, much faster
 * than `allDocs({keys})` on a PouchDB; BENCHMARKS.md, Sync): bases, checkpoints per direction, open conflicts.
 * Write order is the caller's: data, then `putBases`, then `setCheckpoint`.
 */
export class Bookkeeping {
  private constructor(
    private readonly db: LevelDown,
    readonly location: string,
  ) {}

  static async open(location: string): Promise<Bookkeeping> {
    mkdirSync(location, { recursive: true });
    const db = leveldown(location);
    await new Promise<void>((resolve, reject) =>
      db.open({ createIfMissing: true }, (err) => (err ? reject(wrap(err, location)) : resolve())),
    );
    return new Bookkeeping(db, location);
  }

  /** The raw LevelDB, for a backup's snapshot (read it only). */
  get level(): LevelDown {
    return this.db;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.db.close((err) => (err ? reject(err) : resolve())),
    );
  }

  async bases(ids: readonly string[]): Promise<Map<string, Base>> {
    const out = new Map<string, Base>();
    if (ids.length === 0) return out;
    const values = await this.getMany(ids.map((id) => BASE + id));
    values.forEach((v, i) => {
      if (v !== undefined) out.set(ids[i], decodeBase(v));
    });
    return out;
  }

  async putBases(entries: ReadonlyArray<[string, Base]>): Promise<void> {
    if (entries.length === 0) return;
    await this.batch(
      entries.map(([id, base]) => ({
        type: 'put' as const,
        key: BASE + id,
        value: encodeBase(base),
      })),
    );
  }

  /** The stored checkpoint, or undefined when the walk has none (`Checkpoint` includes it). */
  async checkpoint(name: CheckpointName): Promise<Checkpoint> {
    const [v] = await this.getMany([CHECKPOINT + name]);
    return v === undefined ? undefined : (JSON.parse(v) as { seq: Checkpoint }).seq;
  }

  async setCheckpoint(name: CheckpointName, seq: Checkpoint): Promise<void> {
    await this.batch([{ type: 'put', key: CHECKPOINT + name, value: JSON.stringify({ seq }) }]);
  }

  /** Forgets where a walk stands: it starts again from the beginning. */
  async clearCheckpoint(name: CheckpointName): Promise<void> {
    await this.batch([{ type: 'del', key: CHECKPOINT + name }]);
  }

  async identity(): Promise<IdentityRecord | undefined> {
    const [v] = await this.getMany([IDENTITY]);
    return v === undefined ? undefined : (JSON.parse(v) as IdentityRecord);
  }

  async setIdentity(record: IdentityRecord): Promise<void> {
    await this.batch([{ type: 'put', key: IDENTITY, value: JSON.stringify(record) }]);
  }

  /** This site's id: made once, kept for the life of the bookkeeping store. */
  async siteId(make: () => string): Promise<string> {
    const [v] = await this.getMany([SITE]);
    if (v !== undefined) return v;
    const id = make();
    await this.batch([{ type: 'put', key: SITE, value: id }]);
    return id;
  }

  /** The re-walk in progress (survives a restart), or undefined. */
  async rewalk<T>(): Promise<T | undefined> {
    const [v] = await this.getMany([REWALK]);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async setRewalk(plan: unknown): Promise<void> {
    await this.batch([{ type: 'put', key: REWALK, value: JSON.stringify(plan) }]);
  }

  /** Ends a re-walk: its plan and its place go in one batch. */
  async endRewalk(): Promise<void> {
    await this.batch([
      { type: 'del', key: REWALK },
      { type: 'del', key: CHECKPOINT + 'rewalk' },
    ]);
  }

  async conflict(id: string): Promise<OpenConflict | undefined> {
    const [v] = await this.getMany([CONFLICT + id]);
    return v === undefined ? undefined : (JSON.parse(v) as OpenConflict);
  }

  async conflictsAmong(ids: readonly string[]): Promise<Map<string, OpenConflict>> {
    const out = new Map<string, OpenConflict>();
    if (ids.length === 0) return out;
    const values = await this.getMany(ids.map((id) => CONFLICT + id));
    values.forEach((v, i) => {
      if (v !== undefined) out.set(ids[i], JSON.parse(v) as OpenConflict);
    });
    return out;
  }

  async putConflict(c: OpenConflict): Promise<void> {
    await this.batch([{ type: 'put', key: CONFLICT + c.doc_id, value: JSON.stringify(c) }]);
  }

  async deleteConflict(id: string): Promise<void> {
    await this.batch([{ type: 'del', key: CONFLICT + id }]);
  }

  /** Every open conflict, by document id. */
  async conflicts(): Promise<OpenConflict[]> {
    const entries = await readRange(this.db, { gt: CONFLICT, lt: 'c"' });
    return entries.map(([, value]) => JSON.parse(value) as OpenConflict);
  }

  private getMany(keys: string[]): Promise<Array<string | undefined>> {
    return getMany(this.db, keys);
  }

  private batch(ops: Array<{ type: 'put' | 'del'; key: string; value?: string }>): Promise<void> {
    return new Promise((resolve, reject) =>
      this.db.batch(ops, {}, (err) => (err ? reject(err) : resolve())),
    );
  }
}

/**
 * A base as stored: a push or pull hash equal to the shared hash (the usual case: nothing excluded
 * that way) is left out, which makes every base written and read smaller.
 */
function encodeBase(base: Base): string {
  if (base.pushHash !== base.sharedHash && base.pullHash !== base.sharedHash)
    return JSON.stringify(base);
  const stored: Partial<Base> = { ...base };
  if (base.pushHash === base.sharedHash) stored.pushHash = undefined;
  if (base.pullHash === base.sharedHash) stored.pullHash = undefined;
  return JSON.stringify(stored);
}

function decodeBase(text: string): Base {
  const base = JSON.parse(text) as Base;
  base.pushHash ??= base.sharedHash;
  base.pullHash ??= base.sharedHash;
  return base;
}

function wrap(err: Error, location: string): SyncError {
  return new SyncError(
    'SYNC_BOOKKEEPING',
    `cannot open the sync bookkeeping store at ${location}: ${err.message}`,
    { cause: err, details: { location } },
  );
}
