import { isAscii as bufferIsAscii, isUtf8 } from 'node:buffer';

/**
 * Byte → text decoding for statement files. Banks declare charsets loosely: OFX headers say
 * `CHARSET:1252` or `ISO-8859-1` and then send UTF-8, or say nothing and send Windows-1252.
 * The rules, in order:
 * 1. a byte-order mark wins (UTF-8, UTF-16 LE/BE);
 * 2. a declared single-byte charset (1252, ISO-8859-1, Latin-1) is used, unless the bytes are
 *    valid UTF-8 containing multi-byte sequences: then the declaration is wrong and UTF-8 wins
 *    (cp1252 text is practically never valid UTF-8 with such sequences);
 * 3. declared or defaulted UTF-8 that is not valid UTF-8 is read as Windows-1252 with a warning.
 * ISO-8859-1 is read as Windows-1252, its superset for printable characters (what every browser
 * does): banks that say Latin-1 mean `€` at 0x80.
 */

export type Charset = 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';

/** Maps a declared charset name (OFX CHARSET, XML encoding, CSV mapping) to one we read. */
export function charsetFromName(name: string | undefined): Charset | undefined {
  if (name === undefined) return undefined;
  const n = name
    .trim()
    .toLowerCase()
    .replace(/^["']|["']$/g, '');
  if (n === '' || n === 'none' || n === 'auto') return undefined;
  if (n === 'utf-8' || n === 'utf8' || n === 'unicode') return 'utf-8';
  if (
    /^(windows-?|cp-?)?1252$/.test(n) ||
    /^(iso-?8859-?1|8859-?1|latin-?1|l1|iso_8859-1)$/.test(n)
  )
    return 'windows-1252';
  if (n === 'us-ascii' || n === 'usascii' || n === 'ascii') return 'utf-8';
  if (n === 'utf-16le' || n === 'utf-16') return 'utf-16le';
  if (n === 'utf-16be') return 'utf-16be';
  return undefined;
}

export interface BomSniff {
  charset?: Charset;
  /** Bytes to skip at the start. */
  skip: number;
}

export function sniffBom(bytes: Buffer): BomSniff {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { charset: 'utf-8', skip: 3 };
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe)
    return { charset: 'utf-16le', skip: 2 };
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff)
    return { charset: 'utf-16be', skip: 2 };
  return { skip: 0 };
}

/** Heuristic for BOM-less UTF-16: NUL bytes in every other position of an ASCII-ish head. */
export function sniffUtf16(bytes: Buffer): Charset | undefined {
  if (bytes.length < 4) return undefined;
  if (bytes[0] !== 0 && bytes[1] === 0 && bytes[2] !== 0 && bytes[3] === 0) return 'utf-16le';
  if (bytes[0] === 0 && bytes[1] !== 0 && bytes[2] === 0 && bytes[3] !== 0) return 'utf-16be';
  return undefined;
}

/** Validates UTF-8; reports whether any multi-byte sequence occurred. */
export function utf8Shape(
  bytes: Buffer,
  end = bytes.length,
): { valid: boolean; multibyte: boolean; badAt?: number } {
  let multibyte = false;
  let i = 0;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return { valid: false, multibyte, badAt: i };
    if (i + need >= end) {
      // The sequence runs past the examined range: fine for a head cut mid-character.
      if (end < bytes.length) return { valid: true, multibyte };
      return { valid: false, multibyte, badAt: i };
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return { valid: false, multibyte, badAt: i };
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return { valid: false, multibyte, badAt: i };
    multibyte = true;
    i += need + 1;
  }
  return { valid: true, multibyte };
}

/**
 * Chooses the charset for a whole file (or its head, when streaming) from a BOM, a declaration
 * and the bytes themselves. `warn` receives one line when the choice contradicts the declaration.
 */
export function chooseCharset(
  bytes: Buffer,
  declared: Charset | undefined,
  warn: (text: string) => void,
  complete = true,
): { charset: Charset; skip: number } {
  const bom = sniffBom(bytes);
  if (bom.charset) return { charset: bom.charset, skip: bom.skip };
  const utf16 = sniffUtf16(bytes);
  if (utf16) return { charset: utf16, skip: 0 };
  const shape = utf8Shape(bytes, complete ? bytes.length : Math.max(0, bytes.length - 4));
  if (declared === 'windows-1252') {
    if (shape.valid && shape.multibyte) {
      warn('declared Windows-1252/ISO-8859-1 but the bytes are UTF-8; read as UTF-8');
      return { charset: 'utf-8', skip: 0 };
    }
    return { charset: 'windows-1252', skip: 0 };
  }
  if (declared === 'utf-16le' || declared === 'utf-16be') return { charset: declared, skip: 0 };
  if (!shape.valid) {
    warn(
      `${declared === 'utf-8' ? 'declared UTF-8 but' : 'no charset declared and'} the bytes are not valid UTF-8 (byte ${shape.badAt}); read as Windows-1252`,
    );
    return { charset: 'windows-1252', skip: 0 };
  }
  return { charset: 'utf-8', skip: 0 };
}

/** A streaming decoder for the chosen charset (multi-byte sequences split across chunks are fine). */
export function decoderFor(charset: Charset): TextDecoder {
  return new TextDecoder(charset, { fatal: charset === 'utf-8', ignoreBOM: false });
}

/** The 32 characters where Windows-1252 differs from ISO-8859-1 (0x80–0x9F); undefined bytes stay as is. */
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const C1 = /[\x80-\x9f]/g;

