import { warningText, type StatementWarning } from '../../src/bank/formats';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MalformedStatementError } from '../../src/bank/errors';
import { parseCamt053, parseStatement } from '../../src/bank/formats';

/** The warnings as people read them (`file:line: message`). */
const texts = (ws: StatementWarning[]) => ws.map(warningText);

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');
const read = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const parse = (name: string) => parseStatement(read(name), { fileName: name });

describe('camt.053 parser', function () {
  it('given a camt.053.001.02 statement, then account, BIC, period and OPBD/CLBD balances are read (FWAV ignored)', function () {
    const r = parse('camt053-v02.xml');
    assert.equal(r.format, 'camt053');
    const st = r.statements[0];
    assert.deepEqual(
      [st.accountId, st.bankId, st.currency, st.from, st.to],
      ['DE89370400440532013000', 'COBADEFFXXX', 'EUR', '2024-02-01', '2024-02-29'],
    );
    assert.deepEqual(st.balances, [
      { amount: 1000000, currency: 'EUR', date: '2024-01-31', kind: 'ledger' },
      { amount: 1165545, currency: 'EUR', date: '2024-02-29', kind: 'ledger' },
    ]);
  });

  it('given a credit with a structured RF creditor reference, then reference, debtor name and IBAN are the counterparty', function () {
    const tx = parse('camt053-v02.xml').statements[0].transactions[0];
    assert.deepEqual(tx, {
      providerId: '2024020500001234',
      bookingDate: '2024-02-05',
      valueDate: '2024-02-05',
      amount: 238000,
      currency: 'EUR',
      payee: 'Kunde & Partner AG',
      counterpartyName: 'Kunde & Partner AG',
      counterpartyIban: 'DE02120300000000202051',
      reference: 'RF18539007547034',
      pending: false,
    });
  });

  it('given a debit with Ustrd lines and EndToEndId NOTPROVIDED, then the memo joins the lines, the creditor is the counterparty and no reference is invented', function () {
    const tx = parse('camt053-v02.xml').statements[0].transactions[1];
    assert.equal(tx.amount, -11900);
    assert.equal(tx.memo, 'Strom Februar 2024 Kundennr. 55512');
    assert.equal(tx.payee, 'Stadtwerke München');
    assert.equal(tx.counterpartyIban, 'DE44701500000000123456');
    assert.equal(tx.reference, undefined);
  });

  it('given a batch entry whose three TxDtls carry amounts adding up to the entry, then it becomes three lines with their own creditors and ids', function () {
    const txs = parse('camt053-v02.xml').statements[0].transactions.filter(
      (t) => t.bookingDate === '2024-02-15',
    );
    assert.deepEqual(
      txs.map((t) => [t.providerId, t.amount, t.payee, t.memo, t.reference]),
      [
        ['BATCH-20240215/1', -70000, 'Lieferant Eins', 'Rechnung 1001', 'PAY-1'],
        ['BATCH-20240215/2', -50000, 'Lieferant Zwei', 'Rechnung 2002', 'PAY-2'],
        ['BATCH-20240215/3', -30000, 'Lieferant Drei', 'Rechnung 3003', 'PAY-3'],
      ],
    );
  });

  it("given a reversal (RvslInd) booked with a DtTm late in the evening, then the sign follows CdtDbtInd and the day is the bank's", function () {
    const tx = parse('camt053-v02.xml').statements[0].transactions.find(
      (t) => t.providerId === '2024022000009999',
    )!;
    assert.deepEqual(
      [tx.amount, tx.bookingDate, tx.valueDate, tx.memo],
      [-56405, '2024-02-20', '2024-02-21', 'Rücklastschrift'],
    );
  });

  it('given a pending entry (Sts PDNG, no BookgDt) and an INFO entry, then the first is pending dated by ValDt and the second skipped with a warning', function () {
    const r = parse('camt053-v02.xml');
    const txs = r.statements[0].transactions;
    assert.equal(txs.length, 7);
    assert.deepEqual(txs[6], {
      bookingDate: '2024-02-29',
      valueDate: '2024-02-29',
      amount: -4550,
      currency: 'EUR',
      memo: 'Kartenzahlung Tankstelle',
      pending: true,
    });
    assert.deepEqual(texts(r.warnings), [
      'camt053-v02.xml:125: Ntry with status INFO is not a booking; skipped',
      // The fixture's closing balance does not follow from its entries: the check says so.
      'camt053-v02.xml:9: opening balance 1000000 (OPBD) + booked entries 19695 ≠ closing balance 1165545 (CLBD) (minor units of EUR)',
    ]);
  });

  it('given a camt.053.001.08 with namespace prefixes, nested <Sts><Cd>, Pty/Nm, BICFI, five-decimal amounts and DtTm with nanoseconds, then all are read', function () {
    const r = parse('camt053-v08.xml');
    assert.deepEqual(texts(r.warnings), [
      'camt053-v08.xml:5: opening balance -25000 (OPBD) + booked entries 469960 ≠ closing balance 474960 (CLBD) (minor units of CHF)',
    ]);
    const [chf, eur] = r.statements;
    assert.deepEqual(
      [chf.accountId, chf.bankId, chf.currency],
      ['CH9300762011623852957', 'POFICHBEXXX', 'CHF'],
    );
    assert.deepEqual(chf.balances, [
      { amount: -25000, currency: 'CHF', date: '2024-02-29', kind: 'ledger' },
      { amount: 474960, currency: 'CHF', date: '2024-03-31', kind: 'ledger' },
      { amount: 470000, currency: 'CHF', date: '2024-03-31', kind: 'available' },
    ]);
    assert.deepEqual(chf.transactions[0], {
      providerId: '240304CH0000AA11',
      bookingDate: '2024-03-04',
      valueDate: '2024-03-04',
      amount: 500000,
      currency: 'CHF',
      payee: 'Alpen & Co. AG',
      counterpartyName: 'Alpen & Co. AG',
      counterpartyIban: 'CH5604835012345678009',
      reference: 'RF712348231',
      pending: false,
    });
    assert.deepEqual(
      [eur.accountId, eur.currency, eur.transactions.map((t) => t.amount)],
      ['0000-1234567-EUR', 'EUR', [8000]],
    );
  });

  it('given a .08 batch entry whose TxDtls carry no amounts, then it is one line with the entry amount, CDATA text and every Ustrd in the memo', function () {
    const tx = parse('camt053-v08.xml').statements[0].transactions[1];
    assert.deepEqual(tx, {
      providerId: '240310CH0000BB22',
      bookingDate: '2024-03-10',
      valueDate: '2024-03-11',
      amount: -30040,
      currency: 'CHF',
      memo: 'Sammelauftrag <2 Zahlungen> & Gebühren Miete März; Parkplatz März',
      pending: false,
    });
  });

  it('given a .08 pending entry with numeric character references, then the text is decoded and the line is pending', function () {
    const tx = parse('camt053-v08.xml').statements[0].transactions[2];
    assert.deepEqual(
      [tx.pending, tx.amount, tx.payee, tx.memo],
      [true, -1990, 'Swisscom', 'Abo № 42 <mobil>'],
    );
  });

  it('given an entry amount with a comma, then BANK_MALFORMED_FILE names line 61 and Ntry/Amt', function () {
    assert.throws(
      () => parse('malformed-camt-bad-amount.xml'),
      (err: unknown) => {
        assert.ok(err instanceof MalformedStatementError);
        assert.equal(err.code, 'BANK_MALFORMED_FILE');
        assert.equal(
          err.message,
          "malformed-camt-bad-amount.xml:61: Ntry/Amt: '119,00' is not an ISO 20022 amount (digits with a '.' decimal)",
        );
        assert.deepEqual([err.details.line, err.details.field], [61, 'Ntry/Amt']);
        return true;
      },
    );
  });

  it('given a truncated camt file, a camt.054, or a mismatched closing tag, then each is a located BANK_MALFORMED_FILE', function () {
    const xml = read('camt053-v02.xml').toString('utf8');
    const atEntry = xml.indexOf('<Ntry>') + '<Ntry>'.length;
    assert.throws(
      () => parseCamt053(Buffer.from(xml.slice(0, atEntry)), { fileName: 't.xml' }),
      /^MalformedStatementError: t\.xml:\d+: Ntry: file ends inside <Document\/BkToCstmrStmt\/Stmt\/Ntry> \(truncated file\?\)$/,
    );
    assert.throws(
      () => parseCamt053(Buffer.from(xml.slice(0, atEntry - 2)), { fileName: 't.xml' }),
      /^MalformedStatementError: t\.xml:\d+: file ends inside a tag or comment: '<Ntr' \(truncated file\?\)$/,
    );
    assert.throws(
      () =>
        parseCamt053(Buffer.from(xml.replace(/camt\.053\.001\.02/g, 'camt.054.001.02')), {
          fileName: 'n.xml',
        }),
      /camt\.054 is not a camt\.053 statement/,
    );
    assert.throws(
      () =>
        parseCamt053(
          Buffer.from(
            xml.replace(
              '</CdtDbtInd>\n        <Sts>BOOK</Sts>',
              '</CdtDbtInd>\n        <Sts>BOOK</Stst>',
            ),
          ),
          { fileName: 'm.xml' },
        ),
      /^MalformedStatementError: m\.xml:\d+: Stst: closing tag <\/Stst> does not match <Sts>/,
    );
  });

  it('given TxDtls amounts that do not add up to the batch entry, then it is booked as one line with a warning', function () {
    const xml = read('camt053-v02.xml')
      .toString('utf8')
      .replace('<Amt Ccy="EUR">300.00</Amt>', '<Amt Ccy="EUR">299.00</Amt>');
    const r = parseCamt053(Buffer.from(xml), { fileName: 'b.xml' });
    const batch = r.statements[0].transactions.filter((t) => t.bookingDate === '2024-02-15');
    assert.deepEqual(
      batch.map((t) => [t.providerId, t.amount]),
      [['BATCH-20240215', -150000]],
    );
    assert.ok(texts(r.warnings).some((w) => /do not add up/.test(w)));
  });

  it('given a reversal with a return reason, AcctSvcrRef and AddtlTxInf, then the line is marked reversed with its reason, keeps the bank id and the extra text, and a balanced statement gives no balance warning', function () {
    const r = parseStatement(read('camt053-parity.xml'), { fileName: 'p.xml' });
    const [returned, late] = r.statements[0].transactions;
    assert.equal(r.statements[0].statementId, 'STMT-2024-03');
    assert.deepEqual(
      [
        returned.providerId,
        returned.amount,
        returned.reversal,
        returned.returnReason,
        returned.additionalInfo,
        returned.memo,
      ],
      ['BANKREF-0305-1', -10000, true, 'AC04', 'RUECKUEBERWEISUNG', 'Rueckgabe Gutschrift 4711'],
    );
    assert.deepEqual(
      [late.providerId, late.reversal, late.returnReason],
      ['BANKREF-0402-1', undefined, undefined],
    );
    assert.deepEqual(texts(r.warnings), [
      'p.xml:5: 1 entry is booked outside the statement period (FrToDt 2024-03-01..2024-03-31)',
    ]);
  });

  it('given a closing balance that the entries do not reach, then a warning names opening, entries and closing (the lines are still read)', function () {
    const text = read('camt053-parity.xml')
      .toString('utf8')
      .replace('<Amt Ccy="EUR">420.00</Amt>', '<Amt Ccy="EUR">421.00</Amt>');
    const r = parseStatement(Buffer.from(text), { fileName: 'p.xml' });
    assert.equal(r.statements[0].transactions.length, 2);
    assert.ok(
      texts(r.warnings).includes(
        'p.xml:5: opening balance 50000 (PRCD) + booked entries -8000 ≠ closing balance 42100 (CLBD) (minor units of EUR)',
      ),
      texts(r.warnings).join('\n'),
    );
  });

  it('given two <Document> roots holding the same statement (concatenated exports), then it is read once with a warning; a file with one root is unchanged', function () {
    const text = read('camt053-parity.xml').toString('utf8');
    const r = parseStatement(Buffer.from(text + text), { fileName: 'two.xml' });
    assert.equal(r.statements.length, 1);
    assert.equal(r.statements[0].transactions.length, 2);
    assert.ok(
      texts(r.warnings).includes(
        'two.xml: statement STMT-2024-03 of account DE02100100100006820101 (2024-03-01..2024-03-31) with 2 line(s) appears again in the file; read once',
      ),
      texts(r.warnings).join('\n'),
    );
  });
});
