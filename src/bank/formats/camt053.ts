import type { Readable } from 'node:stream';
import type { BankAccountStatement, BankBalance, BankTransaction } from '../provider';
import { isCurrency } from '../../shared/money';
import type { CalendarDate } from '../../shared/dates';
import { asciiHead, charsetFromName, chooseCharset, concatBytes, decodeCp1252, StreamDecoder, type Charset } from './charset';
import { localName, Tokenizer, TokenizerError, type TokenHandler } from './tokenizer';
import { bankDate, capFreeText, cleanText, compact, decimalAmount, dropSharedProviderIds, malformed, type ParsedStatementFile } from './common';

/**
 * ISO 20022 camt.053 (bank-to-customer statement), versions .001.02 to .001.08 and later: the
 * parser keys on local element names and ignores the namespace version, reading both the
 * text status of .02–.07 (`<Sts>BOOK</Sts>`) and the nested one of .08 (`<Sts><Cd>BOOK</Cd></Sts>`).
 *
 * Semantics (research/protocols.md §5): the amount is `Amt`, negated for `DBIT`; `RvslInd` does
 * not flip it (OCA's golden file). The provider id is `AcctSvcrRef`, never `NtryRef` (a sequence
 * number) nor `EndToEndId` (often `NOTPROVIDED`). An entry with several `TxDtls` that all carry
 * amounts adding up to the entry amount becomes one line per `TxDtls`; otherwise it is one line.
 * `INFO` entries are not bookings and are skipped with a warning.
 *
 * The file is read as a stream: the reader keeps the entry being read and the unfinished tail of
 * the input, and hands each line to a sink as soon as its `</Ntry>` closes, so memory does not grow
 * with the file (a 100,000-entry statement is 50 MB of XML).
 *
 * @link https://www.iso20022.org/catalogue-messages/iso-20022-messages-archive?search=camt.053
 */

/** A statement as known when its `</Stmt>` closes: everything except the lines, which were streamed. */
export type CamtStatementSummary = Omit<BankAccountStatement, 'transactions'> & { transactionCount: number };

/** Receives the parse as it happens. Discard everything received if the parse later throws. */
export interface CamtSink {
  transaction(tx: BankTransaction, statementIndex: number): void;
  statement(statement: CamtStatementSummary, statementIndex: number): void;
  /** Awaited after each chunk of input is parsed, so a consumer can store what it got first. */
  drain?(): Promise<void>;
}

export interface CamtOptions {
  fileName: string;
}

export interface CamtResult {
  statementCount: number;
  transactionCount: number;
  warnings: string[];
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
}

const BALANCE_KINDS: Readonly<Record<string, 'ledger' | 'available'>> = {
  OPBD: 'ledger', CLBD: 'ledger', PRCD: 'ledger', ITBD: 'ledger', OPAV: 'available', CLAV: 'available', ITAV: 'available',
};

class CamtReader implements TokenHandler {
  readonly warnings: string[] = [];
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

  constructor(private readonly file: string, private readonly sink: CamtSink) {}

  open(rawName: string, attributes: Record<string, string> | undefined, selfClosing: boolean): void {
    const name = localName(rawName);
    this.path.push(name);
    this.buffered = '';
    const line = this.tokenizer.line;
    switch (name) {
      case 'BkToCstmrStmt':
        this.sawDocument = true;
        break;
      case 'Stmt':
        if (this.parent(1) === 'BkToCstmrStmt') this.st = { line, balances: [], count: 0 };
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
      throw malformed({ file: this.file, line: this.tokenizer.line, field: name }, `closing tag </${name}> does not match <${top ?? 'nothing'}>`);
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
      if (err instanceof TokenizerError) throw malformed({ file: this.file, line: err.line }, `${err.message} (truncated file?)`);
      throw err;
    }
    if (this.path.length > 0) {
      throw malformed({ file: this.file, line: this.tokenizer.line, field: this.path[this.path.length - 1] }, `file ends inside <${this.path.join('/')}> (truncated file?)`);
    }
    if (!this.sawDocument) throw malformed({ file: this.file, line: 1, field: 'BkToCstmrStmt' }, 'no BkToCstmrStmt element: not a camt.053 statement');
    if (this.statementCount === 0) throw malformed({ file: this.file, field: 'Stmt' }, 'no Stmt in the file');
  }

