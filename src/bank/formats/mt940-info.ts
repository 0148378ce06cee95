import type { BankTransaction } from '../provider';
import { cleanText } from './common';

/**
 * MT940 `:86:` "information to account owner" and the `:61:` supplementary details, in the three
 * forms banks write (docs/FORMATS.md §MT940):
 *
 * - German DFÜ structure (DK Anlage 3 §8.2.4): a 3-digit GVC, then `?nn` subfields: `?00` posting
 *   text, `?10` journal number, `?20`–`?29` and `?60`–`?63` purpose (27 characters each; a longer
 *   purpose continues in the next subfield without repeating its SEPA keyword), `?30` bank code or
 *   BIC, `?31` account or IBAN, `?32`–`?33` name, `?34` text key extension. Inside the purpose,
 *   SEPA keywords `EREF+`, `KREF+`, `MREF+`, `CRED+`, `DEBT+`, `SVWZ+` (remittance), `ABWA+`,
 *   `ABWE+`, `IBAN+`, `BIC+`, `COAM+`, `OAMT+`.
 * - The slash structure of SWIFT "MT940 structured" exports (Rabobank, ING, ABN AMRO, many
 *   others): `/KEY/value` with EREF, KREF, MREF/MARF, CRED, DEBT, ORDP, BENM, ULTC, ULTD, CNTP,
 *   NAME, ID, ADDR, REMI (`/REMI/USTD//text/`, `/REMI/STRD/CUR/reference/`), ISDT, CSID, RTRN,
 *   PURP, SVCL, IBAN, BIC and others.
 * - Free text.
 *
 * Only remittance (SVWZ+ or the plain purpose; REMI) becomes the memo; the counterparty's name and
 * account come from their own keys; everything else is kept as additional information, so no
 * subfield leaks into the memo and none is lost.
 */

/** SWIFT line width of `:86:` (6*65x): a line this long was cut by width, maybe inside a word. */
export const LINE_WIDTH_86 = 65;
/** DFÜ subfield width of `?20`–`?29`, `?32`–`?33`, `?60`–`?63`. */
const SUBFIELD_WIDTH = 27;

/**
 * Joins lines a fixed width wrapped: after a full-width line the next continues the same word;
 * after a shorter line the text went on after a space.
 */
export function joinWrapped(lines: readonly string[], width: number): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) out += lines[i - 1].length >= width ? '' : ' ';
    out += lines[i];
  }
  return out;
}

const IBAN = /^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$/;

function setAccount(tx: BankTransaction, account: string | undefined): void {
  const a = account?.replace(/\s+/g, '');
  if (!a) return;
  if (IBAN.test(a)) tx.counterpartyIban = a;
  else tx.counterpartyAccount = a;
}

function setName(tx: BankTransaction, name: string | undefined): void {
  const n = cleanText(name);
  if (n === undefined) return;
  tx.payee = n;
  tx.counterpartyName = n;
}

function addInfo(tx: BankTransaction, text: string | undefined): void {
  const t = cleanText(text);
  if (t !== undefined)
    tx.additionalInfo = tx.additionalInfo !== undefined ? `${tx.additionalInfo}; ${t}` : t;
}

/**
 * The `:61:` supplementary details (second line, 34x): banks that use it for the counterparty's
 * account (Rabobank: the IBAN) have it kept as the counterparty account; other text is kept as
 * additional information.
 */
export function readSupplementary(text: string, tx: BankTransaction): void {
  const t = cleanText(text);
  if (t === undefined) return;
  const compactText = t.replace(/\s+/g, '');
  if (IBAN.test(compactText) || /^\d{6,18}$/.test(compactText)) setAccount(tx, compactText);
  else addInfo(tx, t);
}

