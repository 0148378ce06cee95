import type { BankBalance, BankTransaction, StreamedStatement } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { localName, Tokenizer, TokenizerError, type TokenHandler } from './tokenizer';
import {
  bankDate,
  capFreeText,
  cleanText,
  compact,
  decimalAmount,
  malformed,
  statementWarning,
  type FormatSink,
  type StatementWarning,
  type StatementWarningCode,
} from './common';

/**
 * The element reader of camt.053 (see camt053.ts for the semantics): tokens in, statement lines
 * and statements out to a sink. docs/FORMATS.md §camt.053 lists the elements it reads.
 */

/** A statement as known when its `</Stmt>` closes: everything except the lines, which were streamed. */
export type CamtStatementSummary = StreamedStatement;

export type CamtSink = FormatSink;

export interface CamtOptions {
  fileName: string;
}

export interface CamtResult {
  statementCount: number;
  transactionCount: number;
  warnings: StatementWarning[];
}

interface Party {
  name?: string;
  iban?: string;
}

interface TxDetails {
  line: number;
  amount?: string;
  currency?: string;
  cdtDbt?: string;
  acctSvcrRef?: string;
  endToEndId?: string;
  creditorRef?: string;
  ustrd: string[];
  addtlTxInf?: string;
  /** RtrInf/Rsn/Cd (or Prtry): why the payment came back. */
  returnReason?: string;
  debtor: Party;
  creditor: Party;
}

interface EntryDraft {
  line: number;
  amount?: string;
  amountLine: number;
  currency?: string;
  cdtDbt?: string;
  status?: string;
  bookingDate?: string;
  valueDate?: string;
  acctSvcrRef?: string;
  addtlNtryInf?: string;
  reversal?: boolean;
  details: TxDetails[];
}

interface BalanceDraft {
  line: number;
  code?: string;
  amount?: string;
  currency?: string;
  cdtDbt?: string;
  date?: string;
}

interface StatementDraft {
  line: number;
  id?: string;
  accountId?: string;
  bankId?: string;
  currency?: string;
  from?: string;
  to?: string;
  balances: BankBalance[];
  count: number;
  /** Currency of the first line: the statement's currency when neither Acct/Ccy nor a balance says. */
  firstCurrency?: string;
  /** Sum of the booked entries (minor units), for opening + entries = closing. */
  booked: number;
  opening?: number;
  openingCode?: 'OPBD' | 'PRCD';
  closing?: number;
  /** FrToDt as calendar days, once read (entries outside it are warned about). */
  period?: { from?: CalendarDate; to?: CalendarDate };
  outside: number;
}

const BALANCE_KINDS: Readonly<Record<string, 'ledger' | 'available'>> = {
  OPBD: 'ledger',
  CLBD: 'ledger',
  PRCD: 'ledger',
  ITBD: 'ledger',
  OPAV: 'available',
  CLAV: 'available',
  ITAV: 'available',
};

export class CamtReader implements TokenHandler {
  readonly warnings: StatementWarning[] = [];
  statementCount = 0;
  transactionCount = 0;
  readonly tokenizer = new Tokenizer(this);
  private readonly path: string[] = [];
  private buffered = '';
  private amountCcy?: string;
  private st?: StatementDraft;
  private entry?: EntryDraft;
  private tx?: TxDetails;
  private bal?: BalanceDraft;
  private sawDocument = false;

  constructor(
    private readonly file: string,
    private readonly sink: CamtSink,
  ) {}

