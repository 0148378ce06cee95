/**
 * Payment references a payer quotes in the memo, payee or reference field of a bank line, with
 * their check digits verified: a reference whose check digits are wrong is reported as invalid and
 * never matches anything (a typo must not pay the wrong invoice).
 *
 * - ISO 11649 creditor reference: `RF` + 2 check digits + 1–21 letters/digits, printed in groups of
 *   four (`RF18 5390 0754 7034`). Valid when the reference rearranged (first four characters moved
 *   to the end) with letters as numbers (A = 10 … Z = 35) is ≡ 1 mod 97 (ISO 7064 MOD 97-10).
 * - Belgian structured communication (OGM-VCS): 12 digits written `+++123/4567/89012+++` or
 *   `***123/4567/89012***`; the last two digits are the first ten mod 97, and 97 when that is 0.
 * - Invoice numbers: found as a whole word, case-insensitive, with `-`, `/`, `.`, `_` and spaces
 *   interchangeable inside the number.
 */

export type ReferenceKind = 'rf' | 'be';

export interface FoundReference {
  kind: ReferenceKind;
  /** Canonical form: `RF18539007547034`, `+++123/4567/89012+++`. */
  canonical: string;
  /** As written in the text. */
  text: string;
  /** Offset of `text` in the searched text (0 for a parsed field). */
  index: number;
  /** False when the check digits are wrong: such a reference matches nothing. */
  valid: boolean;
}

/** Remainder mod 97 of a digit string of any length, in exact integer steps. */
export function mod97(digits: string): number {
  if (!/^\d+$/.test(digits)) throw new TypeError(`mod97 needs digits, got '${digits}'`);
  let rest = 0;
  for (let i = 0; i < digits.length; i += 7) rest = Number(`${rest}${digits.slice(i, i + 7)}`) % 97;
  return rest;
}

/** Letters as ISO 7064 numbers (A = 10 … Z = 35), digits kept. */
function lettersToDigits(text: string): string {
  return [...text]
    .map((ch) => (ch >= 'A' && ch <= 'Z' ? String(ch.charCodeAt(0) - 55) : ch))
    .join('');
}

/** `RF18 5390 0754 7034` → `RF18539007547034` (upper case, no spaces); undefined if not RF-shaped. */
export function compactRf(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '').toUpperCase();
  return /^RF\d{2}[0-9A-Z]{1,21}$/.test(compact) ? compact : undefined;
}

/** True when `text` is an ISO 11649 reference with correct check digits (spaces allowed). */
export function isValidRf(text: string): boolean {
  const compact = compactRf(text);
  if (compact === undefined) return false;
  return mod97(lettersToDigits(compact.slice(4) + compact.slice(0, 4))) === 1;
}

/** The ISO 11649 reference for `body` (1–21 letters/digits): `RF` + check digits + body. */
export function makeRf(body: string): string {
  const b = body.replace(/\s+/g, '').toUpperCase();
  if (!/^[0-9A-Z]{1,21}$/.test(b))
    throw new TypeError(`an RF reference body is 1-21 letters or digits, got '${body}'`);
  const check = 98 - mod97(lettersToDigits(`${b}RF00`));
  return `RF${String(check).padStart(2, '0')}${b}`;
}

/** Check digits of a Belgian structured communication from its first ten digits. */
export function belgianCheck(first10: string): string {
  if (!/^\d{10}$/.test(first10))
    throw new TypeError(
      `a Belgian structured communication starts with 10 digits, got '${first10}'`,
    );
  const r = mod97(first10);
  return String(r === 0 ? 97 : r).padStart(2, '0');
}

/** The 12 digits of a Belgian structured communication in any common spelling, or undefined. */
export function belgianDigits(text: string): string | undefined {
  const m =
    /^\s*(?:\+{3}|\*{3})?\s*(\d{3})\s*\/?\s*(\d{4})\s*\/?\s*(\d{5})\s*(?:\+{3}|\*{3})?\s*$/.exec(
      text,
    );
  return m ? m[1] + m[2] + m[3] : undefined;
}

export function isValidBelgian(text: string): boolean {
  const digits = belgianDigits(text);
  return digits !== undefined && belgianCheck(digits.slice(0, 10)) === digits.slice(10);
}

/** `+++123/4567/89012+++` from 12 digits. */
export function formatBelgian(digits: string): string {
  return `+++${digits.slice(0, 3)}/${digits.slice(3, 7)}/${digits.slice(7)}+++`;
}

/** A valid Belgian structured communication for ten digits (check digits appended). */
export function makeBelgian(first10: string): string {
  return formatBelgian(first10 + belgianCheck(first10));
}

/**
 * The canonical form of a reference as an invoice stores it (`payment_reference`), or undefined
 * when it is not a structured reference. Invalid check digits still give a canonical form (with
 * `valid: false`): the caller decides.
 */
export function parseStructuredReference(text: string): FoundReference | undefined {
  const rf = compactRf(text);
  if (rf !== undefined) return { kind: 'rf', canonical: rf, text, index: 0, valid: isValidRf(rf) };
  const be = belgianDigits(text);
  if (be !== undefined)
    return { kind: 'be', canonical: formatBelgian(be), text, index: 0, valid: isValidBelgian(be) };
  return undefined;
}

