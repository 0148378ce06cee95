import { contentHash, normalise } from '../shared/canonical-json';
import { sha256Hex } from '../shared/hash';
import { SyncConfigError } from './errors';
import { isPlainObject } from '../shared/objects';

/** Which way a document type replicates. */
export type Direction = 'both' | 'push' | 'pull' | 'none';
/** One way across the wire: `push` = local → cloud, `pull` = cloud → local. */
export type Way = 'push' | 'pull';

export const DIRECTIONS: readonly Direction[] = ['both', 'push', 'pull', 'none'];

export interface ExcludeRules {
  /** Never sent local → cloud. */
  push?: readonly string[];
  /** Never taken cloud → local. */
  pull?: readonly string[];
  /** Never crosses either way: each side keeps its own value. */
  both?: readonly string[];
}

export interface TypeRule {
  direction: Direction;
  exclude?: ExcludeRules;
}

/** A document's replicated content: no `_rev`/`_conflicts`/... (only `_id`), canonical. `null` = deleted. */
export type Content = Record<string, unknown>;

/** Field keys that belong to the store, not to the document's content. */
const META_KEYS = new Set([
  '_rev',
  '_conflicts',
  '_deleted',
  '_revisions',
  '_revs_info',
  '_deleted_conflicts',
  '_local_seq',
]);

/** The attachments field: in content as a summary per name (see `attachmentSummary`), excludable like a field. */
export const ATTACHMENTS = '_attachments';

/** What of an attachment is content: its type, size and digest (both CouchDB and PouchDB give the md5 of the data). Data, stubs and `revpos` are transport. */
export interface AttachmentSummary {
  content_type: string;
  digest: string;
  length: number;
}