  open(
    rawName: string,
    attributes: Record<string, string> | undefined,
    selfClosing: boolean,
  ): void {
    const name = localName(rawName);
    this.path.push(name);
    this.buffered = '';
    const line = this.tokenizer.line;
    switch (name) {
      case 'BkToCstmrStmt':
        this.sawDocument = true;
        break;
      case 'Stmt':
        if (this.parent(1) === 'BkToCstmrStmt')
          this.st = { line, balances: [], count: 0, booked: 0, outside: 0 };
        break;
      case 'Bal':
        if (this.st && !this.entry) this.bal = { line };
        break;
      case 'Ntry':
        if (this.st) this.entry = { line, amountLine: line, details: [] };
        break;
      case 'TxDtls':
        if (this.entry) this.tx = { line, ustrd: [], debtor: {}, creditor: {} };
        break;
      case 'Amt':
        this.amountCcy = attributes?.Ccy;
        break;
      default:
        break;
    }
    if (selfClosing) this.close(rawName);
  }

  text(text: string): void {
    this.buffered = this.buffered === '' ? text : this.buffered + text;
  }

  close(rawName: string): void {
    const top = this.path[this.path.length - 1];
    // Most closing tags name the open element exactly: no prefix to strip then.
    const name = rawName === top ? top : localName(rawName);
    if (top !== name) {
      throw malformed(
        { file: this.file, line: this.tokenizer.line, field: name },
        `closing tag </${name}> does not match <${top ?? 'nothing'}>`,
      );
    }
    const value = this.buffered.trim();
    this.buffered = '';
    const p = this.path;
    const depth = p.length;
    const parent = p[depth - 2];
    const line = this.tokenizer.line;
    if (this.tx) this.txLeaf(this.tx, name, parent, value, line);
    else if (this.entry) this.entryLeaf(this.entry, name, parent, value, line);
    else if (this.bal) this.balanceLeaf(this.bal, name, parent, value);
    else if (this.st) this.statementLeaf(this.st, name, parent, value);
    p.pop();
    switch (name) {
      case 'TxDtls':
        if (this.entry && this.tx) this.entry.details.push(this.tx);
        this.tx = undefined;
        break;
      case 'Ntry':
        if (this.st && this.entry) this.finishEntry(this.st, this.entry);
        this.entry = undefined;
        break;
      case 'Bal':
        if (this.st && this.bal) this.finishBalance(this.st, this.bal);
        this.bal = undefined;
        break;
      case 'Stmt':
        if (this.st && parent === 'BkToCstmrStmt') this.finishStatement(this.st);
        this.st = undefined;
        break;
      default:
        break;
    }
  }

  end(): void {
    try {
      this.tokenizer.end();
    } catch (err) {
      if (err instanceof TokenizerError)
        throw malformed({ file: this.file, line: err.line }, `${err.message} (truncated file?)`);
      throw err;
    }
    if (this.path.length > 0) {
      throw malformed(
        { file: this.file, line: this.tokenizer.line, field: this.path[this.path.length - 1] },
        `file ends inside <${this.path.join('/')}> (truncated file?)`,
      );
    }
    if (!this.sawDocument)
      throw malformed(
        { file: this.file, line: 1, field: 'BkToCstmrStmt' },
        'no BkToCstmrStmt element: not a camt.053 statement',
      );
    if (this.statementCount === 0)
      throw malformed({ file: this.file, field: 'Stmt' }, 'no Stmt in the file');
  }

  private parent(up: number): string | undefined {
    return this.path[this.path.length - 1 - up];
  }

  private has(name: string): boolean {
    return this.path.lastIndexOf(name) !== -1;
  }

  private statementLeaf(
    st: StatementDraft,
    name: string,
    parent: string | undefined,
    value: string,
  ): void {
    if (this.has('Acct')) {
      if (name === 'IBAN' && parent === 'Id' && this.parent(2) === 'Acct')
        st.accountId = value.replace(/\s+/g, '');
      else if (
        name === 'Id' &&
        parent === 'Othr' &&
        this.parent(3) === 'Acct' &&
        st.accountId === undefined
      )
        st.accountId = value;
      else if (name === 'Ccy' && parent === 'Acct') st.currency = value.toUpperCase();
      else if ((name === 'BIC' || name === 'BICFI') && this.has('Svcr')) st.bankId = value;
      return;
    }
    if (name === 'Id' && parent === 'Stmt') st.id = value;
    if (parent === 'FrToDt') {
      if (name === 'FrDtTm') st.from = value;
      else if (name === 'ToDtTm') st.to = value;
    }
  }

