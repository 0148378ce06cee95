/**
 * The one redaction step for everything that leaves the process: log lines, CLI output, the
 * control channel, status documents, and error messages built from what a remote server said.
 *
 * A secret travels in many encodings, and a server that echoes a request hands them back: raw,
 * percent-encoded (RFC 3986 §2.1, `+` for a space in forms), JSON-escaped (RFC 8259 §7, `\"`,
 * `\/`, `\u00e9`), XML/SGML entity-escaped (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;`, `&#38;`,
 * `&#x26;`, also escaped twice), inside base64 (`Basic base64(user:secret)`, base64 of the secret
 * or of a body holding it, RFC 4648 §4 and §5), and as `Authorization` header values. Instead of
 * listing every combination, the matcher reads each character of the secret in any of those
 * forms, so a mix (JSON-escaped quote next to a percent-encoded space) is masked too, and it also
 * reads the text with one layer of escapes decoded, for a secret encoded twice over (the
 * percent-encoded form of a JSON body, an entity-escaped JSON string).
 */
export const REDACTED = '[redacted]';

/** Longest text redacted in one piece; a remote body is cut to this before anything else reads it. */
export const MAX_REDACTED_TEXT = 64 * 1024;

/** One secret ready for matching. */
interface CompiledSecret {
  points: number[];
  /** UTF-8 bytes of the secret, for the base64 run length. */
  bytes: number;
}

type Span = [start: number, end: number];

const NAMED_ENTITIES: Record<string, number> = {
  amp: 0x26,
  lt: 0x3c,
  gt: 0x3e,
  quot: 0x22,
  apos: 0x27,
};
/** `&lt;`, `&#60;`, `&#x3c;`, and the same escaped again (`&amp;lt;`). */
const ENTITY = /&(?:amp;)*(?:(amp|lt|gt|quot|apos)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));/y;
const JSON_SIMPLE: Record<string, number> = {
  '"': 0x22,
  '\\': 0x5c,
  '/': 0x2f,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
};
const HEX4 = /^[0-9a-fA-F]{4}$/;

function compile(secrets: readonly string[]): CompiledSecret[] {
  const out: CompiledSecret[] = [];
  for (const secret of new Set(secrets)) {
    if (typeof secret !== 'string' || secret === '') continue;
    out.push({
      points: Array.from(secret, (ch) => ch.codePointAt(0)!),
      bytes: Buffer.byteLength(secret),
    });
  }
  return out;
}

/** The ends of every way `text` at `at` can spell the code point `cp`. */
function spellings(text: string, at: number, cp: number): number[] {
  const ends: number[] = [];
  if (text.codePointAt(at) === cp) ends.push(at + (cp > 0xffff ? 2 : 1));
  const ch = text[at];
  if (ch === '&') {
    ENTITY.lastIndex = at;
    const m = ENTITY.exec(text);
    if (m) {
      const value = m[1] ? NAMED_ENTITIES[m[1]] : m[2] ? Number(m[2]) : parseInt(m[3], 16);
      if (value === cp) ends.push(at + m[0].length);
    }
  } else if (ch === '%') {
    const end = percentEnd(text, at, cp);
    if (end > 0) ends.push(end);
  } else if (ch === '+' && cp === 0x20) {
    ends.push(at + 1);
  } else if (ch === '\\') {
    const end = jsonEscapeEnd(text, at, cp);
    if (end > 0) ends.push(end);
  }
  return ends;
}

/** `%C3%A9` for é: every UTF-8 byte of `cp` percent-encoded, either case of hex. */
function percentEnd(text: string, at: number, cp: number): number {
  let j = at;
  for (const byte of Buffer.from(String.fromCodePoint(cp), 'utf8')) {
    if (text[j] !== '%') return -1;
    const hex = text.slice(j + 1, j + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex) || parseInt(hex, 16) !== byte) return -1;
    j += 3;
  }
  return j;
}

/** `\"`, `\n`, `\u00e9`, or a surrogate pair `\ud83d\ude00`. */
function jsonEscapeEnd(text: string, at: number, cp: number): number {
  const next = text[at + 1];
  if (next !== 'u') return JSON_SIMPLE[next] === cp ? at + 2 : -1;
  const units =
    cp > 0xffff ? [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] : [cp];
  let j = at;
  for (const unit of units) {
    const hex = text.slice(j + 2, j + 6);
    if (text[j] !== '\\' || text[j + 1] !== 'u' || !HEX4.test(hex) || parseInt(hex, 16) !== unit)
      return -1;
    j += 6;
  }
  return j;
}

