import { isCurrency } from '../../shared/money';
import {
  asciiHead,
  charsetFromName,
  concatBytes,
  joinBytes,
  sniffBom,
  StreamDecoder,
  type Charset,
} from './charset';
import { Tokenizer, TokenizerError, type TokenHandler } from './tokenizer';
import {
  capFreeText,
  cleanText,
  compact,
  malformed,
  statementWarning,
  type StatementWarning,
  type StatementWarningCode,
} from './common';
import { isBlank, KNOWN_LEAVES } from './ofx-values';
import type {
  OfxEnvelopePart,
  OfxOptions,
  OfxResult,
  OfxSink,
  OfxStatus,
  OfxVersion,
} from './ofx-types';
import {
  buildBalance,
  buildTransaction,
  ofxFieldDate,
  setTransactionLeaf,
  statementCurrency,
  type BalanceDraft,
  type OfxBuildContext,
  type StatementDraft,
  type TxDraft,
} from './ofx-statement';

/**
 * OFX / QFX bank and credit-card statements, 1.x (SGML, leaf tags left open) and 2.x (XML), read
 * as a stream: the parser keeps the current transaction and the unfinished tail of the input,
 * nothing else, so a million-line file costs what a ten-line one does per line.
 *
 * Real files break the spec in known ways (docs/FORMATS.md §OFX), all accepted here: the
 * header on one line or with no blank line before `<OFX>`, unclosed leaf tags in 2.x, comma
 * decimals, `+`/spaces/`$` in amounts, `null` amounts, every date form from `20240131` to
 * `20240131120000.000[+5.5:IST]` with or without brackets, empty FITIDs, a declared charset that
 * is not the real one.
 *
 * Dates: DTPOSTED is written in the bank's own offset, so its first eight digits are the booking
 * day as the bank means it. It is never converted through UTC, which would move late-evening
 * bookings to the next day. An impossible day (`20120231`) is clamped to the
 * month's end with a warning.
 *
 * @link https://www.financialdataexchange.org/ (OFX 2.2 specification, §11.4 STMTTRN); docs/FORMATS.md §OFX
 */

export type {
  OfxEnvelopePart,
  OfxOptions,
  OfxResult,
  OfxSink,
  OfxStatementSummary,
  OfxStatus,
  OfxVersion,
} from './ofx-types';

type StatusDraft = OfxStatus;

/** Head bytes kept back until the header is complete enough to know the charset. */
const HEAD_LIMIT = 64 * 1024;

/**
 * Push parser: `write()` bytes as they come, then `end()`. Throws `MalformedStatementError`
 * (code `BANK_MALFORMED_FILE`) naming file, line and field for anything it cannot read.
 */
export class OfxStreamParser implements TokenHandler {
  readonly warnings: StatementWarning[] = [];
  version: OfxVersion = 'ofx1';
  private headChunks: Buffer[] = [];
  private headLength = 0;
  private headTail: Buffer = Buffer.alloc(0);
  private decoder?: StreamDecoder;
  private readonly tokenizer = new Tokenizer(this);
  private readonly stack: string[] = [];
  private pendingLeaf?: string;
  private pendingText = '';
  private pendingLine = 0;
  private statement?: StatementDraft;
  private tx?: TxDraft;
  private balance?: BalanceDraft;
  private status?: StatusDraft;
  private part?: OfxEnvelopePart;
  private readonly parts: OfxEnvelopePart[] = [];
  private signonStatus?: StatusDraft;
  private statementIndex = 0;
  private transactionCount = 0;
  private sawOfx = false;
  /** An `<OFX>` tag was read: anything that fails before it means the input is not OFX. */
  private sawOfxTag = false;
  private readonly file: string;
  private readonly ctx: OfxBuildContext;

  constructor(
    private readonly options: OfxOptions,
    private readonly sink: OfxSink,
  ) {
    this.file = options.fileName;
    this.ctx = {
      file: this.file,
      defaultCurrency: options.defaultCurrency,
      warn: (code, line, text) => this.warn(code, line, text),
      fail: (line, field, why) => this.fail(line, field, why),
    };
  }

  write(chunk: Buffer): void {
    if (this.decoder) {
      this.feed(chunk, false);
      return;
    }
    // Chunks are kept apart and only the new bytes (with a tag's width before them) are
    // searched, so a stream of tiny chunks stays linear.
    this.headChunks.push(chunk);
    this.headLength += chunk.length;
    const window = joinBytes(this.headTail, chunk);
    this.headTail = Buffer.from(window.subarray(Math.max(0, window.length - 4)));
    if (
      window.indexOf('<OFX', 0, 'latin1') !== -1 ||
      window.indexOf('<ofx', 0, 'latin1') !== -1 ||
      this.headLength >= HEAD_LIMIT
    ) {
      this.startBody(concatBytes(this.headChunks, this.headLength));
    }
  }

