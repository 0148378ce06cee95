/** Key paths in a YAML document and where they are in its file (line:col), for errors that name the place: booksync.yaml and the company file. */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
} from 'yaml';

/** A step of a key path: a mapping key or a list index. */
export type PathSegment = string | number;
export type KeyPath = readonly PathSegment[];

export interface Position {
  line: number;
  col: number;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `['bank', 'connections', 0, 'schedule']` → `bank.connections[0].schedule`; odd keys are quoted: `log["a b"]`. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * Turns an ajv JSON pointer (`/bank/connections/0/name`) into a key path, using the data to tell
 * list indexes from mapping keys that happen to be digits.
 */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let here: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(here) && /^\d+$/.test(key) ? Number(key) : key;
    out.push(seg);
    here =
      here !== null && typeof here === 'object'
        ? (here as Record<string, unknown>)[seg as string]
        : undefined;
  }
  return out;
}

function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

interface Walk {
  /** The pair of every mapping step taken, for key positions. */
  pairs: (Pair | undefined)[];
  /** Nodes along the path; nodes[0] is the document's top node. */
  nodes: (Node | null | undefined)[];
}

/**
 * Finds where a key path sits in the YAML source. Positions are 1-based line and column. A path
 * that is not in the source (a default was filled in) falls back to its nearest ancestor.
 */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private walk(path: KeyPath): Walk {
    const nodes: (Node | null | undefined)[] = [this.doc.contents];
    const pairs: (Pair | undefined)[] = [undefined];
    let node = this.doc.contents as Node | null | undefined;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: Node | null | undefined;
      let pair: Pair | undefined;
      if (isMap(node)) {
        pair = node.items.find((p) => keyText(p) === String(seg));
        next = pair ? (pair.value as Node | null) : undefined;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg] as Node | undefined;
      }
      if (next === undefined && !pair) break;
      nodes.push(next);
      pairs.push(pair);
      node = next;
    }
    return { nodes, pairs };
  }

  private pos(offset: number): Position {
    return this.lines.linePos(offset);
  }

  /** Start of the value at `path`; an empty value (`key:`) points at its key. */
  value(path: KeyPath): Position {
    const { nodes, pairs } = this.walk(path);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const emptyScalar = isScalar(node) && node.value === null && !node.source;
      if (node?.range && !emptyScalar) return this.pos(node.range[0]);
      const key = pairs[i]?.key as Node | undefined;
      if (key?.range) return this.pos(key.range[0]);
    }
    return { line: 1, col: 1 };
  }

  /** Start of the key of the last step of `path` (for unknown keys); a missing key points at its parent. */
  key(path: KeyPath): Position {
    const { nodes, pairs } = this.walk(path);
    const key =
      nodes.length === path.length + 1
        ? (pairs[pairs.length - 1]?.key as Node | undefined)
        : undefined;
    return key?.range ? this.pos(key.range[0]) : this.value(path);
  }
}

/** The key path of the mapping key that starts at `offset` (where YAML reports a duplicate key); [] when none does. */
export function pathOfKeyAt(doc: Document, offset: number): PathSegment[] {
  const search = (node: unknown, path: PathSegment[]): PathSegment[] | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const here = [...path, keyText(pair)];
        if ((pair.key as Node | null)?.range?.[0] === offset) return here;
        const found = search(pair.value, here);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const found = search(node.items[i], [...path, i]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return search(doc.contents, []) ?? [];
}