/** Where a spelling of `points` starting at `at` ends, or -1. Backtracks only where two spellings fit. */
function matchFrom(text: string, at: number, points: readonly number[], k: number): number {
  let j = at;
  for (let i = k; i < points.length; i++) {
    const ends = spellings(text, j, points[i]);
    if (ends.length === 0) return -1;
    if (ends.length > 1) {
      for (const end of ends) {
        const found = matchFrom(text, end, points, i + 1);
        if (found >= 0) return found;
      }
      return -1;
    }
    j = ends[0];
  }
  return j;
}

function secretSpans(text: string, secret: CompiledSecret, spans: Span[]): void {
  const first = secret.points[0];
  const firstChar = String.fromCodePoint(first);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (
      ch !== firstChar[0] &&
      ch !== '&' &&
      ch !== '%' &&
      ch !== '\\' &&
      !(ch === '+' && first === 0x20)
    )
      continue;
    const end = matchFrom(text, i, secret.points, 0);
    if (end > i) {
      spans.push([i, end]);
      i = end - 1;
    }
  }
}

/**
 * The text with one layer of escapes decoded, and for each of its UTF-16 units the range of the
 * original text it came from. Matching on a view catches a secret encoded twice over (a
 * percent-encoded JSON body, an entity-escaped JSON string): the matcher reads the inner layer.
 */
interface DecodedView {
  text: string;
  from: number[];
  to: number[];
}

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const ENTITY_ANY = new RegExp(ENTITY.source, 'g');
const JSON_ESCAPE = /\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])/g;

const VIEWS: Array<{ trigger: string; pattern: RegExp; decode: (m: RegExpMatchArray) => string }> =
  [
    {
      trigger: '%',
      pattern: PERCENT_RUN,
      decode: (m) => Buffer.from(m[0].replace(/%/g, ''), 'hex').toString('utf8'),
    },
    {
      trigger: '&',
      pattern: ENTITY_ANY,
      decode: (m) => {
        const value = m[1] ? NAMED_ENTITIES[m[1]] : m[2] ? Number(m[2]) : parseInt(m[3], 16);
        return value <= 0x10ffff ? String.fromCodePoint(value) : m[0];
      },
    },
    {
      trigger: '\\',
      pattern: JSON_ESCAPE,
      decode: (m) =>
        m[0][1] === 'u'
          ? String.fromCharCode(parseInt(m[0].slice(2), 16))
          : String.fromCharCode(JSON_SIMPLE[m[0][1]]),
    },
  ];

function decodedView(
  text: string,
  pattern: RegExp,
  decode: (m: RegExpMatchArray) => string,
): DecodedView {
  const view: DecodedView = { text: '', from: [], to: [] };
  const literal = (start: number, end: number) => {
    view.text += text.slice(start, end);
    for (let i = start; i < end; i++) {
      view.from.push(i);
      view.to.push(i + 1);
    }
  };
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    literal(at, m.index);
    const decoded = decode(m);
    view.text += decoded;
    for (let i = 0; i < decoded.length; i++) {
      view.from.push(m.index);
      view.to.push(m.index + m[0].length);
    }
    at = m.index + m[0].length;
  }
  literal(at, text.length);
  return view;
}

/** Spans of every secret in `text`, in any one or two layers of encoding. */
function allSecretSpans(text: string, secrets: readonly CompiledSecret[], spans: Span[]): void {
  for (const s of secrets) secretSpans(text, s, spans);
  for (const { trigger, pattern, decode } of VIEWS) {
    if (!text.includes(trigger)) continue;
    const view = decodedView(text, pattern, decode);
    const inView: Span[] = [];
    for (const s of secrets) secretSpans(view.text, s, inView);
    for (const [start, end] of inView) spans.push([view.from[start], view.to[end - 1]]);
  }
}

/** True when `text` holds any secret in any of the forms above. */
function holdsSecret(text: string, secrets: readonly CompiledSecret[]): boolean {
  const spans: Span[] = [];
  allSecretSpans(text, secrets, spans);
  return spans.length > 0;
}

const BASE64_RUN = /[A-Za-z0-9+/_-]+={0,2}/g;

/**
 * Runs of base64 (standard or URL-safe alphabet) that decode to something holding a secret:
 * `base64(user:secret)`, base64 of the secret or of a whole body carrying it. A run glued to a
 * word may start mid-quantum, so it is decoded from each of its first four offsets.
 */
function base64Spans(text: string, secrets: readonly CompiledSecret[], spans: Span[]): void {
  if (secrets.length === 0) return;
  const shortest = Math.min(...secrets.map((s) => s.bytes));
  const minRun = Math.max(4, Math.floor((shortest * 4) / 3));
  for (const m of text.matchAll(BASE64_RUN)) {
    const run = m[0];
    if (run.length < minRun) continue;
    for (let offset = 0; offset < 4 && run.length - offset >= minRun; offset++) {
      const decoded = Buffer.from(run.slice(offset), 'base64').toString('utf8');
      if (holdsSecret(decoded, secrets)) {
        spans.push([m.index, m.index + run.length]);
        break;
      }
    }
  }
}

