import type { BankAccountStatement, BankBalance, BankTransaction } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { charsetFromName, decodeAll } from './charset';
import {
  bankDate,
  compact,
  decimalAmount,
  dropSharedProviderIds,
  malformed,
  statementWarning,
  type ParsedStatementFile,
  type StatementWarning,
  type StatementWarningCode,
} from './common';
import { readInfo86, readSupplementary } from './mt940-info';

/**
 * SWIFT MT940 customer statements, in the envelopes banks actually send: the SWIFT blocks
 * `{1:…}{2:…}{4:` … `-}`, bare `:20:`-started messages, SOH/ETX bytes (mBank), header lines before
 * the first tag (ABN AMRO, ING), CRLF or LF, CP1252 or UTF-8.
 *
 * `:61:` is `6!n[4!n]2a[1!a]15d1!a3!c16x[//16x][\n34x]` (value date, entry date, mark, funds code,
 * amount, type, customer reference, bank reference, supplementary details). The entry date's year
 * is the value date's year moved across New Year when the months say so. Value dates past the
 * month's end (30 February: 30-day-month banks) are clamped with a warning.
 *
 * `:86:` is read in the German DFÜ form (`GVC?00…?20…?29?30…?33`, SEPA keywords `EREF+`, `SVWZ+`…),
 * in the Dutch slash form (`/EREF/…/NAME/…/REMI/…`) or as free text.
 *
 * Opening + lines = closing is checked for every statement; a difference is a warning, since
 * multi-page statements (`:60M:`/`:62M:`) and banks' rounding make it a poor reason to reject.
 *
 * @link https://www2.swift.com/knowledgecentre/publications/us9m_20230720/2.0 (MT940 format)
 */

interface Field {
  tag: string;
  value: string;
  line: number;
}

interface Draft {
  line: number;
  /** :20: transaction reference and :28C: statement number, the statement's id. */
  reference?: string;
  number?: string;
  accountId?: string;
  bankId?: string;
  currency?: string;
  opening?: { amount: number; date: CalendarDate; line: number };
  closing?: { amount: number; date: CalendarDate };
  balances: BankBalance[];
  transactions: BankTransaction[];
  lastTx?: BankTransaction;
  sawClosing: boolean;
  /** Set by :34F: or :13D:: an MT942 interim transaction report (intraday lines, no balances). */
  interim?: Interim;
}

/** The MT942 parts of a statement (SWIFT MT942: :34F: floor limit, :13D: date/time, :90D:/:90C: totals). */
interface Interim {
  asOf?: CalendarDate;
  debits?: { count: number; sum: number; line: number };
  credits?: { count: number; sum: number; line: number };
}

export function looksLikeMt940(head: string): boolean {
  return (
    /\{4:\s*[\r\n]+:20:/.test(head) ||
    (/(^|[\r\n]):20:/.test(head) && /(^|[\r\n]):(25|60F|60M|28C?):/.test(head))
  );
}

/** Splits the text into tag fields; continuation lines are kept with `\n` (the `:61:` second line matters). */
function fields(text: string): { fields: Field[]; statementBreaks: Set<number> } {
  const out: Field[] = [];
  const breaks = new Set<number>();
  // eslint-disable-next-line no-control-regex -- SOH and ETX frame a SWIFT message: they end a line like a line break
  const lines = text.replace(/[\x01\x03]/g, '\n').split(/\r\n|\r|\n/);
  let current: Field | undefined;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    const lineNo = i + 1;
    // SWIFT envelope: `{1:F01…}{2:O940…}{3:…}{4:` opens, `-}` (or `-}{5:…}`) closes.
    const block4 = line.indexOf('{4:');
    if (line.startsWith('{') && block4 !== -1) {
      line = line.slice(block4 + 3);
      current = undefined;
      if (line.trim() === '') continue;
    } else if (
      line.startsWith('{1:') ||
      line.startsWith('{5:') ||
      line.startsWith('{2:') ||
      line.startsWith('{3:')
    ) {
      current = undefined;
      continue;
    }
    const trimmed = line.trim();
    if (
      trimmed === '-' ||
      trimmed.startsWith('-}') ||
      trimmed === '-XXX' ||
      /^-\s*$/.test(trimmed)
    ) {
      current = undefined;
      breaks.add(out.length);
      continue;
    }
    // `:NS:` is Rabobank's non-SWIFT field; it must not be glued to the field before it.
    const tag = /^:(\d\d[A-Z]?|NS):(.*)$/.exec(line);
    if (tag) {
      current = { tag: tag[1], value: tag[2], line: lineNo };
      out.push(current);
      continue;
    }
    if (current) current.value += `\n${line}`;
    // Text before the first tag (bank header lines) is ignored.
  }
  return { fields: out, statementBreaks: breaks };
}

