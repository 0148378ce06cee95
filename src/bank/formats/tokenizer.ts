import { BooksyncError } from '../../shared/errors';
import type { BankCodeOf } from '../error-codes';

/**
 * A small push tokenizer for XML and for OFX's SGML (tags without closing tags, no DTD).
 * It is fed text in chunks of any size and reports open tags, close tags and text through
 * callbacks, keeping only the unfinished tail of the input: memory stays flat however large the
 * file. It knows comments, CDATA, processing instructions, DOCTYPE, attributes in both quote
 * styles, the five XML entities and numeric character references. Unknown `&name;` sequences and
 * bare `&` (SGML OFX writes `AT&T`) are kept as literal text. Tag names are reported as written;
 * `localName()` strips a namespace prefix.
 *
 * It does not check well-formedness beyond what a reader needs (nesting is the caller's
 * business, because OFX 1.x leaves leaf elements open on purpose).
 */

export interface TokenHandler {
  open(name: string, attributes: Record<string, string> | undefined, selfClosing: boolean): void;
  close(name: string): void;
  /** Raw text between tags, entities decoded. Whitespace-only runs are reported too. */
  text(text: string): void;
}

/** Markup cut off inside a tag or comment; the reader turns it into its format's malformed-file error. */
export class TokenizerError extends BooksyncError {
  static readonly code = 'BANK_MARKUP_CUT' satisfies BankCodeOf<'TokenizerError'>;

  constructor(
    message: string,
    readonly line: number,
  ) {
    super(TokenizerError.code, message, { details: { line } });
  }
}

const ENTITY = /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos|nbsp);/g;
const NAMED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