  end(): OfxResult {
    if (!this.decoder) this.startBody(concatBytes(this.headChunks, this.headLength));
    this.feed(Buffer.alloc(0), true);
    try {
      this.tokenizer.end();
    } catch (err) {
      if (err instanceof TokenizerError)
        throw this.sawOfxTag
          ? malformed({ file: this.file, line: err.line }, `${err.message} (truncated file?)`)
          : this.notOfx();
      throw err;
    }
    if (this.pendingLeaf !== undefined) this.settlePending();
    if (this.tx)
      throw this.fail(
        this.tx.line,
        this.tx.pending ? 'STMTTRNP' : 'STMTTRN',
        'file ends inside this transaction (truncated file?)',
      );
    if (this.statement)
      throw this.fail(
        this.statement.line,
        this.statement.kind,
        'file ends inside this statement (truncated file?)',
      );
    if (!this.sawOfx) throw this.notOfx();
    if (this.stack.length > 0)
      throw this.fail(
        this.tokenizer.line,
        this.stack[this.stack.length - 1],
        `file ends before </${this.stack[this.stack.length - 1]}> (truncated file?)`,
      );
    if (this.statementIndex === 0 && !this.options.allowNoStatement) {
      const st =
        this.parts.find((p) => p.status?.code !== undefined && p.status.code !== '0')?.status ??
        this.signonStatus;
      const said =
        st && st.code !== undefined && st.code !== '0'
          ? ` (the bank answered code ${st.code}${st.message ? `: ${st.message}` : ''})`
          : '';
      throw malformed(
        { file: this.file, field: 'STMTRS' },
        `no bank or credit-card statement in the file${said}`,
      );
    }
    return {
      version: this.version,
      statementCount: this.statementIndex,
      transactionCount: this.transactionCount,
      warnings: this.warnings,
      ...(this.signonStatus ? { signon: this.signonStatus } : {}),
      parts: this.parts,
    };
  }

  // ---- bytes → text ------------------------------------------------------------------------