/** Credentials whose shape gives them away, configured or not. */
const SHAPED: RegExp[] = [
  // An Authorization header written out (`authorization: Basic …`, `"Authorization":"Bearer …"`).
  /\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:Basic|Bearer|Digest|Token|Negotiate|NTLM|OAuth)\s+)?(?<cred>[^\s"'\\,;]+)/dgi,
  // A Bearer token (RFC 6750 §2.1).
  /\bBearer\s+(?<cred>[A-Za-z0-9._~+/-]{16,}=*)/dg,
  // A CouchDB session cookie.
  /\bAuthSession=(?<cred>[^;\s"',]+)/dg,
  // The password of a URL's userinfo (`https://user:pass@host`).
  /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:(?<cred>[^/\s@]+)@/dgi,
];
/** `Basic <base64>` (RFC 7617 §2): masked when it decodes to `user:password`. */
const BASIC = /\bBasic\s+(?<cred>[A-Za-z0-9+/]{4,}={0,2})/dg;

/** Whole base64 quanta decoding to printable `user:password` (an English word after "Basic" does not). */
function looksLikeLogin(token: string): boolean {
  if (token.length % 4 !== 0) return false;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  // eslint-disable-next-line no-control-regex -- a login is printable: control characters rule it out
  return decoded.includes(':') && /^[^\u0000-\u001f\u007f\ufffd]+$/.test(decoded);
}

function shapedSpans(text: string, spans: Span[]): void {
  for (const pattern of SHAPED) {
    for (const m of text.matchAll(pattern)) {
      const at = m.indices?.groups?.cred;
      if (at) spans.push([at[0], at[1]]);
    }
  }
  for (const m of text.matchAll(BASIC)) {
    const at = m.indices?.groups?.cred;
    if (at && looksLikeLogin(m.groups!.cred)) spans.push([at[0], at[1]]);
  }
}

function applySpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    if (start >= at) out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** `text` with every secret masked in every encoding, and any credential-shaped value masked. */
export function redactText(text: string, secrets: readonly string[]): string {
  return redactCompiled(text, compile(secrets));
}

function redactCompiled(text: string, secrets: readonly CompiledSecret[]): string {
  const spans: Span[] = [];
  allSecretSpans(text, secrets, spans);
  base64Spans(text, secrets, spans);
  shapedSpans(text, spans);
  return applySpans(text, spans);
}

/** Field names whose value is a credential whatever it looks like (HTTP headers in a logged object). */
const CREDENTIAL_KEY = /^(?:proxy-)?authorization$|^(?:set-)?cookie$/i;

/** Deep copy of a value with secrets masked; Errors become plain objects with message, code, details, stack and cause. */
export function redactValue(value: unknown, secrets: readonly string[]): unknown {
  return redactDeep(value, compile(secrets), new WeakSet<object>());
}

function redactDeep(
  value: unknown,
  secrets: readonly CompiledSecret[],
  seen: WeakSet<object>,
): unknown {
  if (typeof value === 'string') return redactCompiled(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { name: value.name, message: value.message };
    const withCode = value as Error & { code?: unknown; details?: unknown };
    if (withCode.code !== undefined) plain.code = withCode.code;
    if (withCode.details !== undefined) plain.details = withCode.details;
    if (value.stack) plain.stack = value.stack;
    if (value.cause !== undefined) plain.cause = value.cause;
    return redactDeep(plain, secrets, seen);
  }
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] =
      CREDENTIAL_KEY.test(k) && v !== null && v !== undefined
        ? REDACTED
        : redactDeep(v, secrets, seen);
  return out;
}

/** Cuts `text` to `max` characters, ending in `…` when it was longer. */
export function truncateText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * What a remote server said, made fit for a message, a log line or a stored document: cut to
 * `MAX_REDACTED_TEXT`, redacted (before anything can split a secret), whitespace flattened to
 * one line, truncated to `max`.
 */
export function remoteExcerpt(text: string, secrets: readonly string[], max = 300): string {
  const redacted = redactText(text.slice(0, MAX_REDACTED_TEXT), secrets);
  return truncateText(redacted.replace(/\s+/g, ' ').trim(), max);
}

/** An error summary (`describeError`'s shape) safe to store in a document that syncs: redacted and bounded. */
export function safeErrorSummary(
  error: { code: string; message: string },
  secrets: readonly string[],
  max = 1000,
): { code: string; message: string } {
  return { code: error.code, message: truncateText(redactText(error.message, secrets), max) };
}
