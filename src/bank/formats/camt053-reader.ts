import type { BankTransaction, StreamedStatement } from '../provider';
import { localName, Tokenizer, TokenizerError, type TokenHandler } from './tokenizer';
import {
  capFreeText,
  compact,
  malformed,
  statementWarning,
  type FormatSink,
  type StatementWarning,
  type StatementWarningCode,
} from './common';
import {
  camtAmount,
  camtCurrency,
  camtDate,
  finishEntry,
  type BalanceDraft,
  type CamtBuildContext,
  type EntryDraft,
  type StatementDraft,
  type TxDetails,
} from './camt053-entries';

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

  private readonly ctx: CamtBuildContext;

  constructor(
    private readonly file: string,
    private readonly sink: CamtSink,
  ) {
    this.ctx = {
      file,
      warn: (code, line, text) => this.warn(code, line, text),
      emit: (st, tx, line) => this.emit(st, tx, line),
    };
  }

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
        if (this.st && this.entry) finishEntry(this.ctx, this.st, this.entry);
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
    const currency = camtCurrency(this.ctx, b.currency ?? st.currency, b.line, 'Bal/Amt/@Ccy');
    const amount = camtAmount(this.ctx, b.amount, currency, b.line, 'Bal/Amt');
    const date = camtDate(this.ctx, b.date, b.line, 'Bal/Dt');
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

  private emit(st: StatementDraft, tx: BankTransaction, line: number): void {
    capFreeText(tx, { file: this.file, line, statement: this.statementCount }, this.warnings);
    if (st.count === 0) st.firstCurrency = tx.currency;
    st.count++;
    this.transactionCount++;
    this.sink.transaction(tx, this.statementCount);
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
      from:
        st.from !== undefined ? camtDate(this.ctx, st.from, st.line, 'FrToDt/FrDtTm') : undefined,
      to: st.to !== undefined ? camtDate(this.ctx, st.to, st.line, 'FrToDt/ToDtTm') : undefined,
      balances: st.balances,
      transactionCount: st.count,
    });
    this.sink.statement(statement, this.statementCount);
    this.statementCount++;
  }
}