  private startBody(head: Buffer): void {
    const text = asciiHead(head, HEAD_LIMIT);
    const bodyAt = text.search(/<OFX[\s>]/i);
    const headerText = bodyAt === -1 ? text : text.slice(0, bodyAt);
    let declared: Charset | undefined;
    if (/<\?OFX|OFXHEADER\s*=\s*["']?200/i.test(headerText) || /^\s*<\?xml/i.test(headerText)) {
      this.version = 'ofx2';
      const enc = /<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(headerText);
      declared = charsetFromName(enc?.[1]) ?? 'utf-8';
    } else {
      this.version = 'ofx1';
      const fields: Record<string, string> = {};
      for (const m of headerText.matchAll(/([A-Z]+)\s*:\s*([^\s<]*)/gi))
        fields[m[1].toUpperCase()] = m[2];
      if (fields.VERSION && /^2/.test(fields.VERSION)) this.version = 'ofx2';
      if ((fields.ENCODING ?? '').toUpperCase().replace('-', '') === 'UTF8') declared = 'utf-8';
      else declared = charsetFromName(fields.CHARSET);
    }
    const bom = sniffBom(head);
    // A declared 1252/Latin-1 stays tentative in the decoder until the first non-ASCII bytes show
    // whether they are really UTF-8 (declarations are often wrong: docs/FORMATS.md §OFX "Character sets").
    const charset: Charset = bom.charset ?? declared ?? 'utf-8';
    this.decoder = new StreamDecoder(charset, (text) =>
      this.warnings.push(statementWarning('BANK_WARN_CHARSET', { file: this.file }, text)),
    );
    this.headChunks = [];
    this.feed(head.subarray(bom.skip), false);
  }

  private feed(bytes: Buffer, final: boolean): void {
    let text: string;
    try {
      text = this.decoder!.decode(bytes, final);
    } catch (err) {
      throw this.sawOfxTag
        ? malformed({ file: this.file, line: this.tokenizer.line }, (err as Error).message)
        : this.notOfx();
    }
    if (text.length > 0) this.tokenizer.write(text);
  }

  // ---- tokens → elements ---------------------------------------------------------------------

  open(
    rawName: string,
    _attributes: Record<string, string> | undefined,
    selfClosing: boolean,
  ): void {
    if (this.pendingLeaf !== undefined) this.settlePending();
    const name = rawName.toUpperCase();
    if (!this.sawOfxTag) {
      if (name !== 'OFX') throw this.notOfx();
      this.sawOfxTag = true;
    }
    if (selfClosing) {
      this.leaf(name, '', this.tokenizer.line);
      return;
    }
    this.pendingLeaf = name;
    this.pendingText = '';
    this.pendingLine = this.tokenizer.line;
  }

  text(text: string): void {
    if (this.pendingLeaf !== undefined)
      this.pendingText = this.pendingText === '' ? text : this.pendingText + text;
  }

  close(rawName: string): void {
    const name = rawName.toUpperCase();
    if (!this.sawOfxTag) throw this.notOfx();
    if (this.pendingLeaf !== undefined) {
      if (this.pendingLeaf === name) {
        const leafName = this.pendingLeaf;
        this.pendingLeaf = undefined;
        this.leaf(leafName, this.pendingText, this.pendingLine);
        return;
      }
      this.settlePending();
    }
    const at = this.stack.lastIndexOf(name);
    if (at === -1) {
      if (KNOWN_LEAVES.has(name)) return; // `</NAME>` after a leaf that was already closed by a tag
      throw this.fail(
        this.tokenizer.line,
        name,
        `closing tag </${name}> without an opening <${name}>`,
      );
    }
    while (this.stack.length > at) this.closeAggregate(this.stack.pop()!);
  }

  /** An open tag followed by text is a leaf; followed by a tag it is an aggregate (or an empty known leaf). */
  private settlePending(): void {
    const name = this.pendingLeaf!;
    this.pendingLeaf = undefined;
    const text = this.pendingText;
    if (KNOWN_LEAVES.has(name) || !isBlank(text)) {
      this.leaf(name, text, this.pendingLine);
      return;
    }
    this.stack.push(name);
    this.openAggregate(name, this.pendingLine);
  }

  // ---- elements → statements -----------------------------------------------------------------

  private openAggregate(name: string, line: number): void {
    switch (name) {
      case 'OFX':
        this.sawOfx = true;
        break;
      case 'STMTRS':
      case 'CCSTMTRS':
        if (this.statement) throw this.fail(line, name, `<${name}> inside another statement`);
        this.statement = { line, kind: name, balances: [], count: 0, currency: undefined };
        if (this.part) this.part.statementIndex = this.statementIndex;
        break;
      case 'STMTTRN':
      case 'STMTTRNP':
        // Investment statements (INVSTMTRS/INVBANKTRAN) also hold STMTTRN: not ours to read.
        if (this.statement)
          this.tx = { line, pending: name === 'STMTTRNP', dtPostedLine: line, trnAmtLine: line };
        break;
      case 'LEDGERBAL':
      case 'AVAILBAL':
        if (this.statement)
          this.balance = { kind: name === 'LEDGERBAL' ? 'ledger' : 'available', line };
        break;
      case 'CURRENCY':
      case 'ORIGCURRENCY':
        if (this.tx) this.tx.currencyKind = name;
        break;
      case 'STATUS':
        this.status = {};
        break;
      case 'STMTTRNRS':
      case 'CCSTMTTRNRS':
        this.part = { kind: name === 'STMTTRNRS' ? 'bank' : 'creditcard' };
        this.parts.push(this.part);
        break;
      default:
        break;
    }
  }

  private closeAggregate(name: string): void {
    switch (name) {
      case 'STMTTRN':
      case 'STMTTRNP':
        if (this.tx) {
          const tx = buildTransaction(this.ctx, this.statement!, this.tx);
          const at = { file: this.file, line: this.tx.line, statement: this.statementIndex };
          capFreeText(tx, at, this.warnings);
          this.tx = undefined;
          this.statement!.count++;
          this.transactionCount++;
          this.sink.transaction(tx, this.statementIndex);
        }
        break;
      case 'LEDGERBAL':
      case 'AVAILBAL':
        if (this.balance && this.statement) {
          const b = buildBalance(this.ctx, this.balance, this.statement);
          if (b) this.statement.balances.push(b);
        }
        this.balance = undefined;
        break;
      case 'STMTRS':
      case 'CCSTMTRS':
        if (this.statement) {
          const st = this.statement;
          this.statement = undefined;
          const currency = statementCurrency(this.ctx, st);
          if (st.accountId === undefined)
            throw this.fail(
              st.line,
              'ACCTID',
              'statement without an account id (BANKACCTFROM/CCACCTFROM ACCTID)',
            );
          this.sink.statement(
            compact({
              accountId: st.accountId,
              bankId: st.bankId,
              currency,
              from: st.from,
              to: st.to,
              balances: st.balances,
              transactionCount: st.count,
            }),
            this.statementIndex,
          );
          this.statementIndex++;
        }
        break;
      case 'STATUS': {
        const parent = this.stack[this.stack.length - 1];
        if (parent === 'SONRS') this.signonStatus = this.status;
        else if ((parent === 'STMTTRNRS' || parent === 'CCSTMTTRNRS') && this.part)
          this.part.status = this.status;
        this.status = undefined;
        break;
      }
      case 'STMTTRNRS':
      case 'CCSTMTTRNRS': {
        const st = this.part?.status;
        if (
          st &&
          st.code !== undefined &&
          st.code !== '0' &&
          this.part?.statementIndex === undefined &&
          !this.options.allowNoStatement
        ) {
          this.warn(
            'BANK_WARN_NO_STATEMENT',
            undefined,
            `a ${name} carries no statement; the bank answered code ${st.code}${st.message ? ` (${st.message})` : ''}`,
          );
        }
        this.part = undefined;
        break;
      }
      default:
        break;
    }
  }

  private leaf(name: string, raw: string, line: number): void {
    const parent = this.stack[this.stack.length - 1];
    const tx = this.tx;
    if (tx !== undefined && (parent === 'STMTTRN' || parent === 'STMTTRNP')) {
      setTransactionLeaf(tx, name, raw, line);
      return;
    }
    if (tx !== undefined) {
      if (parent === 'PAYEE' && name === 'NAME') tx.payeeName = raw.trim();
      else if ((parent === 'CURRENCY' || parent === 'ORIGCURRENCY') && name === 'CURSYM')
        tx.curSym = raw.trim().toUpperCase();
      return;
    }
    const bal = this.balance;
    if (bal !== undefined && (parent === 'LEDGERBAL' || parent === 'AVAILBAL')) {
      if (name === 'BALAMT') {
        bal.amount = raw.trim();
        bal.line = line;
      } else if (name === 'DTASOF') bal.date = raw.trim() || undefined;
      return;
    }
    const st = this.statement;
    if (st !== undefined) {
      if (name === 'CURDEF' && (parent === 'STMTRS' || parent === 'CCSTMTRS')) {
        const c = raw.trim().toUpperCase();
        // An empty CURDEF is read as a missing one (libofx does the same; docs/FORMATS.md §OFX "Empty elements").
        if (c === '') st.emptyCurdef = true;
        else if (!isCurrency(c))
          throw this.fail(line, 'CURDEF', `'${raw.trim()}' is not an ISO 4217 currency`);
        else st.currency = c;
      } else if (parent === 'BANKACCTFROM' || parent === 'CCACCTFROM') {
        if (name === 'ACCTID') st.accountId = raw.trim();
        else if (name === 'BANKID') st.bankId = raw.trim() || undefined;
      } else if (parent === 'BANKTRANLIST' || parent === 'BANKTRANLISTP') {
        if (name === 'DTSTART' && parent === 'BANKTRANLIST')
          st.from = ofxFieldDate(this.ctx, raw, line, 'DTSTART', false);
        else if (name === 'DTEND' && parent === 'BANKTRANLIST')
          st.to = ofxFieldDate(this.ctx, raw, line, 'DTEND', false);
      }
      return;
    }
    if (name === 'TRNUID' && this.part && (parent === 'STMTTRNRS' || parent === 'CCSTMTTRNRS')) {
      this.part.trnUid = raw.trim();
      return;
    }
    const status = this.status;
    if (status !== undefined && parent === 'STATUS') {
      if (name === 'CODE') status.code = raw.trim();
      else if (name === 'SEVERITY') status.severity = raw.trim();
      else if (name === 'MESSAGE') status.message = cleanText(raw);
    }
  }

  /** A warning at `line` (where known) of the statement being read. */
  private warn(code: StatementWarningCode, line: number | undefined, text: string): void {
    const at = { file: this.file, line, statement: this.statementIndex };
    this.warnings.push(statementWarning(code, at, text));
  }

  /** Input that is not OFX at all: said so, without echoing its bytes. */
  private notOfx(): Error {
    return malformed(
      { file: this.file, line: 1, field: 'OFX' },
      'not an OFX file (no <OFX> element where the OFX body starts)',
    );
  }

  private fail(line: number, field: string, why: string): Error {
    return malformed({ file: this.file, line, field }, why);
  }
}