  private parent(up: number): string | undefined {
    return this.path[this.path.length - 1 - up];
  }

  private has(name: string): boolean {
    return this.path.lastIndexOf(name) !== -1;
  }

  private statementLeaf(st: StatementDraft, name: string, parent: string | undefined, value: string): void {
    if (this.has('Acct')) {
      if (name === 'IBAN' && parent === 'Id' && this.parent(2) === 'Acct') st.accountId = value.replace(/\s+/g, '');
      else if (name === 'Id' && parent === 'Othr' && this.parent(3) === 'Acct' && st.accountId === undefined) st.accountId = value;
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

  private balanceLeaf(b: BalanceDraft, name: string, parent: string | undefined, value: string): void {
    if (name === 'Cd' && parent === 'CdOrPrtry') b.code = value;
    else if (name === 'Amt' && parent === 'Bal') { b.amount = value; b.currency = this.amountCcy; }
    else if (name === 'CdtDbtInd' && parent === 'Bal') b.cdtDbt = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'Dt') b.date = value;
  }

  private entryLeaf(e: EntryDraft, name: string, parent: string | undefined, value: string, line: number): void {
    if (parent === 'Ntry') {
      switch (name) {
        case 'Amt': e.amount = value; e.currency = this.amountCcy; e.amountLine = line; break;
        case 'CdtDbtInd': e.cdtDbt = value; break;
        case 'Sts': if (value !== '') e.status = value; break;
        case 'AcctSvcrRef': e.acctSvcrRef = value; break;
        case 'AddtlNtryInf': e.addtlNtryInf = value; break;
        default: break;
      }
      return;
    }
    if (name === 'Cd' && parent === 'Sts') e.status = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'BookgDt') e.bookingDate = value;
    else if ((name === 'Dt' || name === 'DtTm') && parent === 'ValDt') e.valueDate = value;
  }