class Mt940Reader {
  readonly warnings: StatementWarning[] = [];
  readonly statements: BankAccountStatement[] = [];
  /** Interim (MT942) messages read, of `statements`. */
  interimCount = 0;
  private st?: Draft;

  constructor(
    private readonly file: string,
    private readonly defaultCurrency: string | undefined,
  ) {}

  read(text: string): void {
    const { fields: list } = fields(text);
    if (list.length === 0)
      throw malformed(
        { file: this.file, line: 1, field: ':20:' },
        'no MT940 fields (:20:, :25:, :61:...) in the file',
      );
    for (const f of list) this.field(f);
    if (this.st) this.finish(this.st);
    if (this.statements.length === 0)
      throw malformed({ file: this.file, line: 1, field: ':25:' }, 'no statement in the file');
  }

  private warn(code: StatementWarningCode, line: number, text: string): void {
    const statement = this.statements.length;
    this.warnings.push(statementWarning(code, { file: this.file, line, statement }, text));
  }

  private field(f: Field): void {
    switch (f.tag) {
      case '20':
        if (this.st) this.finish(this.st);
        this.st = {
          line: f.line,
          balances: [],
          transactions: [],
          sawClosing: false,
          reference: f.value.trim() || undefined,
        };
        return;
      case '28':
      case '28C':
        this.need(f).number = f.value.trim() || undefined;
        return;
      case '21':
      case '13':
        this.need(f);
        return;
      case '34F':
      case '13D':
      case '90D':
      case '90C':
        this.interimField(this.need(f), f);
        return;
      case '25':
        this.account(this.need(f), f);
        return;
      case '60F':
      case '60M': {
        const st = this.need(f);
        const b = this.balance(f, st);
        st.currency ??= b.currency;
        st.opening = { amount: b.amount, date: b.date, line: f.line };
        st.balances.push({ amount: b.amount, currency: b.currency, date: b.date, kind: 'ledger' });
        return;
      }
      case '62F':
      case '62M': {
        const st = this.need(f);
        const b = this.balance(f, st);
        st.closing = { amount: b.amount, date: b.date };
        st.sawClosing = true;
        // An opening balance on the closing's own day is that day's start, not its end: keep one per day.
        st.balances = st.balances.filter((x) => !(x.kind === 'ledger' && x.date === b.date));
        st.balances.push({ amount: b.amount, currency: b.currency, date: b.date, kind: 'ledger' });
        return;
      }
      case '64': {
        const st = this.need(f);
        const b = this.balance(f, st);
        st.balances.push({
          amount: b.amount,
          currency: b.currency,
          date: b.date,
          kind: 'available',
        });
        return;
      }
      case '65':
      case 'NS':
        return; // forward available balance (a forecast), bank-private fields
      case '61': {
        const st = this.need(f);
        const tx = this.line61(f, st);
        st.transactions.push(tx);
        st.lastTx = tx;
        return;
      }
      case '86': {
        const st = this.need(f);
        if (st.lastTx) {
          readInfo86(f.value.split('\n'), st.lastTx);
          st.lastTx = undefined;
        }
        return;
      }
      default:
        this.warn('BANK_WARN_IGNORED', f.line, `unknown MT940 field :${f.tag}: ignored`);
        return;
    }
  }