/** Reads one `:86:` field (its lines, without the tag) into `tx`. */
export function readInfo86(lines: readonly string[], tx: BankTransaction): void {
  const first = lines[0] ?? '';
  const gvc = /^(\d{3})([?@#|])/.exec(first);
  if (gvc) {
    // Line breaks are transport (65 wide); a break before a subfield marker adds nothing.
    let text = '';
    for (let i = 0; i < lines.length; i++) {
      if (i > 0 && !lines[i].startsWith(gvc[2]))
        text += lines[i - 1].length >= LINE_WIDTH_86 ? '' : ' ';
      text += lines[i];
    }
    if (new RegExp(`\\${gvc[2]}\\d\\d`).test(text)) {
      readGerman(text.slice(3), gvc[2], tx);
      return;
    }
  }
  const joined = joinWrapped(lines, LINE_WIDTH_86);
  if (/^\s*\/[A-Z]{2,9}\//.test(joined)) {
    readSlashed(joined, tx);
    return;
  }
  const text = cleanText(joined);
  if (text !== undefined) tx.memo = text;
}

const SEPA_KEYWORDS = [
  'EREF',
  'KREF',
  'MREF',
  'CRED',
  'DEBT',
  'SVWZ',
  'ABWA',
  'ABWE',
  'IBAN',
  'BIC',
  'COAM',
  'OAMT',
];
const SEPA_KEYWORD = new RegExp(`(${SEPA_KEYWORDS.join('|')})\\+`, 'g');
const PURPOSE_KEYS = [
  '20',
  '21',
  '22',
  '23',
  '24',
  '25',
  '26',
  '27',
  '28',
  '29',
  '60',
  '61',
  '62',
  '63',
];

/** Splits `EREF+x SVWZ+y` purpose text by its SEPA keywords. */
function sepaKeywords(purpose: string): Map<string, string> {
  const out = new Map<string, string>();
  const hits = [...purpose.matchAll(SEPA_KEYWORD)];
  hits.forEach((m, i) => {
    const start = m.index + m[0].length;
    const end = i + 1 < hits.length ? hits[i + 1].index : purpose.length;
    if (!out.has(m[1])) out.set(m[1], purpose.slice(start, end).trim());
  });
  return out;
}

function readGerman(text: string, sep: string, tx: BankTransaction): void {
  const sub = new Map<string, string[]>();
  for (const part of text.split(sep)) {
    if (part.length < 2 || !/^\d\d/.test(part)) continue;
    const key = part.slice(0, 2);
    const list = sub.get(key);
    if (list) list.push(part.slice(2));
    else sub.set(key, [part.slice(2)]);
  }
  const one = (k: string): string | undefined => sub.get(k)?.join('');
  const purpose = joinWrapped(
    PURPOSE_KEYS.flatMap((k) => sub.get(k) ?? []),
    SUBFIELD_WIDTH,
  );
  const sepa = sepaKeywords(purpose);
  const remittance = sepa.size > 0 ? sepa.get('SVWZ') : purpose;
  const memo = cleanText(remittance) ?? cleanText(one('00'));
  if (memo !== undefined) tx.memo = memo;
  setName(
    tx,
    joinWrapped(
      [one('32') ?? '', one('33') ?? ''].filter((p) => p !== ''),
      SUBFIELD_WIDTH,
    ),
  );
  setAccount(tx, sepa.get('IBAN') ?? one('31'));
  const eref = sepa.get('EREF');
  const reference = eref && eref.toUpperCase() !== 'NOTPROVIDED' ? eref : sepa.get('KREF');
  if (cleanText(reference) !== undefined) tx.reference = cleanText(reference);
  for (const key of ['KREF', 'MREF', 'CRED', 'DEBT', 'ABWA', 'ABWE', 'COAM', 'OAMT']) {
    const v = sepa.get(key);
    if (v !== undefined && !(key === 'KREF' && reference === v)) addInfo(tx, `${key} ${v}`);
  }
  if (one('00') !== undefined && memo !== cleanText(one('00'))) addInfo(tx, one('00'));
  if (one('34') !== undefined) addInfo(tx, `text key ${one('34')}`);
}

/** The keys of the slash structure; a `/WORD/` that is not one of them is part of a value. */
const SLASH_KEYS = new Set([
  'EREF',
  'KREF',
  'MREF',
  'MARF',
  'PREF',
  'CRED',
  'DEBT',
  'CSID',
  'CNTP',
  'ORDP',
  'BENM',
  'ULTC',
  'ULTD',
  'ULTB',
  'NAME',
  'ID',
  'ADDR',
  'REMI',
  'ISDT',
  'RTRN',
  'PURP',
  'SVCL',
  'IBAN',
  'BIC',
  'TRCD',
  'BUSP',
  'ACCW',
  'IREF',
  'RREF',
  'EXCH',
  'CHGS',
  'COAM',
  'OCMT',
  'CDTRREF',
  'CDTRREFTP',
  'ISSR',
]);
const PARTIES = new Set(['ORDP', 'BENM', 'ULTC', 'ULTD', 'ULTB', 'CNTP']);
/** Keys whose value is shown as additional information (never as memo). */
const INFO_KEYS = [
  'KREF',
  'MREF',
  'MARF',
  'CRED',
  'DEBT',
  'CSID',
  'ISDT',
  'PURP',
  'SVCL',
  'TRCD',
  'BUSP',
  'IREF',
  'RREF',
  'EXCH',
  'CHGS',
  'COAM',
  'OCMT',
];

interface SlashParty {
  name?: string;
  id?: string;
  address?: string;
}

/** `/KEY/value/KEY/value…` into keys (the first value of each) and parties with their NAME/ID/ADDR. */
function slashFields(text: string): {
  values: Map<string, string>;
  parties: Map<string, SlashParty>;
} {
  const tokens = text.trim().split('/');
  const values = new Map<string, string>();
  const parties = new Map<string, SlashParty>();
  let key: string | undefined;
  let party: string | undefined;
  let acc: string[] = [];
  const flush = (): void => {
    if (key === undefined) return;
    const value = acc.join('/').replace(/^\/+|\/+$/g, '');
    const owner =
      party !== undefined && (key === 'NAME' || key === 'ID' || key === 'ADDR')
        ? parties.get(party)
        : undefined;
    if (owner) {
      const field = key === 'NAME' ? 'name' : key === 'ID' ? 'id' : 'address';
      owner[field] ??= value;
    } else if (!values.has(key)) {
      values.set(key, value);
    }
  };
  for (const tok of tokens) {
    if (SLASH_KEYS.has(tok) && !(key === 'REMI' && (tok === 'ID' || tok === 'NAME'))) {
      flush();
      key = tok;
      acc = [];
      if (PARTIES.has(tok)) {
        party = tok;
        parties.set(tok, {});
      } else if (tok !== 'NAME' && tok !== 'ID' && tok !== 'ADDR') {
        party = undefined;
      }
    } else if (key !== undefined) {
      acc.push(tok);
    }
  }
  flush();
  return { values, parties };
}

function readSlashed(text: string, tx: BankTransaction): void {
  const { values, parties } = slashFields(text);
  // CNTP is IBAN/BIC/NAME/CITY (ING); ORDP (credit) and BENM (debit) carry NAME, ID and ADDR.
  const cntp = values.get('CNTP')?.split('/');
  const counterparty =
    tx.amount >= 0
      ? (parties.get('ORDP') ?? parties.get('BENM'))
      : (parties.get('BENM') ?? parties.get('ORDP'));
  setName(tx, counterparty?.name ?? values.get('NAME') ?? cntp?.[2]);
  setAccount(tx, values.get('IBAN') ?? (cntp?.[0] || undefined));
  if (counterparty?.id) addInfo(tx, `counterparty id ${counterparty.id}`);
  if (counterparty?.address) addInfo(tx, `counterparty address ${counterparty.address}`);
  const remi = values.get('REMI');
  if (remi !== undefined) {
    const structured = /^STRD\/+(?:[A-Z]+\/+)?(.*)$/.exec(remi);
    const text = structured ? structured[1] : remi.replace(/^USTD\/+/, '');
    if (cleanText(text) !== undefined) tx.memo = cleanText(text);
    if (structured && cleanText(structured[1]) !== undefined)
      tx.reference = cleanText(structured[1]);
  }
  const eref = values.get('EREF');
  if (eref !== undefined && eref.toUpperCase() !== 'NOTPROVIDED' && cleanText(eref) !== undefined)
    tx.reference ??= cleanText(eref);
  const rtrn = values.get('RTRN');
  if (rtrn !== undefined && cleanText(rtrn) !== undefined)
    tx.returnReason = cleanText(rtrn.split('/')[0]);
  for (const key of INFO_KEYS) {
    const v = values.get(key);
    if (v !== undefined && cleanText(v) !== undefined) addInfo(tx, `${key} ${v}`);
  }
}