  private txLeaf(t: TxDetails, name: string, parent: string | undefined, value: string, line: number): void {
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
      default:
        break;
    }
    // Only a party's name and IBAN are read below: other leaves need no walk up the path.
    if ((name !== 'Nm' && name !== 'IBAN') || !this.has('RltdPties')) return;
    const party = this.has('Dbtr') || this.has('DbtrAcct') ? t.debtor : this.has('Cdtr') || this.has('CdtrAcct') ? t.creditor : undefined;
    if (!party) return;
    if (name === 'Nm' && (this.has('Dbtr') || this.has('Cdtr'))) party.name ??= value;
    else if (name === 'IBAN' && (this.has('DbtrAcct') || this.has('CdtrAcct'))) party.iban = value.replace(/\s+/g, '');
  }

  private finishBalance(st: StatementDraft, b: BalanceDraft): void {
    const kind = b.code ? BALANCE_KINDS[b.code] : undefined;
    if (!kind) return; // forward-available and proprietary balances say nothing about the books
    const currency = this.currency(b.currency ?? st.currency, b.line, 'Bal/Amt/@Ccy');
    const amount = this.amount(b.amount, currency, b.line, 'Bal/Amt');
    const date = this.date(b.date, b.line, 'Bal/Dt');
    st.balances.push({ amount: b.cdtDbt === 'DBIT' ? -amount : amount, currency, date, kind });
  }

  private finishEntry(st: StatementDraft, e: EntryDraft): void {
    const status = (e.status ?? 'BOOK').toUpperCase();
    if (status === 'INFO') {
      this.warnings.push(`${this.file}:${e.line}: Ntry with status INFO is not a booking; skipped`);
      return;
    }
    const pending = status === 'PDNG';
    const currency = this.currency(e.currency ?? st.currency, e.amountLine, 'Ntry/Amt/@Ccy');
    const amount = this.signed(e.amount, e.cdtDbt, currency, e.amountLine, 'Ntry');
    const bookingDate = this.date(e.bookingDate ?? e.valueDate, e.line, e.bookingDate !== undefined ? 'Ntry/BookgDt' : 'Ntry/BookgDt or ValDt');
    const valueDate = e.valueDate !== undefined ? this.date(e.valueDate, e.line, 'Ntry/ValDt') : undefined;
    // A literal object with every field, not a spread of a shared base plus the amount: V8 copies
    // a spread with added fields through its slow path, which was a tenth of the parse.
    const line = (amount: number, currency: string) => ({ bookingDate, valueDate, pending, amount, currency });
    const details = e.details;
    if (details.length > 1 && details.every((d) => d.amount !== undefined)) {
      const parts = details.map((d) => {
        const c = this.currency(d.currency ?? currency, d.line, 'TxDtls/Amt/@Ccy');
        return { d, currency: c, amount: this.signed(d.amount, d.cdtDbt ?? e.cdtDbt, c, d.line, 'TxDtls') };
      });
      const sameCurrency = parts.every((x) => x.currency === currency);
      const sum = parts.reduce((s, x) => s + x.amount, 0);
      if (sameCurrency && sum === amount) {
        parts.forEach((x, i) => {
          const id = x.d.acctSvcrRef ?? (e.acctSvcrRef !== undefined ? `${e.acctSvcrRef}/${i + 1}` : undefined);
          this.emit(st, this.transaction(line(x.amount, currency), id, x.d, e, x.amount >= 0), x.d.line);
        });
        return;
      }
      this.warnings.push(`${this.file}:${e.line}: batch entry's TxDtls amounts do not add up to the entry amount; booked as one line`);
    }
    const single = details.length === 1 ? details[0] : undefined;
    const tx = this.transaction(line(amount, currency), e.acctSvcrRef ?? single?.acctSvcrRef, single, e, amount >= 0);
    if (details.length > 1) {
      const memo = details.map((d) => cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf)).filter((m) => m !== undefined).join('; ');
      if (memo !== '') tx.memo = memo;
      tx.memo = cleanText(`${e.addtlNtryInf ?? ''} ${tx.memo ?? ''}`) ?? `batch of ${details.length}`;
      delete tx.payee;
      delete tx.counterpartyName;
      delete tx.counterpartyIban;
      delete tx.reference;
    }
    this.emit(st, tx, e.line);
  }

  private emit(st: StatementDraft, tx: BankTransaction, line: number): void {
    capFreeText(tx, `${this.file}:${line}`, (w) => this.warnings.push(w));
    if (st.count === 0) st.firstCurrency = tx.currency;
    st.count++;
    this.transactionCount++;
    this.sink.transaction(tx, this.statementCount);
  }

  private transaction(
    base: { bookingDate: CalendarDate; valueDate?: CalendarDate; pending: boolean; amount: number; currency: string },
    providerId: string | undefined,
    d: TxDetails | undefined,
    e: EntryDraft,
    credit: boolean,
  ): BankTransaction {
    const party = d ? (credit ? d.debtor : d.creditor) : undefined;
    const endToEnd = d?.endToEndId && d.endToEndId.toUpperCase() !== 'NOTPROVIDED' ? d.endToEndId : undefined;
    const memo = d ? cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf) : undefined;
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
    return tx;
  }

  private finishStatement(st: StatementDraft): void {
    if (st.accountId === undefined) throw malformed({ file: this.file, line: st.line, field: 'Stmt/Acct/Id' }, 'statement without an account IBAN or Othr/Id');
    const currency = st.currency ?? st.balances[0]?.currency ?? st.firstCurrency;
    if (currency === undefined) throw malformed({ file: this.file, line: st.line, field: 'Stmt/Acct/Ccy' }, 'statement without a currency');
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
    if (c === undefined || !isCurrency(c)) throw malformed({ file: this.file, line, field }, c === undefined ? 'no currency' : `'${code}' is not an ISO 4217 currency`);
    return c;
  }

  private amount(text: string | undefined, currency: string, line: number, field: string): number {
    if (text === undefined || text === '') throw malformed({ file: this.file, line, field }, 'missing amount');
    if (!/^\d+(\.\d+)?$/.test(text)) throw malformed({ file: this.file, line, field }, `'${text}' is not an ISO 20022 amount (digits with a '.' decimal)`);
    try {
      return decimalAmount(text, currency, '.');
    } catch (err) {
      throw malformed({ file: this.file, line, field }, `'${text}' is not a ${currency} amount`, err);
    }
  }

  private signed(text: string | undefined, cdtDbt: string | undefined, currency: string, line: number, where: string): number {
    const amount = this.amount(text, currency, line, `${where}/Amt`);
    if (cdtDbt === 'DBIT') return -amount;
    if (cdtDbt === 'CRDT') return amount;
    throw malformed({ file: this.file, line, field: `${where}/CdtDbtInd` }, `'${cdtDbt ?? ''}' is not CRDT or DBIT`);
  }

  /** `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.fff…][zone]`: the day as the bank wrote it. */
  private date(text: string | undefined, line: number, field: string): CalendarDate {
    const m = text !== undefined ? /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(text) : null;
    const d = m ? bankDate(Number(m[1]), Number(m[2]), Number(m[3]), (w) => this.warnings.push(`${this.file}:${line}: ${field}: ${w}`)) : undefined;
    if (d === undefined) throw malformed({ file: this.file, line, field }, text === undefined ? 'missing date' : `'${text}' is not an ISO date`);
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

/** True when the head of a file looks like a camt.053 document. */
export function looksLikeCamt053(head: string): boolean {
  return /camt\.053\.001\.\d\d/.test(head) || /<([\w-]+:)?BkToCstmrStmt[\s>]/.test(head);
}

/** Head bytes kept back until the XML declaration and the namespace can be read. */
const HEAD_BYTES = 4096;
/** Text handed to the tokenizer at a time when parsing a file held in memory. */
const CHUNK_BYTES = 1 << 20;

/**
 * Push parser: `write()` bytes as they come, then `end()`. Throws `MalformedStatementError`
 * (code `BANK_MALFORMED_FILE`) naming file, line and field for anything it cannot read; lines
 * already given to the sink must then be discarded (a bad file imports nothing).
 *
 * The charset is the XML declaration's (UTF-8 by default), checked against the bytes as they come
 * (a BOM wins; a wrong Windows-1252/UTF-8 declaration is corrected with a warning).
 */
export class Camt053StreamParser {
  private readonly reader: CamtReader;
  private headChunks: Buffer[] = [];
  private headLength = 0;
  private decode?: (bytes: Buffer, final: boolean) => string;
  private started = false;
  private fedText = false;
  private readonly decodeWarnings: string[] = [];

  constructor(private readonly options: CamtOptions, sink: CamtSink) {
    this.reader = new CamtReader(options.fileName, sink);
  }

  /** Warnings so far (a sink may add its own here, so they keep the file's order). */
  get warnings(): string[] {
    return this.reader.warnings;
  }

  /**
   * Sets the charset before any bytes are written, for a caller that has the whole file and
   * chose it from all of it (BOM already skipped): no guessing from the head.
   */
  useCharset(charset: Charset): void {
    if (charset === 'windows-1252') {
      this.decode = (bytes) => decodeCp1252(bytes);
      return;
    }
    const decoder = new TextDecoder(charset, { fatal: charset === 'utf-8' });
    this.decode = (bytes, final) => {
      try {
        return decoder.decode(bytes, { stream: !final });
      } catch (err) {
        throw malformed({ file: this.options.fileName, line: this.reader.tokenizer.line }, (err as Error).message);
      }
    };
  }

  write(chunk: Buffer): void {
    if (!this.started) {
      this.headChunks.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength >= HEAD_BYTES) this.startBody();
      return;
    }
    this.feed(chunk, false);
  }

  end(): CamtResult {
    if (!this.started) this.startBody();
    this.feed(Buffer.alloc(0), true);
    this.reader.end();
    return {
      statementCount: this.reader.statementCount,
      transactionCount: this.reader.transactionCount,
      warnings: [...this.decodeWarnings, ...this.reader.warnings],
    };
  }

  private startBody(): void {
    const head = concatBytes(this.headChunks, this.headLength);
    this.headChunks = [];
    this.started = true;
    const file = this.options.fileName;
    const text = asciiHead(head, HEAD_BYTES);
    const ns = /urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d\d)/.exec(text);
    if (ns && ns[1] !== 'camt.053') {
      throw malformed({ file, line: 1, field: 'Document/@xmlns' }, `${ns[1]} is not a camt.053 statement (only camt.053 is read)`);
    }
    let skip = 0;
    if (!this.decode) {
      const warn = (w: string) => this.decodeWarnings.push(`${file}: ${w}`);
      const declared = charsetFromName(/<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(text)?.[1]) ?? 'utf-8';
      const chosen = chooseCharset(head, declared, warn, false);
      skip = chosen.skip;
      const decoder = new StreamDecoder(chosen.charset, warn);
      this.decode = (bytes, final) => {
        try {
          return decoder.decode(bytes, final);
        } catch (err) {
          throw malformed({ file, line: this.reader.tokenizer.line }, (err as Error).message);
        }
      };
    }
    this.feed(head.subarray(skip), false);
  }

  private feed(bytes: Buffer, final: boolean): void {
    let text = this.decode!(bytes, final);
    if (!this.fedText && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.fedText = text.length > 0;
    }
    if (text.length > 0) this.reader.tokenizer.write(text);
  }
}