const RF_START = /(?<![0-9A-Za-z])RF\s?(\d{2})/gi;
const BE_DECORATED = /(\+{3}|\*{3})\s*(\d{3})\s*\/\s*(\d{4})\s*\/\s*(\d{5})\s*(\+{3}|\*{3})/g;
const BE_SLASHED = /(?<![\d/+*])(\d{3})\/(\d{4})\/(\d{5})(?![\d/])/g;

export interface FindOptions {
  /**
   * Also read a bare 12-digit text as a Belgian structured communication (a bank's structured
   * reference field carries it without decoration). Only for a field that holds nothing else.
   */
  bareDigits?: boolean;
}

/**
 * Every structured reference in `text`, valid or not, in order of appearance. An RF reference is
 * read as its `RFdd` head followed by groups of letters/digits separated by single spaces; when
 * the groups run into the next word (`RF18 5390 0754 7034 THANKS`), the longest run of whole groups
 * whose check digits hold is the reference.
 */
export function findStructuredReferences(
  text: string | undefined,
  options: FindOptions = {},
): FoundReference[] {
  if (!text) return [];
  const found: FoundReference[] = [];
  for (const m of text.matchAll(RF_START)) {
    const at = m.index ?? 0;
    // Whole groups after the head, each with the text offset where it ends.
    const groups: Array<{ chars: string; end: number }> = [];
    const re = /^ ?([0-9A-Za-z]+)/;
    let pos = at + m[0].length;
    let len = 0;
    for (let g = re.exec(text.slice(pos)); g; g = re.exec(text.slice(pos))) {
      if (len + g[1].length > 21) break;
      len += g[1].length;
      pos += g[0].length;
      groups.push({ chars: g[1], end: pos });
    }
    if (groups.length === 0) continue;
    let chosen: FoundReference | undefined;
    for (let k = groups.length; k >= 1 && !chosen; k--) {
      const canonical = `RF${m[1]}${groups
        .slice(0, k)
        .map((g) => g.chars)
        .join('')}`.toUpperCase();
      if (isValidRf(canonical))
        chosen = {
          kind: 'rf',
          canonical,
          text: text.slice(at, groups[k - 1].end),
          index: at,
          valid: true,
        };
    }
    if (!chosen) {
      // Nothing validates: report the printed-looking reading as an invalid reference (it matches
      // nothing): groups of four, then at most one shorter group holding a digit, so the words
      // after a mistyped reference stay readable.
      let k = 1;
      while (
        k < groups.length &&
        groups[k - 1].chars.length === 4 &&
        (groups[k].chars.length === 4 || (groups[k].chars.length < 4 && /\d/.test(groups[k].chars)))
      )
        k++;
      const taken = groups.slice(0, k);
      chosen = {
        kind: 'rf',
        canonical: `RF${m[1]}${taken.map((g) => g.chars).join('')}`.toUpperCase(),
        text: text.slice(at, taken[taken.length - 1].end),
        index: at,
        valid: false,
      };
    }
    found.push(chosen);
  }
  for (const m of text.matchAll(BE_DECORATED)) {
    const digits = m[2] + m[3] + m[4];
    found.push({
      kind: 'be',
      canonical: formatBelgian(digits),
      text: m[0],
      valid: isValidBelgian(digits),
      index: m.index ?? 0,
    });
  }
  for (const m of text.matchAll(BE_SLASHED)) {
    const at = m.index ?? 0;
    if (found.some((f) => f.kind === 'be' && at >= f.index && at < f.index + f.text.length))
      continue;
    const digits = m[1] + m[2] + m[3];
    found.push({
      kind: 'be',
      canonical: formatBelgian(digits),
      text: m[0],
      valid: isValidBelgian(digits),
      index: at,
    });
  }
  if (options.bareDigits && /^\s*\d{12}\s*$/.test(text)) {
    const digits = text.trim();
    found.push({
      kind: 'be',
      canonical: formatBelgian(digits),
      text: digits,
      valid: isValidBelgian(digits),
      index: text.indexOf(digits),
    });
  }
  return found.sort((a, b) => a.index - b.index);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const SEPARATORS = /[\s\-/._]+/;

/** Invoice numbers shorter than this (separators not counted) are never looked for in text. */
export const MIN_NUMBER_LENGTH = 4;

/**
 * True when `text` mentions invoice `number` as a whole word: case-insensitive, not inside a longer
 * word or number (`INV-12` is not in `INV-123`), separators `- / . _` and spaces interchangeable.
 * Numbers under {@link MIN_NUMBER_LENGTH} characters are never found.
 */
export function mentionsInvoiceNumber(text: string | undefined, number: string): boolean {
  if (!text) return false;
  const parts = number
    .trim()
    .split(SEPARATORS)
    .filter((p) => p !== '');
  // "12" or "A7" would be found in any memo ("12 items"): too short to be evidence.
  if (parts.join('').length < MIN_NUMBER_LENGTH) return false;
  const pattern = parts.map(escapeRegExp).join('[\\s\\-/._]*');
  return new RegExp(`(?<![0-9A-Za-z])${pattern}(?![0-9A-Za-z])`, 'i').test(text);
}

/**
 * `text` with every structured reference (valid or not) blanked out, so an invoice number is not
 * "found" inside a reference whose check digits failed.
 */
export function withoutStructuredReferences(
  text: string | undefined,
  options: FindOptions = {},
): string {
  if (!text) return '';
  let out = text;
  for (const f of findStructuredReferences(text, options)) {
    out = out.slice(0, f.index) + ' '.repeat(f.text.length) + out.slice(f.index + f.text.length);
  }
  return out;
}
