import { decodeText } from '../../http';

/**
 * A tolerant reader for OFX responses, v1 (SGML, leaf elements unclosed) and v2 (XML), into a
 * small element tree. One tokenizer serves both, because real v2 servers still leave leaf tags
 * unclosed and real v1 servers sometimes close them (research/protocols.md §1 "Header").
 *
 * @link OFX 1.6 spec §2.2 (headers), §2.3 (SGML details); OFX 2.1.1 spec §2.2 (XML header)
 */

export interface OfxElement {
  name: string;
  /** The text of a leaf element (entities decoded, trimmed); `undefined` for an aggregate. */
  text?: string;
  children: OfxElement[];
}

export interface OfxDocument {
  /** 1 for `OFXHEADER:100` (SGML), 2 for `<?OFX OFXHEADER="200"?>` (XML). */
  major: 1 | 2;
  /** The header VERSION (102, 211...) when given. */
  version?: string;
  header: Readonly<Record<string, string>>;
  root: OfxElement;
}

/** Not an OFX document at all (an HTML page, JSON, an empty body). */
export class NotOfxError extends Error {}
/** An OFX document whose structure cannot be read. */
export class OfxSyntaxError extends Error {}

/**
 * Aggregates this client reads. An element not listed here is treated as an aggregate only when
 * its own closing tag follows (XML style); otherwise it is an empty leaf, so an unknown empty
 * SGML element can never swallow its siblings.
 */
const AGGREGATES = new Set([
  'OFX', 'SIGNONMSGSRSV1', 'SONRS', 'STATUS', 'FI', 'BANKMSGSRSV1', 'STMTTRNRS', 'STMTRS', 'STMTENDTRNRS',
  'BANKACCTFROM', 'BANKACCTTO', 'CCACCTFROM', 'CCACCTTO', 'BANKTRANLIST', 'BANKTRANLISTP', 'STMTTRN', 'STMTTRNP',
  'LEDGERBAL', 'AVAILBAL', 'BALLIST', 'BAL', 'CURRENCY', 'ORIGCURRENCY', 'PAYEE', 'CREDITCARDMSGSRSV1',
  'CCSTMTTRNRS', 'CCSTMTRS', 'CCSTMTENDTRNRS', 'MFACHALLENGERQ', 'MFACHALLENGE', 'SIGNUPMSGSRSV1',
]);

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const cp = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** Reads the header and picks the character set it declares (v1 CHARSET/ENCODING, v2 XML encoding). */
function readHeader(latin: string): { major: 1 | 2; header: Record<string, string>; encoding: string; bodyStart: number } {
  const ofxAt = latin.search(/<OFX>/i);
  if (ofxAt < 0) throw new NotOfxError('no <OFX> element');
  const head = latin.slice(0, ofxAt);
  const header: Record<string, string> = {};
  const pi = /<\?OFX([^?]*)\?>/i.exec(head);
  if (pi) {
    for (const m of pi[1].matchAll(/([A-Z]+)\s*=\s*"([^"]*)"/gi)) header[m[1].toUpperCase()] = m[2];
    const enc = /<\?xml[^?]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1] ?? 'utf-8';
    return { major: 2, header, encoding: enc, bodyStart: ofxAt };
  }
  // v1: "KEY:VALUE" pairs separated by CRLF, LF, or only spaces (the whole header on one line).
  for (const m of head.matchAll(/([A-Z]+)\s*:\s*([^\s<]*)/g)) header[m[1].toUpperCase()] = m[2];
  const major = header.OFXHEADER === undefined && /<\?xml/i.test(head) ? 2 : 1;
  let encoding = 'windows-1252';
  if ((header.ENCODING ?? '').toUpperCase().replace('-', '') === 'UTF8') encoding = 'utf-8';
  else if (/^(ISO-?8859-?1|8859)$/i.test(header.CHARSET ?? '')) encoding = 'iso-8859-1';
  return { major, header, encoding, bodyStart: ofxAt };
}

type Token = { kind: 'open' | 'close'; name: string } | { kind: 'text'; text: string };

function tokenize(body: string): Token[] {
  const tokens: Token[] = [];
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z0-9._:-]+)[^>]*>|([^<]+)|(<)/g;
  for (const m of body.matchAll(re)) {
    if (m[2] !== undefined) tokens.push({ kind: m[1] ? 'close' : 'open', name: m[2].toUpperCase() });
    else if (m[3] !== undefined) tokens.push({ kind: 'text', text: m[3] });
    else if (m[4] !== undefined) throw new OfxSyntaxError('a stray "<" that does not start a tag');
  }
  return tokens;
}

/** Parses a whole OFX response body (bytes, so the declared character set can be honoured). */
export function parseOfx(bytes: Uint8Array): OfxDocument {
  const latin = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const { major, header, encoding } = readHeader(latin);
  const text = decodeText(bytes, encoding);
  const start = text.search(/<OFX>/i);
  const tokens = tokenize(text.slice(start));
  const root: OfxElement = { name: '#root', children: [] };
  const stack: OfxElement[] = [root];
  const top = () => stack[stack.length - 1];

  /** True when `</name>` comes before the parent's closing tag: an unknown aggregate written as XML. */
  const closesLater = (from: number, name: string): boolean => {
    const parent = top().name;
    for (let j = from; j < tokens.length; j++) {
      const t = tokens[j];
      if (t.kind !== 'close') continue;
      if (t.name === name) return true;
      if (t.name === parent) return false;
    }
    return false;
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'text') {
      if (t.text.trim() !== '') throw new OfxSyntaxError(`text "${t.text.trim().slice(0, 40)}" outside any element`);
      continue;
    }
    if (t.kind === 'close') {
      const at = stack.map((e) => e.name).lastIndexOf(t.name);
      // A stray closing tag (an SGML leaf closed XML-style, or an unknown aggregate read as a leaf) is ignored.
      if (at > 0) stack.length = at;
      continue;
    }
    const next = tokens[i + 1];
    if (next && next.kind === 'text' && next.text.trim() !== '') {
      top().children.push({ name: t.name, text: decodeEntities(next.text.trim()), children: [] });
      i++;
      const after = tokens[i + 1];
      if (after && after.kind === 'close' && after.name === t.name) i++;
      continue;
    }
    let k = i + 1;
    while (tokens[k]?.kind === 'text') k++;
    const following = tokens[k];
    if (following && following.kind === 'close' && following.name === t.name) {
      top().children.push({ name: t.name, text: '', children: [] });
      i = k;
      continue;
    }
    if (AGGREGATES.has(t.name) || closesLater(i + 1, t.name)) {
      const el: OfxElement = { name: t.name, children: [] };
      top().children.push(el);
      stack.push(el);
    } else {
      top().children.push({ name: t.name, text: '', children: [] });
    }
  }
  const ofx = root.children.find((c) => c.name === 'OFX');
  if (!ofx) throw new OfxSyntaxError('no <OFX> element');
  return { major, version: header.VERSION, header, root: ofx };
}

/** The first child named `name` (path segments separated by `/`). */
export function child(el: OfxElement | undefined, path: string): OfxElement | undefined {
  let cur = el;
  for (const name of path.split('/')) {
    cur = cur?.children.find((c) => c.name === name);
    if (!cur) return undefined;
  }
  return cur;
}

export function children(el: OfxElement | undefined, name: string): OfxElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** The text of a leaf at `path`, `undefined` when absent or empty. */
export function leaf(el: OfxElement | undefined, path: string): string | undefined {
  const found = child(el, path);
  return found?.text === undefined || found.text === '' ? undefined : found.text;
}