  /** The statement a field belongs to; banks that omit `:20:` start one at the first field. */
  private need(f: Field): Draft {
    if (
      !this.st ||
      (this.st.sawClosing &&
        (f.tag === '25' || f.tag === '28C' || f.tag === '28' || f.tag.startsWith('60')))
    ) {
      if (this.st) this.finish(this.st);
      this.st = { line: f.line, balances: [], transactions: [], sawClosing: false };
    }
    return this.st;
  }

  private account(st: Draft, f: Field): void {
    let v = f.value.split('\n')[0].trim();
    // A currency appended with a space (`NL12RABO0123456789 EUR`) or glued to an IBAN.
    const spaced = /^(.*\S)\s+([A-Z]{3})$/.exec(v);
    if (spaced && isCurrency(spaced[2])) {
      v = spaced[1];
      st.currency ??= spaced[2];
    } else {
      const glued = /^([A-Z]{2}\d{2}[A-Z0-9]{10,30})([A-Z]{3})$/.exec(v);
      if (glued && isCurrency(glued[2]) && /\d$/.test(glued[1])) {
        v = glued[1];
        st.currency ??= glued[2];
      }
    }
    const slash = v.indexOf('/');
    if (slash > 0) {
      st.bankId = v.slice(0, slash).trim();
      st.accountId = v
        .slice(slash + 1)
        .trim()
        .replace(/\s+/g, '');
    } else {
      st.accountId = v.replace(/\s+/g, '');
    }
    if (!st.accountId)
      throw malformed(
        { file: this.file, line: f.line, field: ':25:' },
        'empty account identification',
      );
  }

  private balance(f: Field, st: Draft): { amount: number; currency: string; date: CalendarDate } {
    const field = `:${f.tag}:`;
    const m = /^([CD])(\d{6})([A-Z]{3})(\d[\d,]*)$/.exec(f.value.replace(/\s+/g, ''));
    if (!m)
      throw malformed(
        { file: this.file, line: f.line, field },
        `'${f.value.trim()}' is not a balance (C|D, YYMMDD, currency, amount)`,
      );
    const currency = m[3];
    if (!isCurrency(currency))
      throw malformed(
        { file: this.file, line: f.line, field },
        `'${currency}' is not an ISO 4217 currency`,
      );
    if (st.currency !== undefined && st.currency !== currency) {
      throw malformed(
        { file: this.file, line: f.line, field },
        `balance currency ${currency} differs from the statement's ${st.currency}`,
      );
    }
    const amount = this.amount(m[4], currency, f.line, field);
    return {
      amount: m[1] === 'D' ? -amount : amount,
      currency,
      date: this.yymmdd(m[2], f.line, field),
    };
  }

  private amount(text: string, currency: string, line: number, field: string): number {
    try {
      return decimalAmount(text, currency, ',');
    } catch (err) {
      throw malformed({ file: this.file, line, field }, `'${text}' is not an amount`, err);
    }
  }

  private yymmdd(text: string, line: number, field: string): CalendarDate {
    const yy = Number(text.slice(0, 2));
    const year = yy < 80 ? 2000 + yy : 1900 + yy;
    const d = bankDate(year, Number(text.slice(2, 4)), Number(text.slice(4, 6)), (w) =>
      this.warn('BANK_WARN_DATE', line, `${field}: ${w}`),
    );
    if (d === undefined)
      throw malformed({ file: this.file, line, field }, `'${text}' is not a date (YYMMDD)`);
    return d;
  }

