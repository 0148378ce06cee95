import { strict as assert } from 'node:assert';
import {
  DOC_TYPES,
  LedgerError,
  accountId,
  auditId,
  bankConnectionId,
  docProblems,
  docType,
  idPrefix,
  invoiceId,
  journalId,
  moveId,
  partnerId,
  paymentId,
  statementLineId,
  validateWrite,
  type AccountDoc,
  type AuditDoc,
  type BankConnectionDoc,
  type BooksDoc,
  type DocType,
  type InvoiceDoc,
  type JournalDoc,
  type MoveDoc,
  type PartnerDoc,
  type PaymentDoc,
  type RateDoc,
  type StatementLineDoc,
  type TransferDoc,
} from '../../src/ledger';

const T = '2024-03-01T10:00:00.000Z';

/** One well-formed document of every type, the way the other modules write them. */
const valid: { [K in DocType]: BooksDoc } = {
  account: {
    _id: 'account:1010',
    type: 'account',
    code: '1010',
    name: 'Bank',
    kind: 'asset',
    reconcile: false,
    currency: 'EUR',
  } satisfies AccountDoc,
  journal: {
    _id: 'journal:BNK1',
    type: 'journal',
    code: 'BNK1',
    name: 'Main bank',
    kind: 'bank',
    currency: 'EUR',
    default_account: '1010',
    suspense_account: '499',
  } satisfies JournalDoc,
  partner: {
    _id: 'partner:acme',
    type: 'partner',
    name: 'ACME SA',
    email: 'ap@acme.example',
    vat: 'BE0123456789',
    bank_accounts: [{ iban: 'BE71096123456769', bic: 'GKCCBEBB' }],
    internal_notes: 'pays late',
  } satisfies PartnerDoc,
  move: {
    _id: 'move:BNK1:2024:000123',
    type: 'move',
    journal: 'BNK1',
    date: '2024-03-01',
    ref: 'STL 7',
    state: 'posted',
    lines: [
      { account: '1010', debit: 12100, credit: 0, currency: 'EUR', label: 'ACME' },
      { account: '499', partner: 'partner:acme', debit: 0, credit: 12100, currency: 'EUR' },
    ],
    statement_line: 'stl:kbc:abc',
    posted_at: T,
    created_at: T,
    updated_at: T,
  } satisfies MoveDoc,
  invoice: {
    _id: 'invoice:INV/2024/0001',
    type: 'invoice',
    kind: 'out_invoice',
    number: 'INV/2024/0001',
    partner: 'partner:acme',
    date: '2024-02-01',
    due_date: '2024-03-02',
    currency: 'EUR',
    total: 12100,
    residual: 2100,
    state: 'partial',
    payment_reference: '+++123/4567/89012+++',
  } satisfies InvoiceDoc,
  payment: {
    _id: 'payment:p1',
    type: 'payment',
    partner: 'partner:acme',
    invoice: 'invoice:INV/2024/0001',
    statement_line: 'stl:kbc:abc',
    move: 'move:BNK1:2024:000123',
    date: '2024-03-01',
    amount: 10000,
    currency: 'EUR',
  } satisfies PaymentDoc,
  statement_line: {
    _id: 'stl:kbc:fitid:20240301001',
    type: 'statement_line',
    connection: 'kbc',
    account_id: 'BE68539007547034',
    date: '2024-03-01',
    value_date: '2024-03-02',
    amount: -450,
    currency: 'EUR',
    payee: 'Coffee',
    memo: 'card 1234',
    dedup_key: 'fitid:20240301001',
    pending: false,
    state: 'new',
    imported_at: T,
    provider_id: '20240301001',
  } satisfies StatementLineDoc,
  bank_connection: {
    _id: 'bankconn:kbc',
    type: 'bank_connection',
    name: 'kbc',
    provider: 'gocardless',
    institution: 'KBC_KREDBEBB',
    status: 'connected',
    last_refresh_at: T,
    last_success_at: T,
    next_run_at: T,
    watermark: '2024-02-29',
    last_error: { code: 'BANK_UNAVAILABLE', message: 'timeout' },
    counts: { fetched: 10, new: 3, duplicates: 7, pending: 1 },
    balance: { amount: 123456, currency: 'EUR', date: '2024-03-01' },
  } satisfies BankConnectionDoc,
  audit: {
    _id: `audit:${T}:move:BNK1:2024:000123`,
    type: 'audit',
    doc_id: 'move:BNK1:2024:000123',
    strategy: 'newest-wins',
    resolved_at: T,
    local: { ref: 'a' },
    remote: { ref: 'b' },
    taken: 'remote',
    overwritten: { ref: 'a' },
    site: 'office',
  } satisfies AuditDoc,
  rate: {
    _id: 'rate:EUR:USD:2024-03-01',
    type: 'rate',
    base: 'EUR',
    quote: 'USD',
    date: '2024-03-01',
    rate: '1.0830',
    source: 'ecb',
  } satisfies RateDoc,
  transfer: {
    _id: 'transfer:aa-bb-1',
    type: 'transfer',
    state: 'posted',
    account: '1090',
    from: {
      line: 'stl:kbc:a',
      connection: 'kbc',
      move: 'move:BNK1:xfer-out:aa-bb-1',
      date: '2024-03-01',
      amount: 10000,
      currency: 'EUR',
    },
    to: {
      line: 'stl:savings:b',
      connection: 'savings',
      move: 'move:BNK3:xfer-in:aa-bb-1',
      date: '2024-03-02',
      amount: 10000,
      currency: 'EUR',
    },
    rule: 'transfer(days 3)',
    reason: 'same amount',
  } satisfies TransferDoc,
};

