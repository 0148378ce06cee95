import { warningText, type StatementWarning } from '../../src/bank/formats';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MalformedStatementError } from '../../src/bank/errors';
import { parseMt940, parseStatement } from '../../src/bank/formats';

/** The warnings as people read them (`file:line: message`). */
const texts = (ws: StatementWarning[]) => ws.map(warningText);

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const parse = (name: string) => parseStatement(read(name), { fileName: name });
const mt = (text: string) =>
  parseMt940(Buffer.from(text.replace(/\n/g, '\r\n')), { fileName: 'x.sta' });

describe('MT940 parser', function () {
  it('given a SWIFT envelope {1:}{2:}{4: … -} with BLZ/account, then account, bank id and balances are read', function () {
    const r = parse('mt940-swift-german.sta');
    assert.equal(r.format, 'mt940');
    assert.equal(r.statements.length, 1);
    const st = r.statements[0];
    assert.deepEqual(
      [st.accountId, st.bankId, st.currency, st.from, st.to],
      ['0532013000', '37040044', 'EUR', '2023-12-30', '2024-03-01'],
    );
    assert.deepEqual(st.balances, [
      { amount: 100000, currency: 'EUR', date: '2023-12-29', kind: 'ledger' },
      { amount: 237450, currency: 'EUR', date: '2024-03-01', kind: 'ledger' },
    ]);
  });

  it('given a German GVC :86: (?00 ?20–?29 ?30 ?31 ?32 ?33) with SEPA keywords, then payee, IBAN, SVWZ memo and EREF reference come out', function () {
    const [first, second] = parse('mt940-swift-german.sta').statements[0].transactions;
    assert.deepEqual(first, {
      bookingDate: '2023-12-30',
      valueDate: '2023-12-29',
      amount: -2500,
      currency: 'EUR',
      pending: false,
      providerId: '900123',
      checkNumber: '900123',
      payee: 'Turnverein Sportfreunde e. V.',
      counterpartyName: 'Turnverein Sportfreunde e. V.',
      memo: 'Mitgliedsbeitrag 2024 Turnverein',
      reference: 'INV2023-12-99',
      counterpartyIban: 'DE02120300000000202051',
      additionalInfo: 'MREF M-2020-1; CRED DE98ZZZ09999999999; LASTSCHRIFT',
    });
    assert.equal(second.payee, 'Kunde Meier & Söhne GmbH', 'cp1252 ö read right');
    assert.equal(second.memo, 'Rechnung 4711 vom 15.12.2023');
    assert.equal(second.reference, 'RE-4711');
  });

  it('given an entry date across New Year (value 2024-01-02, entry 0102; value 2023-12-29, entry 1230), then the entry year is right', function () {
    const txs = parse('mt940-swift-german.sta').statements[0].transactions;
    assert.deepEqual(
      txs.map((t) => [t.valueDate, t.bookingDate]),
      [
        ['2023-12-29', '2023-12-30'],
        ['2024-01-02', '2024-01-02'],
        ['2024-02-29', '2024-03-01'],
      ],
    );
    const r = mt(
      ':20:X\n:25:DE1/2\n:60F:C240101EUR0,\n:61:2401021231D1,00NMSCNONREF\n:62F:D240102EUR1,00\n',
    );
    assert.equal(r.statements[0].transactions[0].bookingDate, '2023-12-31');
  });

  it('given a 30 February value date, then it is clamped to 29 February with a warning and the line is kept', function () {
    const r = parse('mt940-swift-german.sta');
    const tx = r.statements[0].transactions[2];
    assert.deepEqual(
      [tx.valueDate, tx.amount, tx.memo],
      ['2024-02-29', -10050, 'Kontoführung Februar'],
    );
    assert.ok(
      texts(r.warnings).includes(
        'mt940-swift-german.sta:11: :61: value date: date 2024-02-30 does not exist; booked on 2024-02-29',
      ),
      texts(r.warnings).join('\n'),
    );
  });

  it('given CR (credit with funds code R), RC (reversal of credit) and RD (reversal of debit), then the signs are +, −, +', function () {
    const r = mt(
      ':20:X\n:25:DE1/2\n:60F:C240101EUR100,00\n:61:240102CR10,00NTRFNONREF\n:61:240102RC3,00NTRFNONREF\n:61:240102RD1,50NTRFNONREF\n:61:240102D107,NCHKNONREF\n:62F:C240102EUR1,50\n',
    );
    assert.deepEqual(
      r.statements[0].transactions.map((t) => t.amount),
      [1000, -300, 150, -10700],
    );
    assert.deepEqual(texts(r.warnings), []);
  });

  it('given header lines before :20:, an IBAN with a currency, a Dutch slash :86: and free-text :86:, then two statements are read', function () {
    const r = parse('mt940-plain-slash.sta');
    assert.deepEqual(texts(r.warnings), []);
    const [a, b] = r.statements;
    assert.deepEqual([a.accountId, a.bankId, a.currency], ['NL91ABNA0417164300', undefined, 'EUR']);
    assert.deepEqual(a.transactions[0], {
      bookingDate: '2024-03-06',
      valueDate: '2024-03-06',
      amount: 125000,
      currency: 'EUR',
      pending: false,
      providerId: 'B4C06BK7X1A0',
      checkNumber: 'B4C06BK7X1A0',
      payee: 'Jansen Holding BV',
      counterpartyName: 'Jansen Holding BV',
      counterpartyIban: 'NL20INGB0001234567',
      memo: 'Factuur 2024-031 maandhuur',
      reference: 'E2E-2024-3-1',
      additionalInfo: '/TRCD/00100/',
    });
    assert.equal(
      a.transactions[1].memo,
      'BEA NR:XX1234 07.03.24/14.22 ALBERT HEIJN 1234 AMSTERDAM,PAS 012',
    );
    assert.deepEqual(
      a.balances.map((x) => [x.kind, x.amount, x.date]),
      [
        ['ledger', 50000, '2024-03-05'],
        ['ledger', 170790, '2024-03-07'],
        ['available', 170790, '2024-03-07'],
      ],
    );
    assert.deepEqual(
      b.transactions.map((t) => [t.amount, t.payee, t.memo, t.providerId]),
      [[-790, 'Bank kosten', 'Kosten betalingsverkeer maart', undefined]],
    );
  });

  it("given a statement without :62F:, then BANK_MALFORMED_FILE names the statement's first line and :62F:", function () {
    assert.throws(
      () => parse('malformed-mt940-missing-62f.sta'),
      (err: unknown) => {
        assert.ok(err instanceof MalformedStatementError);
        assert.equal(err.code, 'BANK_MALFORMED_FILE');
        assert.equal(
          err.message,
          'malformed-mt940-missing-62f.sta:1: :62F: statement without a closing balance (:62F:/:62M:): truncated or incomplete',
        );
        assert.deepEqual([err.details.line, err.details.field], [1, ':62F:']);
        return true;
      },
    );
  });

  it('given a :61: that is not a statement line, or a balance with a bad amount, then the error names the line and field', function () {
    assert.throws(
      () =>
        mt(':20:X\n:25:DE1/2\n:60F:C240101EUR100,00\n:61:2401XXC10,00NTRF\n:62F:C240102EUR1,50\n'),
      /x\.sta:4: :61: '2401XXC10,00NTRF' is not a statement line/,
    );
    assert.throws(
      () => mt(':20:X\n:25:DE1/2\n:60F:C240101EUR1,2,3\n:62F:C240102EUR1,50\n'),
      /x\.sta:3: :60F: '1,2,3' is not an amount/,
    );
  });

  it('given a statement split over two pages (:62M: then :60M:), then each page is a statement with its own balances and no warning', function () {
    const r = mt(
      ':20:P1\n:25:COBADEFFXXX/1234567890\n:28C:5/1\n:60F:C240101EUR10,00\n:61:240102C5,00NTRFNONREF\n:62M:C240102EUR15,00\n-\n:20:P2\n:25:COBADEFFXXX/1234567890\n:28C:5/2\n:60M:C240102EUR15,00\n:61:240103D1,00NTRFNONREF\n:62F:C240103EUR14,00\n-\n',
    );
    assert.deepEqual(texts(r.warnings), []);
    assert.deepEqual(
      r.statements.map((s) => [
        s.accountId,
        s.bankId,
        s.transactions.map((t) => t.amount),
        s.balances.map((b) => [b.amount, b.date]),
      ]),
      [
        [
          '1234567890',
          'COBADEFFXXX',
          [500],
          [
            [1000, '2024-01-01'],
            [1500, '2024-01-02'],
          ],
        ],
        [
          '1234567890',
          'COBADEFFXXX',
          [-100],
          [
            [1500, '2024-01-02'],
            [1400, '2024-01-03'],
          ],
        ],
      ],
    );
  });

  it('given Rabobank :NS: fields, then they are skipped and not glued to the :86: before them', function () {
    const r = mt(
      ':20:X\n:25:NL12RABO0123456789\n:60F:C240101EUR0,00\n:61:240102C1,00NTRFNONREF\n:86:/REMI/Invoice 9/\n:NS:22Internal\n:62F:C240102EUR1,00\n',
    );
    assert.equal(r.statements[0].transactions[0].memo, 'Invoice 9');
    assert.deepEqual(texts(r.warnings), []);
  });

  it('given opening + lines ≠ closing, then a warning (not a rejection) says by how much', function () {
    const r = mt(
      ':20:X\n:25:DE1/2\n:60F:C240101EUR100,00\n:61:240102C10,00NTRFNONREF\n:62F:C240102EUR111,00\n',
    );
    assert.deepEqual(texts(r.warnings), [
      'x.sta:1: opening balance 10000 + lines 1000 ≠ closing balance 11100 (minor units of EUR)',
    ]);
  });

  it('given a bank reference repeated inside a statement, then those lines lose providerId (content-hashed by the loop) with a warning', function () {
    const r = mt(
      ':20:X\n:25:DE1/2\n:60F:C240101EUR0,00\n:61:240102C1,00NTRFNONREF//SAME\n:61:240102C2,00NTRFNONREF//SAME\n:62F:C240102EUR3,00\n',
    );
    assert.deepEqual(
      r.statements[0].transactions.map((t) => t.providerId),
      [undefined, undefined],
    );
    assert.match(texts(r.warnings)[0], /id 'SAME' is used by 2 lines/);
  });

  it("given the slash keyword set (EREF, ORDP//NAME/ADDR/ID, BENM//NAME/ID, REMI USTD and STRD, ISDT, CSID, RTRN, PURP, SVCL) wrapped at 65 characters mid-word, then remittance alone is the memo, the party's name is the payee, the :61: second line is the account, and nothing else leaks into the memo", function () {
    const r = parse('mt940-sepa-slash-keywords.sta');
    assert.deepEqual(texts(r.warnings), []);
    const [credit, debit] = r.statements[0].transactions;
    assert.deepEqual(credit, {
      bookingDate: '2024-03-05',
      valueDate: '2024-03-05',
      amount: 150000,
      currency: 'EUR',
      pending: false,
      providerId: 'RB0305-1',
      checkNumber: 'RB0305-1',
      counterpartyIban: 'NL20INGB0001234567',
      payee: 'Acme Consulting BV',
      counterpartyName: 'Acme Consulting BV',
      reference: 'E2E-77-2024',
      memo: 'Invoice 2024-77 consulting services March, settlement of ACCOUNTNUMBER reconciliation',
      additionalInfo:
        'counterparty id KVK12345678; counterparty address Keizersgracht 1 Amsterdam; CSID NL98ZZZ999999990000; ISDT 2024-03-05; PURP SUPP; SVCL SEPA',
    });
    assert.deepEqual(
      [
        debit.payee,
        debit.counterpartyIban,
        debit.memo,
        debit.reference,
        debit.returnReason,
        debit.additionalInfo,
      ],
      [
        'Energie Leverancier NV',
        'NL91ABNA0417164300',
        'RF18539007547034',
        'RF18539007547034',
        'AC04',
        'counterparty id NL00BENM7',
      ],
    );
  });

  it('given German ?20–?29 and ?60–?63 purpose subfields cut at 27 characters and :86: lines cut at 65 inside words, then SVWZ+ alone is the memo, words are whole, ?31 is the (domestic) account and ?32/?33 the name', function () {
    const tx = parse('mt940-german-structured.sta').statements[0].transactions[0];
    assert.deepEqual(tx, {
      bookingDate: '2024-03-05',
      valueDate: '2024-03-05',
      amount: -3500,
      currency: 'EUR',
      pending: false,
      providerId: '931001',
      checkNumber: '931001',
      memo: 'Beitrag Maerz 2024 Mitgliedsnummer 0042 Abteilung Leichtathletik Jugend',
      payee: 'Sportverein Gruen-Weiss Musterstadt e.V.',
      counterpartyName: 'Sportverein Gruen-Weiss Musterstadt e.V.',
      counterpartyAccount: '0532013000',
      reference: 'ABO-2024-0042',
      additionalInfo:
        'KREF K-778; MREF MANDAT-0815; CRED DE98ZZZ09999999999; SEPA-BASIS-LASTSCHRIFT; text key 992',
    });
  });

  it('given free-text :86: lines of exactly 65 characters, then a word cut at the line end is rejoined, and a shorter line ends a word', function () {
    const first = `${'A'.repeat(58)} ACCOUN`;
    const r = mt(
      `:20:X\n:25:DE1/2\n:60F:C240101EUR0,00\n:61:240102C1,00NTRFNONREF\n:86:${first}\nT CLOSED\nNEXT LINE\n:62F:C240102EUR1,00\n`,
    );
    assert.equal(first.length, 65);
    assert.equal(
      r.statements[0].transactions[0].memo,
      `${'A'.repeat(58)} ACCOUNT CLOSED NEXT LINE`,
    );
  });

  it('given an MT942 interim report (:34F:, :13D:, :90D:/:90C:, no :60F:/:62F:), then its lines are read as pending in the :34F: currency, dated to :13D:', function () {
    const r = parse('mt942-interim.sta');
    assert.deepEqual(texts(r.warnings), []);
    assert.equal(r.format, 'mt942');
    const st = r.statements[0];
    assert.deepEqual(
      [st.accountId, st.currency, st.statementId, st.to, st.balances],
      ['DE89370400440532013000', 'EUR', '00066/001', '2024-03-06', []],
    );
    assert.deepEqual(
      st.transactions.map((t) => [t.amount, t.pending, t.payee, t.memo]),
      [
        [-12000, true, 'Hausverwaltung Schmidt', 'Miete Maerz'],
        [98050, true, 'Kunde Berger GmbH', 'Rechnung 2024-118'],
      ],
    );
  });

  it('given MT942 totals that do not match its lines, then a warning names :90C:; without :34F: a line says which fields give the currency', function () {
    const text = read('mt942-interim.sta').toString('latin1');
    const r = parseStatement(
      Buffer.from(text.replace(':90C:1EUR980,50', ':90C:2EUR990,50'), 'latin1'),
      { fileName: 'm.sta' },
    );
    assert.deepEqual(texts(r.warnings), [
      'm.sta:13: :90C: says 2 entries of 99050, the lines are 1 of 98050 (minor units of EUR)',
    ]);
    const err = (() => {
      try {
        parseStatement(Buffer.from(text.replace(/:34F:[^\r]*\r\n/g, ''), 'latin1'), {
          fileName: 'm.sta',
        });
      } catch (e) {
        return e as Error;
      }
      return assert.fail('expected an error');
    })();
    assert.match(
      err.message,
      /statement line before any balance \(:60F:\) or floor limit \(:34F:, MT942\): currency unknown/,
    );
  });

  it('given the same statement twice in one file (two exports concatenated), then it is read once with a warning, and two identical lines inside it stay two', function () {
    const one =
      ':20:X\n:25:DE1/2\n:28C:7/1\n:60F:C240101EUR0,00\n:61:240102D3,50NMSCNONREF\n:86:COFFEE\n:61:240102D3,50NMSCNONREF\n:86:COFFEE\n:62F:D240102EUR7,00\n-\n';
    const r = parseStatement(Buffer.from((one + one).replace(/\n/g, '\r\n')), {
      fileName: 'twice.sta',
    });
    assert.equal(r.statements.length, 1);
    assert.deepEqual(
      r.statements[0].transactions.map((t) => [t.amount, t.memo]),
      [
        [-350, 'COFFEE'],
        [-350, 'COFFEE'],
      ],
    );
    assert.deepEqual(texts(r.warnings), [
      'twice.sta: statement 7/1 of account 2 (2024-01-02..2024-01-02) with 2 line(s) appears again in the file; read once',
    ]);
    const next = parseStatement(
      Buffer.from((one + one.replace(':28C:7/1', ':28C:8/1')).replace(/\n/g, '\r\n')),
      { fileName: 'two.sta' },
    );
    assert.equal(next.statements.length, 2, 'a statement with another number is another statement');
  });
});