export function decodeEntities(text: string): string {
  if (text.indexOf('&') === -1) return text;
  return text.replace(ENTITY, (whole, body: string) => {
    if (body.charCodeAt(0) === 35 /* # */) {
      const code =
        body.charCodeAt(1) === 120 /* x */
          ? parseInt(body.slice(2), 16)
          : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[body] ?? whole;
  });
}

export function localName(name: string): string {
  const at = name.indexOf(':');
  return at === -1 ? name : name.slice(at + 1);
}

/**
 * Newlines in `text[from, to)`. A loop bounded by `to`, not `indexOf`, which would search on to the
 * next newline: a camt.053 entry written on one 500-character line would be scanned once per tag.
 */
function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

const ATTRIBUTE = /([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g;

export class Tokenizer {
  private buffer = '';
  /** Line (1-based) of `buffer[0]`. */
  private bufferLine = 1;
  /** Line of the token being reported, for callers' error messages. */
  line = 1;

  constructor(private readonly handler: TokenHandler) {}

  write(chunk: string): void {
    if (chunk.length === 0) return;
    if (this.buffer.length === 0) {
      this.scan(chunk, 0, false);
      return;
    }
    // The unfinished tail of the last chunk is completed through a short bridge (the tail plus the
    // chunk up to its first `>`, doubled while that is not enough), and the chunk is then scanned
    // as it came. Scanning `tail + chunk` instead would search a concatenated string: V8 searches
    // and slices those through its runtime, 5–6 times slower per tag than the flat string the
    // decoder returned (a third of a camt.053 parse).
    let tail = this.buffer;
    let take = chunk.indexOf('>') + 1 || chunk.length;
    for (;;) {
      const bridge = tail + chunk.slice(0, take);
      const consumed = this.scan(bridge, 0, false);
      if (consumed >= tail.length) {
        // The construct begun in the tail is complete: go on in the chunk where the bridge stopped.
        this.scan(chunk, consumed - tail.length, false);
        return;
      }
      if (take >= chunk.length) return; // all of the chunk is in the (still unfinished) tail now
      // Tokens reported from the tail are gone from it, so none is reported twice.
      tail = tail.slice(consumed);
      take = Math.min(chunk.length, take * 2);
    }
  }

  /** Flushes the rest; throws a TokenizerError for a tag or comment cut off by the end of input. */
  end(): void {
    this.scan(this.buffer, 0, true);
    if (this.buffer.length > 0) {
      throw new TokenizerError(
        `file ends inside a tag or comment: '${this.buffer.slice(0, 40)}'`,
        this.bufferLine,
      );
    }
  }

  /**
   * Reports the complete tokens of `s` from `start` (at line `bufferLine`); keeps what is left
   * unfinished as the new tail and returns where that starts.
   */
  private scan(s: string, start: number, final: boolean): number {
    const n = s.length;
    let pos = start;
    let line = this.bufferLine;
    const h = this.handler;
    while (pos < n) {
      const lt = s.indexOf('<', pos);
      if (lt === -1) {
        if (!final) break; // the text may continue in the next chunk
        this.line = line;
        h.text(decodeEntities(s.slice(pos)));
        line += countNewlines(s, pos, n);
        pos = n;
        break;
      }
      if (lt > pos) {
        this.line = line;
        h.text(decodeEntities(s.slice(pos, lt)));
        line += countNewlines(s, pos, lt);
        pos = lt;
      }
      // pos is at '<'
      const c1 = s.charCodeAt(pos + 1);
      if (c1 === 33 /* ! */) {
        if (s.startsWith('<!--', pos)) {
          const endAt = s.indexOf('-->', pos + 4);
          if (endAt === -1) break;
          line += countNewlines(s, pos, endAt);
          pos = endAt + 3;
          continue;
        }
        if (s.startsWith('<![CDATA[', pos)) {
          const endAt = s.indexOf(']]>', pos + 9);
          if (endAt === -1) break;
          this.line = line;
          h.text(s.slice(pos + 9, endAt));
          line += countNewlines(s, pos, endAt);
          pos = endAt + 3;
          continue;
        }
        if (n - pos < 9 && !final) break; // cannot tell yet
        const endAt = this.declarationEnd(s, pos);
        if (endAt === -1) break;
        line += countNewlines(s, pos, endAt);
        pos = endAt + 1;
        continue;
      }
      if (c1 === 63 /* ? */) {
        const endAt = s.indexOf('?>', pos + 2);
        if (endAt === -1) break;
        line += countNewlines(s, pos, endAt);
        pos = endAt + 2;
        continue;
      }
      const gt = this.tagEnd(s, pos + 1);
      if (gt === -1) break;
      this.line = line;
      if (c1 === 47 /* / */) {
        h.close(s.slice(pos + 2, gt).trim());
      } else if (this.openTag(s, pos + 1, gt)) {
        line += countNewlines(s, pos, gt); // attributes may span lines
      }
      pos = gt + 1;
    }
    this.buffer = pos >= n ? '' : s.slice(pos);
    this.bufferLine = line;
    return pos;
  }

  /** Index of the `>` ending a tag starting at `from`, skipping `>` inside quoted attribute values. */
  private tagEnd(s: string, from: number): number {
    let inQuote = 0;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (inQuote !== 0) {
        if (c === inQuote) inQuote = 0;
      } else if (c === 62 /* > */) {
        return i;
      } else if (c === 34 || c === 39) {
        inQuote = c;
      }
    }
    return -1;
  }

  /** End of `<!DOCTYPE ...>` (with an optional internal subset in brackets). */
  private declarationEnd(s: string, from: number): number {
    let depth = 0;
    for (let i = from + 2; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 91) depth++;
      else if (c === 93) depth--;
      else if (c === 62 && depth <= 0) return i;
    }
    return -1;
  }

  /** Reports an open tag; true when it had attributes (the only case a tag can span lines). */
  private openTag(s: string, from: number, gt: number): boolean {
    let end = gt;
    let selfClosing = false;
    if (s.charCodeAt(gt - 1) === 47 /* / */) {
      selfClosing = true;
      end = gt - 1;
    }
    let nameEnd = from;
    while (nameEnd < end) {
      const c = s.charCodeAt(nameEnd);
      if (c === 32 || c === 9 || c === 10 || c === 13) break;
      nameEnd++;
    }
    const name = s.slice(from, nameEnd);
    let attributes: Record<string, string> | undefined;
    if (nameEnd < end) {
      const rest = s.slice(nameEnd, end);
      ATTRIBUTE.lastIndex = 0;
      for (let m = ATTRIBUTE.exec(rest); m !== null; m = ATTRIBUTE.exec(rest)) {
        (attributes ??= {})[m[1]] = decodeEntities(m[3] ?? m[4] ?? m[5] ?? '');
      }
    }
    this.handler.open(name, attributes, selfClosing);
    return nameEnd < end;
  }
}