  private line61(f: Field, st: Draft): BankTransaction {
    const [first, ...more] = f.value.split('\n');
    const m = LINE61.exec(first.trim());
    if (!m)
      throw malformed(
        { file: this.file, line: f.line, field: ':61:' },
        `'${first.trim()}' is not a statement line (YYMMDD[MMDD]C|D|RC|RD amount type reference)`,
      );
    const [, valueText, entryText, mark, , amountText, , customerRef, bankRef] = m;
    const currency = st.currency ?? this.defaultCurrency;
    if (currency === undefined)
      throw malformed(
        { file: this.file, line: f.line, field: ':60F:' },
        'statement line before any balance (:60F:) or floor limit (:34F:, MT942): currency unknown',
      );
    const valueDate = this.yymmdd(valueText, f.line, ':61: value date');
    let bookingDate = valueDate;
    if (entryText) {
      const vYear = Number(valueDate.slice(0, 4));
      const vMonth = Number(valueDate.slice(5, 7));
      const eMonth = Number(entryText.slice(0, 2));
      // The entry date has no year: take the value date's, moved across New Year when needed.
      const year =
        vMonth === 12 && eMonth === 1
          ? vYear + 1
          : vMonth === 1 && eMonth === 12
            ? vYear - 1
            : vYear;
      const d = bankDate(year, eMonth, Number(entryText.slice(2, 4)), (w) =>
        this.warn('BANK_WARN_DATE', f.line, `:61: entry date: ${w}`),
      );
      if (d === undefined)
        throw malformed(
          { file: this.file, line: f.line, field: ':61: entry date' },
          `'${entryText}' is not a date (MMDD)`,
        );
      bookingDate = d;
    }
    const magnitude = this.amount(amountText, currency, f.line, ':61: amount');
    const credit = mark === 'C' || mark === 'RD';
    const tx: BankTransaction = {
      bookingDate,
      valueDate,
      amount: credit ? magnitude : -magnitude,
      currency,
      pending: false,
    };
    const bank = bankRef?.trim();
    if (bank && bank.toUpperCase() !== 'NONREF') {
      tx.providerId = bank;
      tx.checkNumber = bank;
    }
    const customer = customerRef?.trim();
    if (customer && customer.toUpperCase() !== 'NONREF') tx.reference = customer;
    readSupplementary(more.join(' '), tx);
    return tx;
  }

  /** :34F: `3!a[1!a]15d` floor limit (its currency is the report's), :13D: `6!n4!n1!x4!n`, :90D:/:90C: `5n3!a15d`. */
  private interimField(st: Draft, f: Field): void {
    const field = `:${f.tag}:`;
    const v = f.value.replace(/\s+/g, '');
    const interim = (st.interim ??= {});
    if (f.tag === '34F') {
      const m = /^([A-Z]{3})[DC]?\d[\d,]*$/.exec(v);
      if (!m || !isCurrency(m[1]))
        throw malformed(
          { file: this.file, line: f.line, field },
          `'${f.value.trim()}' is not a floor limit (currency, D|C, amount)`,
        );
      st.currency ??= m[1];
    } else if (f.tag === '13D') {
      interim.asOf = this.yymmdd(v.slice(0, 6), f.line, field);
    } else {
      const m = /^(\d{1,5})([A-Z]{3})(\d[\d,]*)$/.exec(v);
      if (!m)
        throw malformed(
          { file: this.file, line: f.line, field },
          `'${f.value.trim()}' is not a number and sum of entries`,
        );
      const total = {
        count: Number(m[1]),
        sum: this.amount(m[3], m[2], f.line, field),
        line: f.line,
      };
      if (f.tag === '90D') interim.debits = total;
      else interim.credits = total;
    }
  }