function attachmentSummary(atts: unknown): Record<string, AttachmentSummary> | undefined {
  if (!isPlainObject(atts)) return undefined;
  const out: Record<string, AttachmentSummary> = {};
  for (const [name, a] of Object.entries(atts)) {
    if (!isPlainObject(a)) continue;
    out[name] = {
      content_type:
        typeof a.content_type === 'string' ? a.content_type : 'application/octet-stream',
      digest: typeof a.digest === 'string' ? a.digest : '',
      length: Number(a.length ?? 0),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Keys that identify an item of an array of objects, tried in this order. */
export const ITEM_IDENTITY_KEYS: readonly string[] = ['id', '_id', 'key', 'code', 'uuid'];

interface Segment {
  key: string;
  /** `key[]`: the value is an array whose items the rest of the path applies to. */
  each: boolean;
}

type Path = readonly Segment[];

/** Parses `a.b.c`, `bank_accounts[].iban`, `lines[].tax[].rate`. */
export function parsePath(text: string): Path {
  if (typeof text !== 'string' || text.trim() === '')
    throw new SyncConfigError(`empty exclusion path`);
  const parts = text.split('.');
  return parts.map((part) => {
    const m = /^([A-Za-z0-9_$@-]+)(\[\])?$/.exec(part);
    if (!m)
      throw new SyncConfigError(
        `exclusion path '${text}' is not valid: use field names joined by '.', with '[]' after an array field (e.g. bank_accounts[].iban)`,
        { details: { path: text } },
      );
    if (m[1].startsWith('_') && text === part && !m[2] && text !== ATTACHMENTS) {
      throw new SyncConfigError(`exclusion path '${text}' names a reserved field`, {
        details: { path: text },
      });
    }
    return { key: m[1], each: m[2] === '[]' };
  });
}

/** Deep copy of a JSON value (much cheaper than structuredClone for small documents). */
function deepClone<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(deepClone) as T;
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>)
    out[k] = deepClone((v as Record<string, unknown>)[k]);
  return out as T;
}

function omitPath(node: unknown, path: Path, at = 0): void {
  if (!isPlainObject(node)) return;
  const seg = path[at];
  if (at === path.length - 1) {
    delete node[seg.key];
    return;
  }
  const child = node[seg.key];
  if (seg.each) {
    if (Array.isArray(child)) for (const item of child) omitPath(item, path, at + 1);
  } else {
    omitPath(child, path, at + 1);
  }
}

function identityOf(item: unknown): string | null {
  if (!isPlainObject(item)) return null;
  for (const k of ITEM_IDENTITY_KEYS) {
    const v = item[k];
    if (typeof v === 'string' || typeof v === 'number') return `${k}=${String(v)}`;
  }
  return null;
}

/**
 * Matching array items across two versions of a document: by an identity key (`id`, `_id`, `key`,
 * `code`, `uuid`, first present) when the item has one and the other array has an item with the
 * same identity; otherwise by index. Excluded values cannot be the identity (an excluded `iban`
 * is missing from the projection), which is why `iban` is not in the list.
 */
function matchItem(from: unknown[], item: unknown, index: number): unknown {
  const id = identityOf(item);
  if (id !== null) {
    const hit = from.find((f) => identityOf(f) === id);
    if (hit !== undefined) return hit;
    if (from.some((f) => identityOf(f) !== null)) return undefined;
  }
  return from[index];
}

/**
 * Copies `from`'s value at `path` into `into` (mutating it). `onlyIfPresent`: a value missing in
 * `from` leaves `into` alone; otherwise a missing value is removed from `into` too.
 */
function carryPath(into: unknown, from: unknown, path: Path, onlyIfPresent: boolean, at = 0): void {
  if (!isPlainObject(into)) return;
  const seg = path[at];
  const src = isPlainObject(from) ? from[seg.key] : undefined;
  const last = at === path.length - 1;
  if (last) {
    if (src !== undefined) into[seg.key] = deepClone(src);
    else if (!onlyIfPresent) delete into[seg.key];
    return;
  }
  if (seg.each) {
    const items = into[seg.key];
    if (!Array.isArray(items)) return;
    const srcItems = Array.isArray(src) ? src : [];
    items.forEach((item, i) =>
      carryPath(item, matchItem(srcItems, item, i), path, onlyIfPresent, at + 1),
    );
    return;
  }
  let child = into[seg.key];
  if (!isPlainObject(child)) {
    if (src === undefined || !isPlainObject(src)) return;
    child = {};
    into[seg.key] = child;
  }
  carryPath(child, src, path, onlyIfPresent, at + 1);
}

/**
 * `from` reduced to the values at `paths` (plus array items' identity keys so they can be matched
 * later): what the engine remembers of the cloud's excluded fields so an optimistic write can carry
 * them over without fetching the cloud document first.
 */
function pickPaths(from: Record<string, unknown>, paths: readonly Path[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) pickInto(out, from, path, 0);
  return out;
}

function pickInto(out: Record<string, unknown>, from: unknown, path: Path, at: number): void {
  if (!isPlainObject(from)) return;
  const seg = path[at];
  const src = from[seg.key];
  if (src === undefined) return;
  if (at === path.length - 1) {
    out[seg.key] = deepClone(src);
    return;
  }
  if (seg.each) {
    if (!Array.isArray(src)) return;
    const existing = Array.isArray(out[seg.key]) ? (out[seg.key] as unknown[]) : [];
    const arr = src.map((item, i) => {
      const slot: Record<string, unknown> = isPlainObject(existing[i]) ? existing[i] : {};
      if (isPlainObject(item))
        for (const k of ITEM_IDENTITY_KEYS) if (item[k] !== undefined) slot[k] = item[k];
      pickInto(slot, item, path, at + 1);
      return slot;
    });
    out[seg.key] = arr;
    return;
  }
  const slot = isPlainObject(out[seg.key]) ? (out[seg.key] as Record<string, unknown>) : {};
  out[seg.key] = slot;
  pickInto(slot, src, path, at + 1);
}

/** The type of a document: its `type` field, else the `_id` prefix (tombstones have no body). */
export function typeOf(
  doc: { _id: string; type?: unknown } | null,
  id: string,
  aliases: Readonly<Record<string, string>> = ID_PREFIX_ALIASES,
): string {
  if (doc && typeof doc.type === 'string' && doc.type !== '') return doc.type;
  const colon = id.indexOf(':');
  const prefix = colon > 0 ? id.slice(0, colon) : id;
  return aliases[prefix] ?? prefix;
}

/** `_id` prefixes that are not the type name (ledger model: `stl:`, `bankconn:`). */
export const ID_PREFIX_ALIASES: Readonly<Record<string, string>> = {
  stl: 'statement_line',
  bankconn: 'bank_connection',
};

/** The compiled projection rules of one document type. */
export class TypeProjection {
  readonly type: string;
  readonly direction: Direction;
  /** Paths never sent local → cloud (push ∪ both). */
  private readonly pushOut: Path[];
  /** Paths never taken cloud → local (pull ∪ both). */
  private readonly pullOut: Path[];
  /** Excluded from push only: such a field still flows cloud → local (as a value, never as a removal). */
  private readonly pushOnly: Path[];
  /** Excluded from pull only: such a field still flows local → cloud (as a value, never as a removal). */
  private readonly pullOnly: Path[];
  private readonly all: Path[];
  /** Memo key of each way's projection: `shared` when that way excludes every excluded path. */
  private readonly pushKey: string;
  private readonly pullKey: string;

  constructor(type: string, rule: TypeRule) {
    if (!DIRECTIONS.includes(rule.direction)) {
      throw new SyncConfigError(
        `sync type '${type}': direction '${String(rule.direction)}' is not one of ${DIRECTIONS.join(', ')}`,
        { details: { type } },
      );
    }
    this.type = type;
    this.direction = rule.direction;
    const ex = rule.exclude ?? {};
    const push = (ex.push ?? []).map(String);
    const pull = (ex.pull ?? []).map(String);
    const both = (ex.both ?? []).map(String);
    const uniq = (xs: string[]) => [...new Set(xs)];
    this.pushOut = uniq([...push, ...both]).map(parsePath);
    this.pullOut = uniq([...pull, ...both]).map(parsePath);
    this.pushOnly = uniq(push.filter((p) => !pull.includes(p) && !both.includes(p))).map(parsePath);
    this.pullOnly = uniq(pull.filter((p) => !push.includes(p) && !both.includes(p))).map(parsePath);
    this.all = uniq([...push, ...pull, ...both]).map(parsePath);
    // A way that excludes every excluded path projects to the shared content: one memo entry (and
    // so one hash) serves both, e.g. a field excluded `both` ways.
    this.pushKey = pull.every((p) => push.includes(p) || both.includes(p)) ? 'shared' : 'push';
    this.pullKey = push.every((p) => pull.includes(p) || both.includes(p)) ? 'shared' : 'pull';
  }

  goes(way: Way): boolean {
    return this.direction === 'both' || this.direction === way;
  }

  /**
   * The modifier of one direction (pure, may run many times): the canonical document minus the
   * fields excluded that way and minus store metadata, or `null` when the type does not go that
   * way. A tombstone projects to `{ _id, _deleted: true }`.
   */
  project(
    doc: { _id: string; _deleted?: boolean; [k: string]: unknown },
    way: Way,
  ): Content | null {
    if (!this.goes(way)) return null;
    return way === 'push'
      ? this.memo(doc, this.pushKey, this.pushOut)
      : this.memo(doc, this.pullKey, this.pullOut);
  }

  /** The content both sides share: minus every excluded path, whatever its direction. Used for conflict checks and three-way merges. */
  shared(doc: { _id: string; _deleted?: boolean; [k: string]: unknown }): Content {
    return this.memo(doc, 'shared', this.all);
  }

  /**
   * Projections are memoised per document object (a batch asks for the same ones several times).
   * The results are shared: callers never mutate them (`compose` copies).
   */
  private readonly cache = new WeakMap<object, Map<string, Content>>();

  private memo(
    doc: { _id: string; _deleted?: boolean; [k: string]: unknown },
    key: string,
    paths: readonly Path[],
  ): Content {
    const k = this.all.length === 0 ? 'all' : key;
    let entry = this.cache.get(doc);
    const hit = entry?.get(k);
    if (hit) return hit;
    const value = this.strip(doc, paths);
    if (!entry) {
      entry = new Map();
      this.cache.set(doc, entry);
    }
    entry.set(k, value);
    return value;
  }

  private strip(
    doc: { _id: string; _deleted?: boolean; [k: string]: unknown },
    paths: readonly Path[],
  ): Content {
    if (doc._deleted) return { _id: doc._id, _deleted: true };
    const out: Record<string, unknown> = {};
    for (const k in doc) {
      if (k === ATTACHMENTS) {
        const summary = attachmentSummary(doc[k]);
        if (summary) out[k] = summary;
      } else if (!META_KEYS.has(k)) out[k] = doc[k];
    }
    const copy = normalise(out) as Content; // a fresh deep copy: safe to cut
    for (const path of paths) omitPath(copy, path);
    return copy;
  }

  /**
   * Merge-back: the body to write on the `way` side when the agreed content is `shared`.
   * - fields excluded that way keep the target's own values (`target`: its current document, or
   *   the remembered `keep` record of the cloud's excluded values);
   * - fields excluded only the other way come from `source` when it has them, else stay the target's.
   * Returns a body without `_rev`; `_deleted: true` when `shared` is a tombstone.
   */
  compose(
    shared: Content,
    target: Record<string, unknown> | null,
    source: Record<string, unknown> | null,
    way: Way,
  ): Record<string, unknown> {
    if (shared._deleted) return { _id: shared._id, _deleted: true };
    if (this.all.length === 0) return { ...shared }; // nothing to carry: a shallow copy is enough (no one mutates it)
    const targetLive = target && !target._deleted ? target : null;
    const sourceLive = source && !source._deleted ? source : null;
    const flowing = way === 'push' ? this.pullOnly : this.pushOnly;
    // No target and nothing flowing from the source: `shared` already lacks every excluded path, so
    // the carrying below would change nothing (a new document pulled or pushed as it is).
    if (!targetLive && !flowing.some((path) => hasPath(sourceLive, path))) return { ...shared };
    const out = deepClone(shared) as Record<string, unknown>;
    for (const path of flowing) carryPath(out, sourceLive, path, true);
    for (const path of flowing)
      if (targetLive && !hasPath(sourceLive, path)) carryPath(out, targetLive, path, true);
    for (const path of way === 'push' ? this.pushOut : this.pullOut)
      carryPath(out, targetLive, path, false);
    return out;
  }

  /** The cloud's values of every excluded field, carried over by an optimistic push (see `compose`). */
  remoteKeep(remoteDoc: Record<string, unknown> | null): Record<string, unknown> | undefined {
    if (!remoteDoc || remoteDoc._deleted || this.all.length === 0) return undefined;
    const keep = pickPaths(remoteDoc, this.all);
    return Object.keys(keep).length > 0 ? keep : undefined;
  }

  /**
   * True when `way`'s projection is the shared content (that way excludes every excluded path, or
   * nothing is excluded). Then a document whose shared content is known has that projection too.
   */
  projectsToShared(way: Way): boolean {
    return this.all.length === 0 || (way === 'push' ? this.pushKey : this.pullKey) === 'shared';
  }

  get hasExclusions(): boolean {
    return this.all.length > 0;
  }
}

function hasPath(doc: unknown, path: Path, at = 0): boolean {
  if (!isPlainObject(doc)) return false;
  const v = doc[path[at].key];
  if (v === undefined) return false;
  if (at === path.length - 1) return true;
  if (path[at].each) return Array.isArray(v) && v.some((item) => hasPath(item, path, at + 1));
  return hasPath(v, path, at + 1);
}

/** The projection rules of every type, with a default for types not listed. */
export class Projection {
  private readonly types = new Map<string, TypeProjection>();
  private readonly fallback: TypeRule;
  private readonly never = new TypeProjection('_design', { direction: 'none' });

  constructor(
    types: Readonly<Record<string, TypeRule>>,
    fallback: TypeRule = { direction: 'none' },
    private readonly aliases: Readonly<Record<string, string>> = ID_PREFIX_ALIASES,
  ) {
    for (const [type, rule] of Object.entries(types))
      this.types.set(type, new TypeProjection(type, rule));
    this.fallback = fallback;
  }

  forType(type: string): TypeProjection {
    let t = this.types.get(type);
    if (!t) {
      t = new TypeProjection(type, this.fallback);
      this.types.set(type, t);
    }
    return t;
  }

  forDoc(doc: { _id: string; type?: unknown } | null, id: string): TypeProjection {
    if (id.startsWith('_design/') || id.startsWith('_local/')) return this.never;
    return this.forType(typeOf(doc, id, this.aliases));
  }

  /** `project(doc, way)` for whatever type the document has. */
  project(
    doc: { _id: string; _deleted?: boolean; [k: string]: unknown },
    way: Way,
  ): Content | null {
    return this.forDoc(doc, doc._id).project(doc, way);
  }
}

const hashes = new WeakMap<object, string>();

/**
 * Hash of a projection (tombstones included), memoised per projection object. Projections are
 * canonical already (built by `normalise`, and strategies only recombine them in key order), so
 * the JSON text is hashed as it is, without a second normalisation.
 */
export function projectionHash(content: Content | null): string {
  if (content === null) return contentHash(null);
  let h = hashes.get(content);
  if (h === undefined) {
    h = sha256Hex(JSON.stringify(content));
    hashes.set(content, h);
  }
  return h;
}