/** Asserts `doc` is refused with `code`, and that a problem names the id and `field`. */
function refusedField(doc: unknown, code: string, field: string): void {
  const problems = docProblems(doc);
  const hit = problems.find((p) => p.field === field);
  assert.ok(hit, `expected a problem on ${field}, got ${JSON.stringify(problems)}`);
  assert.equal(hit.code, code);
  const id = (doc as { _id: string })._id;
  assert.equal(hit.doc_id, id);
  assert.ok(hit.message.includes(id) && hit.message.includes(field), hit.message);
  assert.throws(
    () => validateWrite(doc as BooksDoc, undefined),
    (e: unknown) => e instanceof LedgerError && e.problems.some((p) => p.field === field),
  );
}

function without<T extends object>(doc: T, key: string): T {
  const copy = { ...doc } as Record<string, unknown>;
  delete copy[key];
  return copy as T;
}

describe('ledger model', () => {
  describe('docType and id builders', () => {
    it('maps every id prefix to its type, short prefixes included', () => {
      assert.equal(docType('account:1010'), 'account');
      assert.equal(docType('stl:kbc:1'), 'statement_line');
      assert.equal(docType('bankconn:kbc'), 'bank_connection');
      assert.equal(docType('move:BNK1:2024:1'), 'move');
      assert.equal(docType('audit:2024-01-01T00:00:00.000Z:move:X:1'), 'audit');
      assert.equal(docType('statement_line:x'), undefined);
      assert.equal(docType('_design/x'), undefined);
      assert.equal(docType('_local/base'), undefined);
      assert.equal(docType('nothing'), undefined);
      assert.equal(docType(':x'), undefined);
    });

    it('builds ids that map back to their type', () => {
      const built: Array<[string, DocType]> = [
        [accountId('1010'), 'account'],
        [journalId('BNK1'), 'journal'],
        [partnerId('acme'), 'partner'],
        [moveId('BNK1', '2024:000123'), 'move'],
        [invoiceId('INV/2024/0001'), 'invoice'],
        [paymentId('p1'), 'payment'],
        [statementLineId('kbc', 'fitid:1'), 'statement_line'],
        [bankConnectionId('kbc'), 'bank_connection'],
        [auditId(T, 'move:BNK1:1'), 'audit'],
      ];
      for (const [id, type] of built) assert.equal(docType(id), type, id);
      assert.equal(moveId('BNK1', '2024:000123'), 'move:BNK1:2024:000123');
      assert.equal(statementLineId('kbc', 'fitid:1'), 'stl:kbc:fitid:1');
      assert.equal(auditId(T, 'move:BNK1:1'), `audit:${T}:move:BNK1:1`);
      for (const type of DOC_TYPES) assert.equal(docType(`${idPrefix(type)}x`), type);
    });

    it('refuses empty parts and a colon inside a part that is not last', () => {
      assert.throws(() => accountId(''), TypeError);
      assert.throws(() => moveId('BN:K', '1'), /must not contain ':'/);
      assert.throws(() => statementLineId('a:b', 'k'), /must not contain ':'/);
      assert.throws(() => moveId('BNK', ''), /must not be empty/);
    });
  });

  describe('validators', () => {
    for (const type of DOC_TYPES) {
      it(`accepts a well-formed ${type}`, () => {
        assert.deepEqual(docProblems(valid[type]), []);
        assert.doesNotThrow(() => validateWrite(valid[type], undefined));
      });
    }

    it('keeps unknown fields (documents are open for extension)', () => {
      assert.deepEqual(docProblems({ ...valid.account, x_color: 'blue' }), []);
    });

    it('refuses a document without an id or with an unknown type', () => {
      assert.equal(docProblems({ type: 'account' })[0].field, '_id');
      refusedField({ ...valid.account, type: 'ledger' }, 'LEDGER_INVALID_DOC', 'type');
      assert.equal(docProblems(null)[0].code, 'LEDGER_INVALID_DOC');
      assert.equal(docProblems('account:1')[0].code, 'LEDGER_INVALID_DOC');
    });

    it('refuses timestamps that are not ISO 8601 UTC', () => {
      refusedField(
        { ...valid.account, updated_at: '2024-03-01 10:00' },
        'LEDGER_INVALID_DOC',
        'updated_at',
      );
      refusedField(
        { ...valid.account, created_at: '2024-03-01T10:00:00+01:00' },
        'LEDGER_INVALID_DOC',
        'created_at',
      );
    });

    it('account: kind, name, currency and code agree with the id', () => {
      refusedField({ ...valid.account, kind: 'cash' }, 'LEDGER_INVALID_DOC', 'kind');
      refusedField(without(valid.account, 'name'), 'LEDGER_INVALID_DOC', 'name');
      refusedField({ ...valid.account, currency: 'eur' }, 'LEDGER_INVALID_DOC', 'currency');
      refusedField({ ...valid.account, reconcile: 'yes' }, 'LEDGER_INVALID_DOC', 'reconcile');
      refusedField({ ...valid.account, code: '1020' }, 'LEDGER_ID_MISMATCH', 'code');
    });

    it('journal: kind, currency, default account', () => {
      refusedField({ ...valid.journal, kind: 'cash' }, 'LEDGER_INVALID_DOC', 'kind');
      refusedField(without(valid.journal, 'currency'), 'LEDGER_INVALID_DOC', 'currency');
      refusedField(
        { ...valid.journal, default_account: '' },
        'LEDGER_INVALID_DOC',
        'default_account',
      );
      refusedField({ ...valid.journal, code: 'SAL' }, 'LEDGER_ID_MISMATCH', 'code');
    });

    it('partner: bank accounts are a list of { iban?, bic? } (a site may sync without IBANs)', () => {
      refusedField(without(valid.partner, 'bank_accounts'), 'LEDGER_INVALID_DOC', 'bank_accounts');
      refusedField(
        { ...valid.partner, bank_accounts: [{ iban: 42 }] },
        'LEDGER_INVALID_DOC',
        'bank_accounts[0].iban',
      );
      assert.deepEqual(docProblems({ ...valid.partner, bank_accounts: [{ bic: 'GKCCBEBB' }] }), []);
      refusedField(
        { ...valid.partner, bank_accounts: ['BE71'] },
        'LEDGER_INVALID_DOC',
        'bank_accounts[0]',
      );
    });

    it('move: date, state, line currency and account', () => {
      const m = valid.move as MoveDoc;
      refusedField({ ...m, date: '2024-02-30' }, 'LEDGER_INVALID_DOC', 'date');
      refusedField({ ...m, state: 'cancelled' }, 'LEDGER_INVALID_DOC', 'state');
      refusedField(
        { ...m, lines: [{ ...m.lines[0], currency: 'XXX' }, m.lines[1]] },
        'LEDGER_INVALID_DOC',
        'lines[0].currency',
      );
      refusedField(
        { ...m, lines: [without(m.lines[0], 'account'), m.lines[1]] },
        'LEDGER_INVALID_DOC',
        'lines[0].account',
      );
      refusedField({ ...m, lines: 'none' }, 'LEDGER_INVALID_DOC', 'lines');
      refusedField({ ...m, posted_at: 'yesterday' }, 'LEDGER_INVALID_DOC', 'posted_at');
    });

    it('invoice: kind, dates, totals and state agree', () => {
      const inv = valid.invoice as InvoiceDoc;
      refusedField({ ...inv, kind: 'credit_note' }, 'LEDGER_INVALID_DOC', 'kind');
      // Only a credit note names the invoice it credits, and only another invoice.
      refusedField({ ...inv, credits: 'invoice:INV/2024/0009' }, 'LEDGER_INVALID_DOC', 'credits');
      const note = { ...inv, kind: 'out_refund' };
      refusedField({ ...note, credits: 'INV/2024/0009' }, 'LEDGER_INVALID_DOC', 'credits');
      refusedField({ ...note, credits: inv._id }, 'LEDGER_INVALID_DOC', 'credits');
      assert.deepEqual(docProblems({ ...note, credits: 'invoice:INV/2024/0009' }), []);
      refusedField({ ...inv, due_date: '2024-01-01' }, 'LEDGER_INVALID_DOC', 'due_date');
      refusedField({ ...inv, residual: 20000 }, 'LEDGER_INVALID_DOC', 'residual');
      refusedField({ ...inv, state: 'paid' }, 'LEDGER_INVALID_DOC', 'residual');
      refusedField({ ...inv, residual: 12100 }, 'LEDGER_INVALID_DOC', 'residual');
      refusedField({ ...inv, total: 121.5 }, 'LEDGER_INVALID_DOC', 'total');
      refusedField({ ...inv, number: 'INV/2024/0002' }, 'LEDGER_ID_MISMATCH', 'number');
      assert.deepEqual(docProblems({ ...inv, state: 'paid', residual: 0 }), []);
      assert.deepEqual(docProblems({ ...inv, state: 'open', residual: 12100 }), []);
    });

    it('transfer: state, both legs with line, move and a positive integer amount', () => {
      const t = valid.transfer as TransferDoc;
      refusedField({ ...valid.transfer, state: 'done' }, 'LEDGER_INVALID_DOC', 'state');
      refusedField({ ...t, from: { ...t.from, amount: 0 } }, 'LEDGER_INVALID_DOC', 'from.amount');
      refusedField(without(valid.transfer, 'to'), 'LEDGER_INVALID_DOC', 'to');
      refusedField({ ...t, to: { ...t.to, move: '' } }, 'LEDGER_INVALID_DOC', 'to.move');
    });

    it('payment: invoice, move, non-zero integer amount', () => {
      refusedField({ ...valid.payment, amount: 0 }, 'LEDGER_INVALID_DOC', 'amount');
      refusedField({ ...valid.payment, amount: 1.25 }, 'LEDGER_INVALID_DOC', 'amount');
      refusedField(without(valid.payment, 'invoice'), 'LEDGER_INVALID_DOC', 'invoice');
      refusedField(without(valid.payment, 'move'), 'LEDGER_INVALID_DOC', 'move');
    });

    it('statement line: signed integer amount, state, pending flag, import time, connection agrees with the id', () => {
      const stl = valid.statement_line;
      assert.deepEqual(
        docProblems({ ...stl, amount: 0 }),
        [],
        'zero amounts exist (fee reversals)',
      );
      refusedField({ ...stl, amount: -4.5 }, 'LEDGER_INVALID_DOC', 'amount');
      refusedField({ ...stl, state: 'gone' }, 'LEDGER_INVALID_DOC', 'state');
      refusedField(without(stl, 'pending'), 'LEDGER_INVALID_DOC', 'pending');
      refusedField(without(stl, 'imported_at'), 'LEDGER_INVALID_DOC', 'imported_at');
      refusedField(without(stl, 'dedup_key'), 'LEDGER_INVALID_DOC', 'dedup_key');
      refusedField({ ...stl, connection: 'ing' }, 'LEDGER_ID_MISMATCH', 'connection');
      assert.deepEqual(docProblems({ ...stl, state: 'deleted' }), []);
    });

    it('bank connection: status, counts, watermark, last error, balance', () => {
      const bc = valid.bank_connection as BankConnectionDoc;
      refusedField({ ...bc, status: 'ok' }, 'LEDGER_INVALID_DOC', 'status');
      refusedField(
        { ...bc, counts: { ...bc.counts, new: -1 } },
        'LEDGER_INVALID_DOC',
        'counts.new',
      );
      refusedField(without(bc, 'counts'), 'LEDGER_INVALID_DOC', 'counts');
      refusedField({ ...bc, watermark: T }, 'LEDGER_INVALID_DOC', 'watermark');
      refusedField(
        { ...bc, last_error: { code: 'X' } },
        'LEDGER_INVALID_DOC',
        'last_error.message',
      );
      refusedField(
        { ...bc, balance: { amount: 1, currency: 'EUR', date: 'today' } },
        'LEDGER_INVALID_DOC',
        'balance.date',
      );
      refusedField({ ...bc, name: 'ing' }, 'LEDGER_ID_MISMATCH', 'name');
    });

    it('audit: loose, but doc_id must be the end of the id', () => {
      assert.deepEqual(
        docProblems({ _id: `audit:${T}:x:1`, type: 'audit', doc_id: 'x:1', anything: [1, 2] }),
        [],
      );
      refusedField({ ...valid.audit, doc_id: 'move:other' }, 'LEDGER_ID_MISMATCH', 'doc_id');
      refusedField({ ...valid.audit, taken: 'both' }, 'LEDGER_INVALID_DOC', 'taken');
    });
  });
});