/** Windows-1252 bytes to text (a single-byte charset: chunks can be decoded independently). */
export function decodeCp1252(bytes: Buffer): string {
  const latin1 = bytes.toString('latin1');
  C1.lastIndex = 0;
  if (!C1.test(latin1)) return latin1;
  return latin1.replace(C1, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]);
}

/** Decodes a whole buffer. */
export function decodeAll(
  bytes: Buffer,
  declared: Charset | undefined,
  warn: (text: string) => void,
): { text: string; charset: Charset } {
  const { charset, skip } = chooseCharset(bytes, declared, warn);
  const body = bytes.subarray(skip);
  const text =
    charset === 'windows-1252'
      ? decodeCp1252(body)
      : charset === 'utf-8'
        ? body.toString('utf8')
        : new TextDecoder(charset).decode(body);
  return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, charset };
}

/** Latin-1 view of a byte head, for sniffing headers and declarations before the charset is known. */
export function asciiHead(bytes: Buffer, max = 4096): string {
  const b = sniffBom(bytes);
  const head = bytes.subarray(0, Math.min(bytes.length, max));
  if (b.charset === 'utf-16le' || b.charset === 'utf-16be' || sniffUtf16(head)) {
    const cs = b.charset ?? sniffUtf16(head) ?? 'utf-16le';
    return new TextDecoder(cs).decode(head.subarray(0, head.length - (head.length % 2)));
  }
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength)
    .toString('latin1')
    .slice(b.skip);
}

/** Length of an incomplete UTF-8 sequence at the end of `bytes` (0–3), to carry into the next chunk. */
function incompleteTail(bytes: Buffer): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/**
 * Decodes a byte stream chunk by chunk.
 * - `utf-8`: starts strict; if a chunk is not valid UTF-8 while everything so far was plain ASCII
 *   (so both readings agree on it), it switches to Windows-1252 for the rest with a warning.
 *   Invalid UTF-8 after real UTF-8 text is an error: the file mixes encodings.
 * - `windows-1252` declared: tentative until the first non-ASCII byte; if that first run of
 *   high bytes is valid multi-byte UTF-8, the declaration was wrong and UTF-8 is used (warning).
 * A multi-byte character split across chunks is carried over, so chunk size never matters.
 */
export class StreamDecoder {
  private carry: Buffer = Buffer.alloc(0);
  private sawNonAscii = false;
  private tentative: boolean;
  private single?: TextDecoder;

  constructor(
    public charset: Charset,
    private readonly warn: (text: string) => void,
  ) {
    if (charset === 'utf-16le' || charset === 'utf-16be') this.single = new TextDecoder(charset);
    this.tentative = charset === 'windows-1252';
    if (this.tentative) this.charset = 'utf-8';
  }

  /** Decodes one chunk; throws `Error('invalid UTF-8 ...')` when no reading is safe. */
  decode(chunk: Buffer, final = false): string {
    if (this.single) return this.single.decode(chunk, { stream: !final });
    if (this.charset === 'windows-1252') return decodeCp1252(chunk);
    const bytes = joinBytes(this.carry, chunk);
    const keep = final ? 0 : incompleteTail(bytes);
    const body = keep === 0 ? bytes : bytes.subarray(0, bytes.length - keep);
    this.carry = keep === 0 ? Buffer.alloc(0) : Buffer.from(bytes.subarray(bytes.length - keep));
    if (this.tentative) {
      if (isAscii(body)) return body.toString('latin1');
      this.tentative = false;
      const shape = utf8Shape(body);
      if (shape.valid && shape.multibyte) {
        this.warn(
          'declared charset Windows-1252/ISO-8859-1 but the bytes are UTF-8; read as UTF-8',
        );
      } else {
        this.charset = 'windows-1252';
        const rest = this.carry;
        this.carry = Buffer.alloc(0);
        return decodeCp1252(body) + decodeCp1252(rest);
      }
    }
    const view = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    if (isUtf8(view)) {
      // Already validated and cut at a character boundary, so a lenient decoder is exact here and
      // its streaming state stays empty. TextDecoder in stream mode decodes mixed text faster than
      // Buffer#toString('utf8') or a one-shot decode (BENCHMARKS.md, Bank import). ignoreBOM keeps a U+FEFF where toString would; the parsers strip the
      // leading one themselves.
      const text = UTF8.decode(view, { stream: true });
      if (!this.sawNonAscii && NON_ASCII.test(text)) this.sawNonAscii = true;
      return text;
    }
    if (this.sawNonAscii)
      throw new Error('invalid UTF-8 after UTF-8 text: the file mixes encodings');
    this.warn('the bytes are not valid UTF-8; read as Windows-1252');
    this.charset = 'windows-1252';
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return decodeCp1252(body) + decodeCp1252(rest);
  }
}

function isAscii(bytes: Buffer): boolean {
  return bufferIsAscii(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

// eslint-disable-next-line no-control-regex -- every code point above ASCII: NUL is in the range on purpose
const NON_ASCII = /[^\x00-\x7f]/;
/** Decoder for bytes already checked with isUtf8 (one instance; each call is a complete input). */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Concatenates two byte buffers (Buffer.concat's typings clash with lib ES2022 under TS 5.9). */
export function joinBytes(a: Buffer, b: Buffer): Buffer {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = Buffer.allocUnsafe(a.length + b.length);
  a.copy(out, 0);
  b.copy(out, a.length);
  return out;
}

/** Concatenates byte buffers of known total length. */
export function concatBytes(list: readonly Buffer[], total: number): Buffer {
  if (list.length === 1) return list[0];
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const b of list) {
    b.copy(out, at);
    at += b.length;
  }
  return out;
}
