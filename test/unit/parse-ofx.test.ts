import { warningText, type StatementWarning } from '../../src/bank/formats';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { MalformedStatementError } from '../../src/bank/errors';
import type { BankTransaction } from '../../src/bank/provider';
import {
  parseOfx,
  parseOfxStream,
  parseStatement,
  type OfxStatementSummary,
} from '../../src/bank/formats';
import { generateOfx } from '../../scripts/gen-ofx';

/** The warnings as people read them (`file:line: message`). */
const texts = (ws: StatementWarning[]) => ws.map(warningText);

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const parse = (name: string) => parseStatement(read(name), { fileName: name });
const byId = (txs: BankTransaction[], id: string): BankTransaction => {
  const tx = txs.find((t) => t.providerId === id);
  assert.ok(tx, `no transaction ${id}`);
  return tx;
};
const malformedOf = (fn: () => unknown): MalformedStatementError => {
  try {
    fn();
  } catch (err) {
    assert.ok(
      err instanceof MalformedStatementError,
      `expected MalformedStatementError, got ${String(err)}`,
    );
    assert.equal(err.code, 'BANK_MALFORMED_FILE');
    return err;
  }
  assert.fail('expected the parse to throw');
};

describe('OFX parser', function () {
  it('given an OFX 1.02 SGML checking statement, then every line has exact minor units, calendar dates, FITIDs, payees, check numbers and both balances', function () {
    const r = parse('ofx102-checking.ofx');
    assert.equal(r.format, 'ofx1');
    assert.deepEqual(texts(r.warnings), []);
    assert.equal(r.statements.length, 1);
    const st = r.statements[0];
    assert.deepEqual(
      {
        accountId: st.accountId,
        bankId: st.bankId,
        currency: st.currency,
        from: st.from,
        to: st.to,
      },
      {
        accountId: '4120012345',
        bankId: '121000248',
        currency: 'USD',
        from: '2024-01-01',
        to: '2024-01-31',
      },
    );
    assert.deepEqual(st.transactions, [
      {
        bookingDate: '2024-01-02',
        amount: 250000,
        currency: 'USD',
        pending: false,
        providerId: '202401020001',
        payee: 'ACME PAYROLL',
        memo: 'PAYROLL JAN 1',
      },
      {
        bookingDate: '2024-01-05',
        amount: -12540,
        currency: 'USD',
        pending: false,
        providerId: '202401050002',
        payee: 'CHECK 1043',
        checkNumber: '1043',
      },
      {
        bookingDate: '2024-01-12',
        amount: -4217,
        currency: 'USD',
        pending: false,
        providerId: '202401120003',
        payee: 'SAFEWAY #1234',
        memo: 'POS PURCHASE',
      },
      {
        bookingDate: '2024-01-31',
        amount: -1200,
        currency: 'USD',
        pending: false,
        providerId: '202401310004',
        payee: 'MONTHLY SERVICE FEE',
      },
    ]);
    assert.deepEqual(st.balances, [
      { amount: 432043, currency: 'USD', date: '2024-01-31', kind: 'ledger' },
      { amount: 430043, currency: 'USD', date: '2024-01-31', kind: 'available' },
    ]);
  });

  it('given an OFX 2.2 XML credit-card statement (CCSTMTRS), then entities are decoded and card signs kept (purchases negative, payments positive)', function () {
    const r = parse('ofx220-creditcard.ofx');
    assert.equal(r.format, 'ofx2');
    const st = r.statements[0];
    assert.equal(st.accountId, '4111111111111111');
    assert.equal(st.bankId, undefined);
    assert.deepEqual(
      st.transactions.map((t) => [t.bookingDate, t.amount, t.payee]),
      [
        ['2024-02-03', -8420, 'WHOLEFDS MKT #10234'],
        ['2024-02-10', -129999, 'B&H PHOTO 800-606-6969'],
        ['2024-02-15', 50000, 'PAYMENT - THANK YOU'],
        ['2024-02-29', -295, 'FOREIGN TRANSACTION FEE'],
      ],
    );
    assert.deepEqual(
      st.balances.map((b) => [b.kind, b.amount, b.date]),
      [
        ['ledger', -88714, '2024-02-29'],
        ['available', 911286, '2024-02-29'],
      ],
    );
  });

  it('quirk: the whole header on one line with no blank line before <OFX> (QFX with INTU.BID)', function () {
    const r = parse('quirk-header-one-line.qfx');
    assert.equal(r.format, 'ofx1');
    assert.deepEqual(
      r.statements[0].transactions.map((t) => [t.providerId, t.amount, t.payee]),
      [
        ['QFX-1', -1999, 'NETFLIX.COM'],
        ['QFX-2', 100000, 'TRANSFER FROM SAVINGS'],
      ],
    );
  });

  it('quirk: OFX 2.x XML with leaf tags left unclosed', function () {
    const r = parse('quirk-v2-unclosed.ofx');
    assert.equal(r.format, 'ofx2');
    const st = r.statements[0];
    assert.deepEqual([st.accountId, st.bankId, st.currency], ['987654321', '012003', 'AUD']);
    assert.deepEqual(
      st.transactions.map((t) => [t.providerId, t.bookingDate, t.amount, t.payee, t.memo]),
      [
        ['ANZ0001', '2024-02-05', -4560, 'WOOLWORTHS 3342', 'EFTPOS'],
        ['ANZ0002', '2024-02-07', 120000, 'SALARY ACME PTY', undefined],
      ],
    );
    assert.deepEqual(st.balances, [
      { amount: 315440, currency: 'AUD', date: '2024-02-29', kind: 'ledger' },
    ]);
  });

  it('quirk: comma decimal amounts (-200,00 / 1234,56 / -0,5) and CHARSET:NONE', function () {
    const st = parse('quirk-comma-decimal.ofx').statements[0];
    assert.deepEqual(
      st.transactions.map((t) => t.amount),
      [-20000, 123456, -50],
    );
    assert.equal(st.balances[0].amount, 103406);
  });

  it("quirk: every real-world date form gives the bank's own calendar day, never shifted through UTC; 29 Feb 2023 is clamped with a warning", function () {
    const r = parse('quirk-dates.ofx');
    const days = Object.fromEntries(
      r.statements[0].transactions.map((t): [string, string] => [
        String(t.providerId),
        t.bookingDate,
      ]),
    );
    assert.deepEqual(days, {
      'D-1': '2024-01-31', // 20240131
      'D-2': '2024-01-31', // 20240131120000
      'D-3': '2024-01-31', // 20240131120000.000[-5:EST]
      'D-4': '2024-01-31', // 20240131233000[+5.5:IST]: 18:00 UTC, still the 31st in India
      'D-5': '2024-01-31', // 20240131120000-5:EST (no brackets)
      'D-6': '2024-01-31', // [-:EST] (no hours)
      'D-7': '2024-01-31', // 20240131093914:014
      'D-8': '2024-01-31', // 202401311120 (12 digits)
      'D-9': '2024-01-31', // 20240131230000[-8:PST]: 1 Feb in UTC, 31 Jan at the bank
      'D-10': '2024-02-01', // 20240201013000.000[+5.30:IST]: 31 Jan in UTC, 1 Feb at the bank
      'D-11': '2024-01-31', // [0:GMT]
      'D-12': '2023-02-28', // 20230229 does not exist
    });
    assert.deepEqual(texts(r.warnings), [
      'quirk-dates.ofx:118: DTPOSTED: date 2023-02-29 does not exist; booked on 2023-02-28',
    ]);
  });

  it('quirk: empty and blank FITIDs leave providerId absent (the loop content-hashes), two identical coffees stay two', function () {
    const txs = parse('quirk-empty-fitid.ofx').statements[0].transactions;
    assert.equal(txs.length, 4);
    assert.deepEqual(
      txs.map((t) => 'providerId' in t),
      [false, false, false, true],
    );
    assert.deepEqual(
      txs.slice(0, 2).map((t) => [t.bookingDate, t.amount, t.payee, t.memo]),
      [
        ['2024-03-01', -450, 'CAFE ONE', 'COFFEE'],
        ['2024-03-01', -450, 'CAFE ONE', 'COFFEE'],
      ],
    );
    assert.equal(txs[2].payee, 'PETROL');
  });

  it('quirk: CORRECTFITID/CORRECTACTION become `corrects` (REPLACE and DELETE)', function () {
    const txs = parse('quirk-correctfitid.ofx').statements[0].transactions;
    assert.equal(byId(txs, 'FIT-100').corrects, undefined);
    assert.deepEqual(byId(txs, 'FIT-101').corrects, { providerId: 'FIT-100', action: 'REPLACE' });
    assert.equal(byId(txs, 'FIT-101').amount, -5200);
    assert.deepEqual(byId(txs, 'FIT-102').corrects, { providerId: 'FIT-099', action: 'DELETE' });
  });

  it('quirk: CHARSET:1252 bytes give €, accents, typographic quotes and a bare & in SGML', function () {
    const r = parse('quirk-cp1252.ofx');
    assert.deepEqual(texts(r.warnings), []);
    const txs = r.statements[0].transactions;
    assert.deepEqual(
      txs.map((t) => [t.payee, t.memo]),
      [
        ['CAFÉ RENÉ', '€ 12,40 pourboire inclus'],
        ['Müller & Söhne GmbH', 'Rechnung Nr. 4711 – Zahlung'],
        ['Peña Ibáñez', '“Reembolso” œuvre'],
      ],
    );
    assert.deepEqual(
      txs.map((t) => t.amount),
      [-1240, -8900, 25000],
    );
  });

  it('quirk: CHARSET:ISO-8859-1 (Latin-1) bytes', function () {
    const tx = parse('quirk-latin1.ofx').statements[0].transactions[0];
    assert.deepEqual(
      [tx.payee, tx.memo, tx.amount, tx.currency],
      ['Søstrene Grene Årstad', 'Kjøp', -34900, 'NOK'],
    );
  });

  it('quirk: a file declaring 1252 that is really UTF-8 is read as UTF-8, with a warning', function () {
    const r = parse('quirk-declared-1252-is-utf8.ofx');
    assert.equal(r.statements[0].transactions[0].payee, 'Crème brûlée & Cie');
    assert.equal(r.statements[0].transactions[0].memo, 'déjeuner €');
    assert.equal(texts(r.warnings).length, 1);
    assert.match(
      texts(r.warnings)[0],
      /declared charset Windows-1252\/ISO-8859-1 but the bytes are UTF-8/,
    );
  });

  it('quirk: two bank statements (STMTRS) and a card statement (CCSTMTRS) in one file give three statements with their own balances', function () {
    const sts = parse('quirk-two-statements.ofx').statements;
    assert.deepEqual(
      sts.map((s) => [
        s.accountId,
        s.transactions.map((t) => t.amount),
        s.balances.map((b) => b.amount),
      ]),
      [
        ['1111', [-1000], [9000]],
        ['2222', [42], [500042]],
        ['4000123412341234', [-3333], [-3333]],
      ],
    );
  });

  it('quirk: TRNAMT spellings (+, spaced sign, $, null, -0, .50) and a DEBIT with a positive amount kept as the bank signed it; an empty BALAMT is skipped with a warning', function () {
    const r = parse('quirk-amount-forms.ofx');
    const txs = r.statements[0].transactions;
    assert.deepEqual(
      txs.map((t) => [t.providerId, t.amount]),
      [
        ['AM-1', 2500],
        ['AM-2', -500],
        ['AM-3', 12000],
        ['AM-4', 0],
        ['AM-5', 0],
        ['AM-6', -50],
        ['AM-7', 1700],
      ],
    );
    assert.ok(Object.is(txs[4].amount, 0), '-0 is 0');
    assert.deepEqual(r.statements[0].balances, [
      { amount: 100000, currency: 'USD', date: '2024-02-29', kind: 'ledger' },
    ]);
    assert.deepEqual(texts(r.warnings), [
      'quirk-amount-forms.ofx:94: AVAILBAL has an empty BALAMT; balance ignored',
    ]);
  });

  it('quirk: NAME, PAYEE/NAME aggregate, EXTDNAME, MEMO, CHECKNUM and REFNUM', function () {
    const txs = parse('quirk-payee-checknum.ofx').statements[0].transactions;
    assert.deepEqual(byId(txs, 'PC-1'), {
      providerId: 'PC-1',
      bookingDate: '2024-03-01',
      amount: -30000,
      currency: 'USD',
      pending: false,
      payee: 'GREEN LAWN SERVICES',
      memo: 'MARCH MOWING',
      checkNumber: '2044',
      reference: '88120',
    });
    assert.equal(byId(txs, 'PC-2').payee, 'SPRINGFIELD MUNICIPAL PARKING AUTHORITY');
    assert.deepEqual(
      [byId(txs, 'PC-3').payee, byId(txs, 'PC-3').memo],
      ['SPOTIFY', 'SPOTIFY P0A1B2C3'],
    );
  });

  it("quirk: CURRENCY makes the line's currency CURSYM; ORIGCURRENCY leaves it in CURDEF", function () {
    const txs = parse('quirk-currency.ofx').statements[0].transactions;
    assert.deepEqual(
      txs.map((t) => [t.providerId, t.amount, t.currency]),
      [
        ['CU-1', -10000, 'CHF'],
        ['CU-2', -9215, 'EUR'],
        ['CU-3', -300, 'EUR'],
      ],
    );
  });

  it('given a truncated OFX, then it throws BANK_MALFORMED_FILE naming the file, the line of the open STMTTRN and the element, and yields nothing', function () {
    const err = malformedOf(() => parse('malformed-truncated.ofx'));
    assert.equal(
      err.message,
      'malformed-truncated.ofx:46: STMTTRN: file ends inside this transaction (truncated file?)',
    );
    assert.deepEqual(
      { ...err.details },
      { file: 'malformed-truncated.ofx', line: 46, row: undefined, field: 'STMTTRN' },
    );
  });

  it('given a TRNAMT that is not a number, then the error names line 49 and TRNAMT', function () {
    const err = malformedOf(() => parse('malformed-bad-amount.ofx'));
    assert.match(err.message, /^malformed-bad-amount\.ofx:49: TRNAMT: '12\.3\.4' is not an amount/);
    assert.equal(err.details.line, 49);
    assert.equal(err.details.field, 'TRNAMT');
  });

  it('given a transaction without DTPOSTED, a closing tag with no opening, or no statement at all, then each is a located BANK_MALFORMED_FILE', function () {
    const base = read('ofx102-checking.ofx').toString('latin1');
    const noDate = malformedOf(() =>
      parseOfx(Buffer.from(base.replace('<DTPOSTED>20240105120000[-5:EST]\r\n', ''), 'latin1'), {
        fileName: 'n.ofx',
      }),
    );
    assert.match(noDate.message, /^n\.ofx:\d+: DTPOSTED: transaction without a posting date$/);
    const stray = malformedOf(() =>
      parseOfx(
        Buffer.from(base.replace('</BANKTRANLIST>', '</BANKTRANLIST>\r\n</FOO>'), 'latin1'),
        { fileName: 's.ofx' },
      ),
    );
    assert.match(stray.message, /^s\.ofx:\d+: FOO: closing tag <\/FOO> without an opening <FOO>$/);
    const empty = malformedOf(() =>
      parseOfx(
        Buffer.from(
          'OFXHEADER:100\r\n\r\n<OFX>\r\n<SIGNONMSGSRSV1>\r\n<SONRS>\r\n<STATUS>\r\n<CODE>15500\r\n<SEVERITY>ERROR\r\n<MESSAGE>Signon invalid\r\n</STATUS>\r\n</SONRS>\r\n</SIGNONMSGSRSV1>\r\n</OFX>\r\n',
        ),
        { fileName: 'e.ofx' },
      ),
    );
    assert.equal(
      empty.message,
      'e.ofx: STMTRS: no bank or credit-card statement in the file (the bank answered code 15500: Signon invalid)',
    );
  });

  it('given an investment statement only (INVSTMTRS with INVBANKTRAN/STMTTRN), then it says the file holds no bank or card statement', function () {
    const inv =
      'OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n\r\n<OFX>\r\n<INVSTMTMSGSRSV1>\r\n<INVSTMTTRNRS>\r\n<INVSTMTRS>\r\n<CURDEF>USD\r\n<INVACCTFROM>\r\n<BROKERID>b.com\r\n<ACCTID>1\r\n</INVACCTFROM>\r\n<INVTRANLIST>\r\n<INVBANKTRAN>\r\n<STMTTRN>\r\n<TRNTYPE>CREDIT\r\n<DTPOSTED>20240101\r\n<TRNAMT>1.00\r\n<FITID>I-1\r\n</STMTTRN>\r\n<SUBACCTFUND>CASH\r\n</INVBANKTRAN>\r\n</INVTRANLIST>\r\n</INVSTMTRS>\r\n</INVSTMTTRNRS>\r\n</INVSTMTMSGSRSV1>\r\n</OFX>\r\n';
    const err = malformedOf(() => parseOfx(Buffer.from(inv), { fileName: 'inv.ofx' }));
    assert.equal(err.message, 'inv.ofx: STMTRS: no bank or credit-card statement in the file');
  });

  it('given a STMTRS without CURDEF, then the configured default currency is used with a warning, and without one it is an error', function () {
    const base = read('ofx102-checking.ofx').toString('latin1').replace('<CURDEF>USD\r\n', '');
    const ok = parseOfx(Buffer.from(base, 'latin1'), { fileName: 'c.ofx', defaultCurrency: 'CAD' });
    assert.ok(ok.statements[0].transactions.every((t) => t.currency === 'CAD'));
    assert.match(texts(ok.warnings)[0], /has no CURDEF; assumed CAD/);
    const err = malformedOf(() => parseOfx(Buffer.from(base, 'latin1'), { fileName: 'c.ofx' }));
    assert.match(err.message, /CURDEF: STMTRS has no CURDEF, its lines name no currency/);
  });

  it("given empty CURDEF, ACCTTYPE, BALAMT and DTASOF elements (OFX 2 XML), then they read as missing: the currency comes from the first line's CURSYM, each empty balance is ignored, each with a warning", function () {
    const r = parse('quirk-empty-elements.ofx');
    const st = r.statements[0];
    assert.equal(st.currency, 'EUR');
    assert.deepEqual(
      st.transactions.map((t) => [t.providerId, t.amount, t.currency]),
      [
        ['EE-1', -4250, 'EUR'],
        ['EE-2', 120000, 'EUR'],
      ],
    );
    assert.deepEqual(st.balances, []);
    assert.deepEqual(texts(r.warnings), [
      'quirk-empty-elements.ofx:15: STMTRS has an empty CURDEF; read as EUR, the currency its first line names (CURSYM)',
      'quirk-empty-elements.ofx:42: LEDGERBAL has an empty BALAMT; balance ignored',
      'quirk-empty-elements.ofx:46: AVAILBAL has no usable DTASOF; balance ignored',
    ]);
  });

  it("given an empty SGML CURDEF and lines without CURSYM, then the connection's currency is used with a warning, and without one the error says CURDEF is empty", function () {
    const withDefault = parseStatement(read('quirk-empty-curdef-sgml.ofx'), {
      fileName: 'e.ofx',
      defaultCurrency: 'EUR',
    });
    assert.deepEqual(
      withDefault.statements[0].transactions.map((t) => [t.amount, t.currency]),
      [[-1999, 'EUR']],
    );
    assert.equal(
      texts(withDefault.warnings)[0],
      "e.ofx:29: STMTRS has an empty CURDEF; assumed EUR (the connection's currency)",
    );
    const err = malformedOf(() =>
      parseStatement(read('quirk-empty-curdef-sgml.ofx'), { fileName: 'e.ofx' }),
    );
    assert.equal(
      err.message,
      'e.ofx:29: CURDEF: STMTRS has an empty CURDEF, its lines name no currency (CURSYM) and no default currency is configured',
    );
  });

  it('given a FITID shared by two different lines (Chase fee lines), then both lose providerId and a warning says so', function () {
    const base = read('ofx102-checking.ofx')
      .toString('latin1')
      .replace('<FITID>202401120003', '<FITID>202401050002');
    const r = parseOfx(Buffer.from(base, 'latin1'), { fileName: 'dup.ofx' });
    const txs = r.statements[0].transactions;
    assert.deepEqual(
      txs.map((t) => t.providerId),
      ['202401020001', undefined, undefined, '202401310004'],
    );
    assert.deepEqual(texts(r.warnings), [
      "dup.ofx: account 4120012345: id '202401050002' is used by 2 lines; they are matched by content instead",
    ]);
  });

  it('given OFX 2.1.1 pending lines (BANKTRANLISTP/STMTTRNP), then they are pending, dated by DTTRAN, without FITID', function () {
    const xml = read('ofx220-creditcard.ofx')
      .toString('utf8')
      .replace(
        '</BANKTRANLIST>',
        '</BANKTRANLIST>\n<BANKTRANLISTP><DTASOF>20240301</DTASOF><STMTTRNP><TRNTYPE>HOLD</TRNTYPE><DTTRAN>20240301080000.000[-8:PST]</DTTRAN><TRNAMT>-15.25</TRNAMT><NAME>PENDING COFFEE</NAME></STMTTRNP></BANKTRANLISTP>',
      );
    const txs = parseOfx(Buffer.from(xml), { fileName: 'p.ofx' }).statements[0].transactions;
    assert.deepEqual(txs[txs.length - 1], {
      bookingDate: '2024-03-01',
      amount: -1525,
      currency: 'USD',
      pending: true,
      payee: 'PENDING COFFEE',
    });
  });

  it('given the same file fed in 3-byte chunks (multi-byte characters split), then the streaming parse equals the in-memory parse', async function () {
    for (const name of [
      'quirk-cp1252.ofx',
      'quirk-declared-1252-is-utf8.ofx',
      'ofx220-creditcard.ofx',
      'quirk-v2-unclosed.ofx',
    ]) {
      const bytes = read(name);
      const whole = parseOfx(bytes, { fileName: name });
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.subarray(i, i + 3));
      const streamed = await parseOfxStream(Readable.from(chunks), { fileName: name });
      assert.deepEqual(streamed.statements, whole.statements, name);
    }
  });

  it('given a sink, then parseOfxStream hands lines over one by one and the statement summary afterwards', async function () {
    const seen: number[] = [];
    const summaries: OfxStatementSummary[] = [];
    const result = await parseOfxStream(
      Readable.from([read('ofx102-checking.ofx')]),
      { fileName: 'x.ofx' },
      {
        transaction: (tx) => seen.push(tx.amount),
        statement: (s) => summaries.push(s),
      },
    );
    assert.deepEqual(seen, [250000, -12540, -4217, -1200]);
    assert.equal(summaries[0].transactionCount, 4);
    assert.equal(result.transactionCount, 4);
    assert.equal(result.statements, undefined);
  });

  it('given generated OFX 1.02 and 2.2 files (scripts/gen-ofx), then every line is read, ids are unique and the lines add up to the ledger balance', function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'booksync-genofx-'));
    try {
      for (const version of [1, 2] as const) {
        const file = path.join(dir, `gen-v${version}.ofx`);
        generateOfx(file, { transactions: 2000, seed: 7, version });
        const r = parseOfx(readFileSync(file), { fileName: path.basename(file) });
        const st = r.statements[0];
        assert.equal(r.format, version === 1 ? 'ofx1' : 'ofx2');
        assert.equal(st.transactions.length, 2000);
        assert.equal(new Set(st.transactions.map((t) => t.providerId)).size, 2000);
        assert.equal(
          st.transactions.reduce((sum, t) => sum + t.amount, 0),
          st.balances[0].amount,
        );
        assert.deepEqual(texts(r.warnings), []);
      }
      generateOfx(path.join(dir, 'again.ofx'), { transactions: 2000, seed: 7, version: 1 });
      assert.ok(
        readFileSync(path.join(dir, 'again.ofx')).equals(
          readFileSync(path.join(dir, 'gen-v1.ofx')),
        ),
        'the generator is deterministic',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('given two OFX exports of the same statement concatenated in one file, then the statement is read once with a warning, and identical lines inside it stay', function () {
    const one = read('ofx102-checking.ofx').toString('latin1');
    const r = parseStatement(Buffer.from(one + one, 'latin1'), { fileName: 'twice.ofx' });
    assert.equal(r.statements.length, 1);
    assert.equal(r.statements[0].transactions.length, 4);
    assert.deepEqual(texts(r.warnings), [
      'twice.ofx: statement of account 4120012345 (2024-01-01..2024-01-31) with 4 line(s) appears again in the file; read once',
    ]);
  });
});