/** Collects a streamed parse into whole statements, dropping provider ids that lines share. */
class CollectingSink implements CamtSink {
  readonly statements: BankAccountStatement[] = [];
  /** Set to the parser's warnings, so the shared-id warnings come in the file's order. */
  warnings: string[] = [];
  private lines: BankTransaction[] = [];

  constructor(private readonly file: string) {}

  transaction(tx: BankTransaction): void {
    this.lines.push(tx);
  }

  statement(summary: CamtStatementSummary): void {
    const { transactionCount: _count, ...rest } = summary;
    const statement: BankAccountStatement = { ...rest, transactions: this.lines };
    this.lines = [];
    dropSharedProviderIds(statement, this.file, this.warnings);
    this.statements.push(statement);
  }
}

/** Parses a whole camt.053 file held in memory (all statements in it), a megabyte of text at a time. */
export function parseCamt053(bytes: Buffer, options: CamtOptions): ParsedStatementFile {
  const warnings: string[] = [];
  const head = asciiHead(bytes, 1024);
  const declared = charsetFromName(/<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1]) ?? 'utf-8';
  // The whole file is at hand: its charset is chosen from all of it, as before streaming.
  const { charset, skip } = chooseCharset(bytes, declared, (w) => warnings.push(`${options.fileName}: ${w}`));
  const collector = new CollectingSink(options.fileName);
  const parser = new Camt053StreamParser(options, collector);
  collector.warnings = parser.warnings;
  parser.useCharset(charset);
  const body = bytes.subarray(skip);
  for (let at = 0; at < body.length; at += CHUNK_BYTES) parser.write(body.subarray(at, Math.min(body.length, at + CHUNK_BYTES)));
  const result = parser.end();
  return { format: 'camt053', statements: collector.statements, warnings: [...warnings, ...result.warnings] };
}

/**
 * Parses a camt.053 stream (a file read stream) chunk by chunk. With a `sink`, lines go to it as
 * they are read and memory stays flat; without one they are collected and returned.
 */
export async function parseCamt053Stream(
  readable: Readable | AsyncIterable<Buffer | string>,
  options: CamtOptions,
  sink?: CamtSink,
): Promise<CamtResult & { statements?: BankAccountStatement[] }> {
  const collector = sink ? undefined : new CollectingSink(options.fileName);
  const parser = new Camt053StreamParser(options, sink ?? collector!);
  if (collector) collector.warnings = parser.warnings;
  for await (const chunk of readable as AsyncIterable<Buffer | string>) {
    parser.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (sink?.drain) await sink.drain();
  }
  const result = parser.end();
  if (!collector) return result;
  return { ...result, statements: collector.statements };
}