  /**
   * An MT942 report: its lines are intraday (pending: the connection's include_pending decides),
   * it has no balances, and its :90D:/:90C: totals are checked against the lines with a warning.
   */
  private finishInterim(st: Draft, interim: Interim): void {
    if (st.accountId === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: ':25:' },
        'MT942 interim report without an account (:25:)',
      );
    const currency = st.currency ?? this.defaultCurrency;
    if (currency === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: ':34F:' },
        'MT942 interim report without a currency (:34F:)',
      );
    for (const tx of st.transactions) tx.pending = true;
    this.interimCount++;
    for (const [total, credit, tag] of [
      [interim.debits, false, ':90D:'],
      [interim.credits, true, ':90C:'],
    ] as const) {
      if (!total) continue;
      const lines = st.transactions.filter((t) => t.amount >= 0 === credit);
      const sum = lines.reduce((n, t) => n + Math.abs(t.amount), 0);
      if (lines.length !== total.count || sum !== total.sum) {
        this.warn(
          'BANK_WARN_TOTALS_MISMATCH',
          total.line,
          `${tag} says ${total.count} entries of ${total.sum}, the lines are ${lines.length} of ${sum} (minor units of ${currency})`,
        );
      }
    }
    this.push(st, st.accountId, currency, interim.asOf, []);
  }

  /** The statement of a finished draft: from its first line's day to `to`. */
  private push(
    st: Draft,
    accountId: string,
    currency: string,
    to: CalendarDate | undefined,
    balances: BankBalance[],
  ): void {
    const statement: BankAccountStatement = compact({
      accountId,
      bankId: st.bankId,
      statementId: st.number ?? st.reference,
      currency,
      from: st.transactions.reduce<CalendarDate | undefined>(
        (m, t) => (m === undefined || t.bookingDate < m ? t.bookingDate : m),
        undefined,
      ),
      to,
      transactions: st.transactions,
      balances,
    });
    dropSharedProviderIds(statement, this.file, this.warnings, this.statements.length);
    this.statements.push(statement);
  }

  private finish(st: Draft): void {
    this.st = undefined;
    if (st.accountId === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: ':25:' },
        'statement without an account (:25:)',
      );
    if (st.interim) {
      this.finishInterim(st, st.interim);
      return;
    }
    if (!st.sawClosing)
      throw malformed(
        { file: this.file, line: st.line, field: ':62F:' },
        'statement without a closing balance (:62F:/:62M:): truncated or incomplete',
      );
    const currency = st.currency ?? this.defaultCurrency;
    if (currency === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: ':60F:' },
        'statement without a currency',
      );
    if (st.opening && st.closing) {
      const sum = st.transactions.reduce((s, t) => s + t.amount, 0);
      if (st.opening.amount + sum !== st.closing.amount) {
        this.warn(
          'BANK_WARN_BALANCE_MISMATCH',
          st.line,
          `opening balance ${st.opening.amount} + lines ${sum} ≠ closing balance ${st.closing.amount} (minor units of ${currency})`,
        );
      }
    }
    this.push(st, st.accountId, currency, st.closing?.date, st.balances);
  }
}

/** `:61:` first line: value date, entry date, mark, funds code, amount, type, references. */
const LINE61 =
  /^(\d{6})(\d{4})?(RC|RD|C|D)([A-Z])?(\d[\d]*,\d*)([A-Z][A-Z0-9]{3})(.*?)(?:\/\/(.*))?$/;

/** Parses a whole MT940 file: every statement in it, or nothing. */
export function parseMt940(
  bytes: Buffer,
  options: { fileName: string; defaultCurrency?: string; encoding?: string },
): ParsedStatementFile {
  const warnings: StatementWarning[] = [];
  const { text } = decodeAll(bytes, charsetFromName(options.encoding), (w) =>
    warnings.push(statementWarning('BANK_WARN_CHARSET', { file: options.fileName }, w)),
  );
  const reader = new Mt940Reader(options.fileName, options.defaultCurrency?.toUpperCase());
  reader.read(text);
  const interimOnly = reader.interimCount === reader.statements.length;
  return {
    format: interimOnly ? 'mt942' : 'mt940',
    statements: reader.statements,
    warnings: [...warnings, ...reader.warnings],
  };
}