  private balanceLeaf(
    b: BalanceDraft,
    name: string,
    parent: string | undefined,
    value: string,
  ): void {
    if (name === 'Cd' && parent === 'CdOrPrtry') b.code = value;
    else if (name === 'Amt' && parent === 'Bal') {
      b.amount = value;
      b.currency = this.amountCcy;
    } else if (name === 'CdtDbtInd' && parent === 'Bal') b.cdtDbt = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'Dt') b.date = value;
  }

  private entryLeaf(
    e: EntryDraft,
    name: string,
    parent: string | undefined,
    value: string,
    line: number,
  ): void {
    if (parent === 'Ntry') {
      switch (name) {
        case 'Amt':
          e.amount = value;
          e.currency = this.amountCcy;
          e.amountLine = line;
          break;
        case 'CdtDbtInd':
          e.cdtDbt = value;
          break;
        case 'Sts':
          if (value !== '') e.status = value;
          break;
        case 'AcctSvcrRef':
          e.acctSvcrRef = value;
          break;
        case 'AddtlNtryInf':
          e.addtlNtryInf = value;
          break;
        case 'RvslInd':
          e.reversal = value.toLowerCase() === 'true';
          break;
        default:
          break;
      }
      return;
    }
    if (name === 'Cd' && parent === 'Sts') e.status = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'BookgDt') e.bookingDate = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'ValDt') e.valueDate = value;
  }

  private txLeaf(
    t: TxDetails,
    name: string,
    parent: string | undefined,
    value: string,
    line: number,
  ): void {
    switch (name) {
      case 'Amt':
        // .04+: TxDtls/Amt; .02: TxDtls/AmtDtls/TxAmt/Amt. Never the instructed or counter-value amounts.
        if (parent === 'TxDtls' || (parent === 'TxAmt' && this.parent(2) === 'AmtDtls')) {
          t.amount = value;
          t.currency = this.amountCcy;
          t.line = line;
        }
        return;
      case 'CdtDbtInd':
        if (parent === 'TxDtls') t.cdtDbt = value;
        return;
      case 'AcctSvcrRef':
        if (parent === 'Refs') t.acctSvcrRef = value;
        return;
      case 'EndToEndId':
        if (parent === 'Refs') t.endToEndId = value;
        return;
      case 'Ustrd':
        if (parent === 'RmtInf') t.ustrd.push(value);
        return;
      case 'Ref':
        if (parent === 'CdtrRefInf') t.creditorRef = value;
        return;
      case 'AddtlTxInf':
        t.addtlTxInf = value;
        return;
      case 'Cd':
      case 'Prtry':
        if (parent === 'Rsn' && this.parent(2) === 'RtrInf') t.returnReason = value;
        return;
      default:
        break;
    }
    // Only a party's name and IBAN are read below: other leaves need no walk up the path.
    if ((name !== 'Nm' && name !== 'IBAN') || !this.has('RltdPties')) return;
    const party =
      this.has('Dbtr') || this.has('DbtrAcct')
        ? t.debtor
        : this.has('Cdtr') || this.has('CdtrAcct')
          ? t.creditor
          : undefined;
    if (!party) return;
    if (name === 'Nm' && (this.has('Dbtr') || this.has('Cdtr'))) party.name ??= value;
    else if (name === 'IBAN' && (this.has('DbtrAcct') || this.has('CdtrAcct')))
      party.iban = value.replace(/\s+/g, '');
  }

  private finishBalance(st: StatementDraft, b: BalanceDraft): void {
    const kind = b.code ? BALANCE_KINDS[b.code] : undefined;
    if (!kind) return; // forward-available and proprietary balances say nothing about the books
    const currency = this.currency(b.currency ?? st.currency, b.line, 'Bal/Amt/@Ccy');
    const amount = this.amount(b.amount, currency, b.line, 'Bal/Amt');
    const date = this.date(b.date, b.line, 'Bal/Dt');
    const signed = b.cdtDbt === 'DBIT' ? -amount : amount;
    st.balances.push({ amount: signed, currency, date, kind });
    if (b.code === 'OPBD' || (b.code === 'PRCD' && st.openingCode !== 'OPBD')) {
      st.opening = signed;
      st.openingCode = b.code;
    } else if (b.code === 'CLBD') {
      st.closing = signed;
    }
  }

  /** A warning at `line` of the statement being read. */
  private warn(code: StatementWarningCode, line: number, text: string): void {
    const at = { file: this.file, line, statement: this.statementCount };
    this.warnings.push(statementWarning(code, at, text));
  }

  private finishEntry(st: StatementDraft, e: EntryDraft): void {
    const status = (e.status ?? 'BOOK').toUpperCase();
    if (status === 'INFO') {
      this.warn('BANK_WARN_IGNORED', e.line, 'Ntry with status INFO is not a booking; skipped');
      return;
    }
    const pending = status === 'PDNG';
    const currency = this.currency(e.currency ?? st.currency, e.amountLine, 'Ntry/Amt/@Ccy');
    const amount = this.signed(e.amount, e.cdtDbt, currency, e.amountLine, 'Ntry');
    const bookingDate = this.date(
      e.bookingDate ?? e.valueDate,
      e.line,
      e.bookingDate !== undefined ? 'Ntry/BookgDt' : 'Ntry/BookgDt or ValDt',
    );
    const valueDate =
      e.valueDate !== undefined ? this.date(e.valueDate, e.line, 'Ntry/ValDt') : undefined;
    if (!pending) {
      st.booked += amount;
      this.checkPeriod(st, bookingDate);
    }
    // A literal object with every field, not a spread of a shared base plus the amount: V8 copies
    // a spread with added fields through its slow path, which was a tenth of the parse.
    const line = (amount: number, currency: string) => ({
      bookingDate,
      valueDate,
      pending,
      amount,
      currency,
    });
    const details = e.details;
    if (details.length > 1 && details.every((d) => d.amount !== undefined)) {
      const parts = details.map((d) => {
        const c = this.currency(d.currency ?? currency, d.line, 'TxDtls/Amt/@Ccy');
        return {
          d,
          currency: c,
          amount: this.signed(d.amount, d.cdtDbt ?? e.cdtDbt, c, d.line, 'TxDtls'),
        };
      });
      const sameCurrency = parts.every((x) => x.currency === currency);
      const sum = parts.reduce((s, x) => s + x.amount, 0);
      if (sameCurrency && sum === amount) {
        parts.forEach((x, i) => {
          const id =
            x.d.acctSvcrRef ??
            (e.acctSvcrRef !== undefined ? `${e.acctSvcrRef}/${i + 1}` : undefined);
          this.emit(
            st,
            this.transaction(line(x.amount, currency), id, x.d, e, x.amount >= 0),
            x.d.line,
          );
        });
        return;
      }
      this.warn(
        'BANK_WARN_TOTALS_MISMATCH',
        e.line,
        "batch entry's TxDtls amounts do not add up to the entry amount; booked as one line",
      );
    }
    const single = details.length === 1 ? details[0] : undefined;
    const tx = this.transaction(
      line(amount, currency),
      e.acctSvcrRef ?? single?.acctSvcrRef,
      single,
      e,
      amount >= 0,
    );
    if (details.length > 1) {
      const memo = details
        .map((d) => cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf))
        .filter((m) => m !== undefined)
        .join('; ');
      if (memo !== '') tx.memo = memo;
      tx.memo =
        cleanText(`${e.addtlNtryInf ?? ''} ${tx.memo ?? ''}`) ?? `batch of ${details.length}`;
      delete tx.payee;
      delete tx.counterpartyName;
      delete tx.counterpartyIban;
      delete tx.reference;
    }
    this.emit(st, tx, e.line);
  }

  private emit(st: StatementDraft, tx: BankTransaction, line: number): void {
    capFreeText(tx, { file: this.file, line, statement: this.statementCount }, this.warnings);
    if (st.count === 0) st.firstCurrency = tx.currency;
    st.count++;
    this.transactionCount++;
    this.sink.transaction(tx, this.statementCount);
  }

  private transaction(
    base: {
      bookingDate: CalendarDate;
      valueDate?: CalendarDate;
      pending: boolean;
      amount: number;
      currency: string;
    },
    providerId: string | undefined,
    d: TxDetails | undefined,
    e: EntryDraft,
    credit: boolean,
  ): BankTransaction {
    const party = d ? (credit ? d.debtor : d.creditor) : undefined;
    const endToEnd =
      d?.endToEndId && d.endToEndId.toUpperCase() !== 'NOTPROVIDED' ? d.endToEndId : undefined;
    const memo = d ? (cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf)) : undefined;
    // Built field by field rather than through `compact()`: deleting keys turns an object into a
    // dictionary several times its size, and a large import holds a hundred thousand of these.
    const tx = {} as BankTransaction;
    const id = own(providerId || undefined);
    if (id !== undefined) tx.providerId = id;
    tx.bookingDate = base.bookingDate;
    if (base.valueDate !== undefined) tx.valueDate = base.valueDate;
    tx.amount = base.amount;
    tx.currency = base.currency;
    const payee = own(cleanText(party?.name));
    if (payee !== undefined) tx.payee = payee;
    const text = own(memo ?? cleanText(e.addtlNtryInf));
    if (text !== undefined) tx.memo = text;
    const reference = own(cleanText(d?.creditorRef) ?? endToEnd);
    if (reference !== undefined) tx.reference = reference;
    const iban = own(party?.iban);
    if (iban !== undefined) tx.counterpartyIban = iban;
    if (payee !== undefined) tx.counterpartyName = payee;
    tx.pending = base.pending;
    const info = own(cleanText(d?.addtlTxInf));
    if (info !== undefined && info !== text) tx.additionalInfo = info;
    if (e.reversal) tx.reversal = true;
    const returned = own(cleanText(d?.returnReason));
    if (returned !== undefined) tx.returnReason = returned;
    return tx;
  }

  /** camt.053 FrToDt bounds the statement: an entry booked outside it is kept, with a warning. */
  private checkPeriod(st: StatementDraft, day: CalendarDate): void {
    st.period ??= {
      from: st.from !== undefined ? this.date(st.from, st.line, 'FrToDt/FrDtTm') : undefined,
      to: st.to !== undefined ? this.date(st.to, st.line, 'FrToDt/ToDtTm') : undefined,
    };
    const { from, to } = st.period;
    if ((from !== undefined && day < from) || (to !== undefined && day > to)) st.outside++;
  }

  /** Opening (OPBD, else PRCD) + booked entries = closing (CLBD), checked as MT940's :60F:/:62F:. */
  private checkBalances(st: StatementDraft, currency: string): void {
    const ledger = st.balances.filter((b) => b.kind === 'ledger');
    const opening = st.openingCode !== undefined ? st.opening : undefined;
    const closing = st.closing;
    if (
      opening === undefined ||
      closing === undefined ||
      ledger.some((b) => b.currency !== currency)
    )
      return;
    if (opening + st.booked !== closing) {
      this.warn(
        'BANK_WARN_BALANCE_MISMATCH',
        st.line,
        `opening balance ${opening} (${st.openingCode}) + booked entries ${st.booked} ≠ closing balance ${closing} (CLBD) (minor units of ${currency})`,
      );
    }
  }

  private finishStatement(st: StatementDraft): void {
    if (st.accountId === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: 'Stmt/Acct/Id' },
        'statement without an account IBAN or Othr/Id',
      );
    const currency = st.currency ?? st.balances[0]?.currency ?? st.firstCurrency;
    if (currency === undefined)
      throw malformed(
        { file: this.file, line: st.line, field: 'Stmt/Acct/Ccy' },
        'statement without a currency',
      );
    this.checkBalances(st, currency);
    if (st.outside > 0) {
      this.warn(
        'BANK_WARN_OUTSIDE_PERIOD',
        st.line,
        `${st.outside} entr${st.outside === 1 ? 'y is' : 'ies are'} booked outside the statement period (FrToDt ${st.period?.from ?? '…'}..${st.period?.to ?? '…'})`,
      );
    }
    const statement: CamtStatementSummary = compact({
      accountId: st.accountId,
      bankId: st.bankId,
      statementId: st.id,
      currency,
      from: st.from !== undefined ? this.date(st.from, st.line, 'FrToDt/FrDtTm') : undefined,
      to: st.to !== undefined ? this.date(st.to, st.line, 'FrToDt/ToDtTm') : undefined,
      balances: st.balances,
      transactionCount: st.count,
    });
    this.sink.statement(statement, this.statementCount);
    this.statementCount++;
  }

  private currency(code: string | undefined, line: number, field: string): string {
    const c = code?.trim().toUpperCase();
    if (c === undefined || !isCurrency(c))
      throw malformed(
        { file: this.file, line, field },
        c === undefined ? 'no currency' : `'${code}' is not an ISO 4217 currency`,
      );
    return c;
  }

  private amount(text: string | undefined, currency: string, line: number, field: string): number {
    if (text === undefined || text === '')
      throw malformed({ file: this.file, line, field }, 'missing amount');
    if (!/^\d+(\.\d+)?$/.test(text))
      throw malformed(
        { file: this.file, line, field },
        `'${text}' is not an ISO 20022 amount (digits with a '.' decimal)`,
      );
    try {
      return decimalAmount(text, currency, '.');
    } catch (err) {
      throw malformed(
        { file: this.file, line, field },
        `'${text}' is not a ${currency} amount`,
        err,
      );
    }
  }

  private signed(
    text: string | undefined,
    cdtDbt: string | undefined,
    currency: string,
    line: number,
    where: string,
  ): number {
    const amount = this.amount(text, currency, line, `${where}/Amt`);
    if (cdtDbt === 'DBIT') return -amount;
    if (cdtDbt === 'CRDT') return amount;
    throw malformed(
      { file: this.file, line, field: `${where}/CdtDbtInd` },
      `'${cdtDbt ?? ''}' is not CRDT or DBIT`,
    );
  }

  /** `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.fff…][zone]`: the day as the bank wrote it. */
  private date(text: string | undefined, line: number, field: string): CalendarDate {
    const m = text !== undefined ? /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(text) : null;
    const d = m
      ? bankDate(Number(m[1]), Number(m[2]), Number(m[3]), (w) =>
          this.warn('BANK_WARN_DATE', line, `${field}: ${w}`),
        )
      : undefined;
    if (d === undefined)
      throw malformed(
        { file: this.file, line, field },
        text === undefined ? 'missing date' : `'${text}' is not an ISO date`,
      );
    return d;
  }
}

/**
 * A copy of `text` that does not keep the chunk it was cut from alive. V8 makes substrings of 13
 * or more characters views into their parent; a line's payee or reference would otherwise pin the
 * megabyte of XML text it came from, and a streamed file would end up in memory after all.
 */
function own(text: string | undefined): string | undefined {
  if (text === undefined || text.length < 13) return text;
  return ` ${text}`.slice(1);
}
