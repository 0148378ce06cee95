import type { BankAccountStatement, BankBalance, BankTransaction } from '../../../provider';
import { isCurrency } from '../../../../shared/money';
import type { CalendarDate } from '../../../../shared/dates';
import { charsetFromName, decodeAll, asciiHead } from './charset';
import { localName, Tokenizer, TokenizerError, type TokenHandler } from './tokenizer';
import { bankDate, cleanText, compact, decimalAmount, dropSharedProviderIds, malformed, type ParsedStatementFile } from './common';

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
 * @link https://www.iso20022.org/catalogue-messages/iso-20022-messages-archive?search=camt.053
 */

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
  accountId?: string;
  bankId?: string;
  currency?: string;
  from?: string;
  to?: string;
  balances: BankBalance[];
  transactions: BankTransaction[];
}

const BALANCE_KINDS: Readonly<Record<string, 'ledger' | 'available'>> = {
  OPBD: 'ledger', CLBD: 'ledger', PRCD: 'ledger', ITBD: 'ledger', OPAV: 'available', CLAV: 'available', ITAV: 'available',
};

class CamtReader implements TokenHandler {
  readonly warnings: string[] = [];
  readonly statements: BankAccountStatement[] = [];
  readonly tokenizer = new Tokenizer(this);
  private readonly path: string[] = [];
  private buffered = '';
  private amountCcy?: string;
  private st?: StatementDraft;
  private entry?: EntryDraft;
  private tx?: TxDetails;
  private bal?: BalanceDraft;
  private sawDocument = false;

  constructor(private readonly file: string) {}

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
        if (this.parent(1) === 'BkToCstmrStmt') this.st = { line, balances: [], transactions: [] };
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
    const name = localName(rawName);
    const top = this.path[this.path.length - 1];
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
    if (this.statements.length === 0) throw malformed({ file: this.file, field: 'Stmt' }, 'no Stmt in the file');
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
    if (!this.has('RltdPties')) return;
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
    const base = { bookingDate, valueDate, pending };
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
          st.transactions.push(this.transaction({ ...base, amount: x.amount, currency }, id, x.d, e, x.amount >= 0));
        });
        return;
      }
      this.warnings.push(`${this.file}:${e.line}: batch entry's TxDtls amounts do not add up to the entry amount; booked as one line`);
    }
    const single = details.length === 1 ? details[0] : undefined;
    const tx = this.transaction({ ...base, amount, currency }, e.acctSvcrRef ?? single?.acctSvcrRef, single, e, amount >= 0);
    if (details.length > 1) {
      const memo = details.map((d) => cleanText(d.ustrd.join(' ')) ?? cleanText(d.addtlTxInf)).filter((m) => m !== undefined).join('; ');
      if (memo !== '') tx.memo = memo;
      tx.memo = cleanText(`${e.addtlNtryInf ?? ''} ${tx.memo ?? ''}`) ?? `batch of ${details.length}`;
      delete tx.payee;
      delete tx.counterpartyName;
      delete tx.counterpartyIban;
      delete tx.reference;
    }
    st.transactions.push(tx);
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
    return compact<BankTransaction>({
      providerId: providerId || undefined,
      bookingDate: base.bookingDate,
      valueDate: base.valueDate,
      amount: base.amount,
      currency: base.currency,
      payee: cleanText(party?.name),
      memo: memo ?? cleanText(e.addtlNtryInf),
      reference: cleanText(d?.creditorRef) ?? endToEnd,
      counterpartyIban: party?.iban,
      counterpartyName: cleanText(party?.name),
      pending: base.pending,
    });
  }

  private finishStatement(st: StatementDraft): void {
    if (st.accountId === undefined) throw malformed({ file: this.file, line: st.line, field: 'Stmt/Acct/Id' }, 'statement without an account IBAN or Othr/Id');
    const currency = st.currency ?? st.balances[0]?.currency ?? st.transactions[0]?.currency;
    if (currency === undefined) throw malformed({ file: this.file, line: st.line, field: 'Stmt/Acct/Ccy' }, 'statement without a currency');
    const statement: BankAccountStatement = compact({
      accountId: st.accountId,
      bankId: st.bankId,
      currency,
      from: st.from !== undefined ? this.date(st.from, st.line, 'FrToDt/FrDtTm') : undefined,
      to: st.to !== undefined ? this.date(st.to, st.line, 'FrToDt/ToDtTm') : undefined,
      transactions: st.transactions,
      balances: st.balances,
    });
    dropSharedProviderIds(statement, this.file, this.warnings);
    this.statements.push(statement);
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

/** True when the head of a file looks like a camt.053 document. */
export function looksLikeCamt053(head: string): boolean {
  return /camt\.053\.001\.\d\d/.test(head) || /<([\w-]+:)?BkToCstmrStmt[\s>]/.test(head);
}

/** Parses a whole camt.053 file (all statements in it). */
export function parseCamt053(bytes: Buffer, options: { fileName: string }): ParsedStatementFile {
  const warnings: string[] = [];
  const head = asciiHead(bytes, 1024);
  const declared = charsetFromName(/<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1]) ?? 'utf-8';
  const { text } = decodeAll(bytes, declared, (w) => warnings.push(`${options.fileName}: ${w}`));
  const ns = /urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d\d)/.exec(text.slice(0, 4096));
  if (ns && ns[1] !== 'camt.053') {
    throw malformed({ file: options.fileName, line: 1, field: 'Document/@xmlns' }, `${ns[1]} is not a camt.053 statement (only camt.053 is read)`);
  }
  const reader = new CamtReader(options.fileName);
  reader.tokenizer.write(text);
  reader.end();
  return { format: 'camt053', statements: reader.statements, warnings: [...warnings, ...reader.warnings] };
}
