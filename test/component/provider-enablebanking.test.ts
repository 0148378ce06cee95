import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BankAuthError,
  BankUnavailableError,
  ConsentExpiredError,
  MalformedStatementError,
  RateLimitedError,
} from '../../src/bank/errors';
import { FetchLoop } from '../../src/bank/fetch-loop';
import type { FetchContext } from '../../src/bank/provider';
import { enablebanking } from '../../src/bank/providers/enablebanking';
import { ProviderRegistry } from '../../src/bank/registry';
import { readStatus } from '../../src/bank/status';
import { PermanentError, type BooksyncError } from '../../src/shared/errors';
import { captureLogger } from '../helpers/line-logger';
import {
  captureLogger as captureLoopLogger,
  fakeClock,
  fakeSpec,
  tempStore,
} from '../helpers/fake-provider';
import {
  EnableBankingServer,
  type EbSimAccount,
  type EbSimOptions,
} from '../helpers/sim/enablebanking-server';

const APP = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const SESSION = '6f1b7c2e-4d3a-4b5c-9e8f-7a6b5c4d3e2f';
const ACC = '07cc67f4-45d6-494b-adac-09b5cbc7e2b5';
const ACC2 = '3a9f0e1d-2c3b-4a5d-8e7f-6b5a4c3d2e1f';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const PEM_BODY = PRIVATE_PEM.split('\n')[5];

function account(): EbSimAccount {
  return {
    uid: ACC,
    iban: 'FI21 1234 5600 0007 85',
    currency: 'EUR',
    bic: 'NDEAFIHH',
    transactions: [
      {
        entry_reference: 'E-100',
        transaction_id: 'volatile-1',
        transaction_amount: { amount: '15.00', currency: 'EUR' },
        credit_debit_indicator: 'DBIT',
        status: 'BOOK',
        booking_date: '2024-03-01',
        value_date: '2024-03-02',
        creditor: { name: 'Coffee Bar' },
        creditor_account: { iban: 'de89 3704 0044 0532 0130 00' },
        remittance_information: ['Invoice', '42'],
      },
      {
        entry_reference: 'E-101',
        transaction_amount: { amount: '1234.56', currency: 'EUR' },
        credit_debit_indicator: 'CRDT',
        status: 'BOOK',
        booking_date: '2024-03-05',
        debtor: { name: 'ACME Ltd' },
        debtor_account: { iban: 'FR1420041010050500013M02606' },
        reference_number: 'RF18539007547034',
      },
      {
        entry_reference: 'E-102',
        transaction_amount: { amount: '108.40', currency: 'EUR' },
        credit_debit_indicator: 'DBIT',
        status: 'BOOK',
        booking_date: '2024-03-06',
        creditor: { name: 'US Supplier Inc' },
        creditor_account: { other: { identification: '123456789', scheme_name: 'BBAN' } },
        bank_transaction_code: { description: 'Card payment' },
        exchange_rate: {
          exchange_rate: '1.0840',
          instructed_amount: { amount: '100.00', currency: 'USD' },
        },
      },
      {
        entry_reference: 'E-103',
        transaction_amount: { amount: '9.99', currency: 'EUR' },
        credit_debit_indicator: 'DBIT',
        status: 'CNCL',
        booking_date: '2024-03-07',
      },
      {
        entry_reference: 'P-1',
        transaction_amount: { amount: '20.00', currency: 'EUR' },
        credit_debit_indicator: 'DBIT',
        status: 'PDNG',
        transaction_date: '2024-03-30',
        creditor: { name: 'Taxi' },
      },
      {
        transaction_amount: { amount: '50.00', currency: 'EUR' },
        credit_debit_indicator: 'DBIT',
        status: 'HOLD',
        transaction_date: '2024-03-31',
        creditor: { name: 'Hotel' },
      },
    ],
    balances: [
      {
        balance_amount: { amount: '2000.00', currency: 'EUR' },
        balance_type: 'XPCD',
        reference_date: '2024-03-31',
      },
      {
        balance_amount: { amount: '-12.50', currency: 'EUR' },
        balance_type: 'CLBD',
        reference_date: '2024-03-31',
      },
    ],
  };
}

describe('enablebanking provider against the Enable Banking simulator', () => {
  let sim: EnableBankingServer;
  let stateDir: string;
  let captured: ReturnType<typeof captureLogger>;
  let now: Date;

  function options(over: Partial<EbSimOptions> = {}): EbSimOptions {
    return {
      applicationId: APP,
      publicKey: keys.publicKey,
      sessions: [
        {
          session_id: SESSION,
          status: 'AUTHORIZED',
          valid_until: '2024-06-29T10:00:00+00:00',
          accounts: [ACC],
        },
      ],
      accounts: [account()],
      now: () => now,
      ...over,
    };
  }

  beforeEach(async () => {
    now = new Date('2024-04-01T09:00:00Z');
    sim = new EnableBankingServer(options());
    await sim.start();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-eb-'));
    captured = captureLogger();
  });

  afterEach(async () => {
    await sim.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function restart(over: Partial<EbSimOptions>): Promise<void> {
    await sim.close();
    sim = new EnableBankingServer(options(over));
    await sim.start();
  }

  function ctx(over: Partial<FetchContext> = {}): FetchContext {
    return {
      connection: 'eb-fi',
      settings: { application_id: APP, session_id: SESSION, base_url: sim.baseUrl },
      secrets: { private_key: PRIVATE_PEM },
      window: { from: '2024-03-01', to: '2024-03-31' },
      includePending: false,
      stateDir,
      logger: captured.logger,
      signal: new AbortController().signal,
      requestTimeoutMs: 2000,
      now: () => now,
      ...over,
    };
  }

  /** The run fails; neither the key nor a signed token shows in the error or the log. */
  async function failure(c: FetchContext = ctx()): Promise<BooksyncError> {
    const err = await enablebanking.fetch(c).then(
      () => assert.fail('expected the fetch to fail'),
      (e: unknown) => e as BooksyncError,
    );
    const all = [err.message, JSON.stringify(err), String(err.stack), ...captured.lines].join('\n');
    assert.ok(!all.includes(PEM_BODY), 'the private key leaked');
    assert.ok(!/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(all), 'a signed token leaked');
    assert.ok(err.message.includes('eb-fi'), err.message);
    return err;
  }

  it('given an authorised session, when fetched, then every page is read and lines, ids, balances and consent validity are exact', async () => {
    const result = await enablebanking.fetch(ctx());
    const pages = sim.requests.filter((r) => r.path.endsWith('/transactions'));
    assert.deepEqual(
      pages.map((r) => r.query.get('continuation_key')),
      [null, 'page-1', 'page-2'],
    );
    for (const r of pages) {
      assert.equal(r.query.get('date_from'), '2024-03-01');
      assert.equal(r.query.get('date_to'), '2024-03-31');
    }
    assert.equal(result.consentExpiresAt, '2024-06-29T10:00:00.000Z');
    assert.deepEqual(result.warnings, [
      `account ${ACC}: 1 transaction(s) with status CNCL left out (no money moved)`,
    ]);
    const [s] = result.statements;
    assert.equal(s.accountId, 'FI2112345600000785');
    assert.equal(s.bankId, 'NDEAFIHH');
    assert.equal(s.currency, 'EUR');
    assert.deepEqual(s.transactions, [
      {
        providerId: 'E-100',
        bookingDate: '2024-03-01',
        valueDate: '2024-03-02',
        amount: -1500,
        currency: 'EUR',
        pending: false,
        payee: 'Coffee Bar',
        counterpartyName: 'Coffee Bar',
        counterpartyIban: 'DE89370400440532013000',
        memo: 'Invoice 42',
      },
      {
        providerId: 'E-101',
        bookingDate: '2024-03-05',
        amount: 123456,
        currency: 'EUR',
        pending: false,
        payee: 'ACME Ltd',
        counterpartyName: 'ACME Ltd',
        counterpartyIban: 'FR1420041010050500013M02606',
        reference: 'RF18539007547034',
      },
      {
        providerId: 'E-102',
        bookingDate: '2024-03-06',
        amount: -10840,
        currency: 'EUR',
        pending: false,
        payee: 'US Supplier Inc',
        counterpartyName: 'US Supplier Inc',
        counterpartyAccount: '123456789',
        additionalInfo: 'Card payment; instructed 100.00 USD at 1.0840',
      },
    ]);
    assert.deepEqual(s.balances, [
      { amount: -1250, currency: 'EUR', date: '2024-03-31', kind: 'ledger' },
      { amount: 200000, currency: 'EUR', date: '2024-03-31', kind: 'available' },
    ]);
  });

  it('given includePending, when fetched, then PDNG and HOLD items come back pending, dated by transaction_date', async () => {
    const result = await enablebanking.fetch(ctx({ includePending: true }));
    const pending = result.statements[0].transactions.filter((t) => t.pending);
    assert.deepEqual(pending, [
      {
        providerId: 'P-1',
        bookingDate: '2024-03-30',
        amount: -2000,
        currency: 'EUR',
        pending: true,
        payee: 'Taxi',
        counterpartyName: 'Taxi',
      },
      {
        bookingDate: '2024-03-31',
        amount: -5000,
        currency: 'EUR',
        pending: true,
        payee: 'Hotel',
        counterpartyName: 'Hotel',
      },
    ]);
  });

  it('given a key that is not the application key, when fetched, then BankAuthError ENABLEBANKING_APP_REFUSED (the simulator checks the signature)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const err = await failure(ctx({ secrets: { private_key: pem } }));
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'ENABLEBANKING_APP_REFUSED');
    assert.match(err.message, /bad signature/);
  });

  it('given a private_key that is not PEM, or not RSA, when fetched, then BankAuthError ENABLEBANKING_KEY_INVALID before any call', async () => {
    const garbage = await failure(ctx({ secrets: { private_key: 'not a key' } }));
    assert.equal(garbage.code, 'ENABLEBANKING_KEY_INVALID');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const wrongKind = await failure(ctx({ secrets: { private_key: ecPem } }));
    assert.equal(wrongKind.code, 'ENABLEBANKING_KEY_INVALID');
    assert.match(wrongKind.message, /ec key/);
    assert.equal(sim.requests.length, 0);
  });

  it('given an expired or revoked session, when fetched, then ConsentExpiredError before any account call', async () => {
    for (const status of ['EXPIRED', 'REVOKED', 'CLOSED']) {
      await restart({
        sessions: [
          { session_id: SESSION, status, valid_until: '2024-06-29T10:00:00Z', accounts: [ACC] },
        ],
      });
      const err = await failure();
      assert.ok(err instanceof ConsentExpiredError, status);
      assert.equal(err.code, 'ENABLEBANKING_SESSION_EXPIRED');
      assert.equal(sim.count(/^\/accounts\//), 0);
    }
  });

  it('given access.valid_until in the past, when fetched, then ConsentExpiredError naming the date', async () => {
    now = new Date('2024-07-01T00:00:00Z');
    const err = await failure();
    assert.ok(err instanceof ConsentExpiredError);
    assert.match(err.message, /2024-06-29T10:00:00\.000Z/);
    assert.equal(sim.count(/^\/accounts\//), 0);
  });

  it('given an unfinished authorisation, when fetched, then BankAuthError asking to finish it', async () => {
    await restart({
      sessions: [
        {
          session_id: SESSION,
          status: 'PENDING_AUTHORIZATION',
          valid_until: '2024-06-29T10:00:00Z',
          accounts: [],
        },
      ],
    });
    const err = await failure();
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'ENABLEBANKING_SESSION_PENDING');
    assert.match(err.message, /finish the authorisation/);
  });

  it('given the API says EXPIRED_SESSION on a data call, when fetched, then ConsentExpiredError', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 401,
      error: 'EXPIRED_SESSION',
      message: 'Session is expired',
    });
    const err = await failure();
    assert.ok(err instanceof ConsentExpiredError);
    assert.match(err.message, /EXPIRED_SESSION/);
  });

  it('given the bank rate limit with Retry-After, when fetched, then RateLimitedError at that time; without it, at the next UTC day', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 429,
      error: 'ASPSP_RATE_LIMIT_EXCEEDED',
      message: 'ASPSP Rate limit exceeded',
      headers: { 'Retry-After': '120' },
    });
    const withHeader = await failure();
    assert.ok(withHeader instanceof RateLimitedError);
    assert.equal(withHeader.retryAt.toISOString(), '2024-04-01T09:02:00.000Z');
    sim.fail('balances', { kind: 'http', status: 429, error: 'ASPSP_RATE_LIMIT_EXCEEDED' });
    const withoutHeader = await failure();
    assert.ok(withoutHeader instanceof RateLimitedError);
    assert.equal(withoutHeader.retryAt.toISOString(), '2024-04-02T00:00:00.000Z');
  });

  it('given the bank behind Enable Banking fails (ASPSP_TIMEOUT) or a 503, when fetched, then BankUnavailableError', async () => {
    sim.fail('details', { kind: 'http', status: 408, error: 'ASPSP_TIMEOUT' });
    const timeout = await failure();
    assert.ok(timeout instanceof BankUnavailableError);
    assert.equal(timeout.code, 'ENABLEBANKING_UNAVAILABLE');
    sim.fail('session', { kind: 'http', status: 503, error: 'SERVICE_UNAVAILABLE' });
    assert.ok((await failure()) instanceof BankUnavailableError);
  });

  it('given an unknown session id, when fetched, then a permanent ENABLEBANKING_NOT_FOUND', async () => {
    const err = await failure(
      ctx({
        settings: { application_id: APP, session_id: 'no-such-session', base_url: sim.baseUrl },
      }),
    );
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'ENABLEBANKING_NOT_FOUND');
  });

  it('given a malformed body, a missing transactions array or a looping continuation key, when fetched, then MalformedStatementError', async () => {
    sim.fail('session', { kind: 'raw', body: '{"status": "AUTHORIZED", ' });
    assert.ok((await failure()) instanceof MalformedStatementError);
    sim.fail('transactions', { kind: 'raw', body: '{"items": []}' });
    const shape = await failure();
    assert.equal(shape.code, 'ENABLEBANKING_MALFORMED');
    assert.match(shape.message, /no 'transactions' array/);
    sim.fail(
      'transactions',
      {
        kind: 'raw',
        body: JSON.stringify({ transactions: [], continuation_key: 'again' }),
      },
      {
        kind: 'raw',
        body: JSON.stringify({ transactions: [], continuation_key: 'again' }),
      },
    );
    const loop = await failure();
    assert.match(loop.message, /continuation_key repeats/);
  });

  it('given a booked item with an unknown indicator or no date, when fetched, then MalformedStatementError naming the transaction', async () => {
    const bad = account();
    bad.transactions[0].credit_debit_indicator = 'XXXX' as 'DBIT';
    await restart({ accounts: [bad] });
    const indicator = await failure();
    assert.match(indicator.message, /E-100: credit_debit_indicator "XXXX"/);
    const undated = account();
    delete undated.transactions[1].booking_date;
    await restart({ accounts: [undated] });
    const noDate = await failure();
    assert.match(noDate.message, /E-101: no booking_date/);
  });

  it('given a hung server, when fetched with a 200 ms timeout, then BankUnavailableError; a slow answer within the timeout succeeds', async () => {
    sim.fail('balances', { kind: 'hang' });
    const err = await failure(ctx({ requestTimeoutMs: 200 }));
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'BANK_TIMEOUT');
    sim.fail('details', { kind: 'slow', ms: 50 });
    const ok = await enablebanking.fetch(ctx({ requestTimeoutMs: 2000 }));
    assert.equal(ok.statements[0].transactions.length, 3);
  });

  it('given two accounts and an accounts setting, when fetched, then only the selected one is read', async () => {
    const second = { ...account(), uid: ACC2, iban: 'FI49 5000 9420 0287 30', transactions: [] };
    await restart({
      sessions: [
        {
          session_id: SESSION,
          status: 'AUTHORIZED',
          valid_until: '2024-06-29T10:00:00Z',
          accounts: [ACC, ACC2],
        },
      ],
      accounts: [account(), second],
    });
    const result = await enablebanking.fetch(
      ctx({
        settings: {
          application_id: APP,
          session_id: SESSION,
          base_url: sim.baseUrl,
          accounts: [ACC2],
        },
      }),
    );
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['FI4950009420028730'],
    );
    assert.equal(sim.count(new RegExp(`^/accounts/${ACC}/`)), 0);
  });

  it('given the fetch loop runs the provider, then lines are stored, the consent validity is on the status, and the 15-day warning comes', async () => {
    const log = captureLoopLogger();
    const clock = fakeClock('2024-04-01T09:00:00Z');
    now = clock.now();
    const books = await tempStore(log.logger, clock.now);
    try {
      const loop = new FetchLoop({
        store: books.store,
        registry: new ProviderRegistry([enablebanking]),
        logger: log.logger,
        now: clock.now,
      });
      const spec = fakeSpec(stateDir, {
        name: 'eb-fi',
        provider: 'enablebanking',
        settings: { application_id: APP, session_id: SESSION, base_url: sim.baseUrl },
        secrets: { private_key: PRIVATE_PEM },
        historyDays: 40,
        requestTimeoutMs: 2000,
      });
      const first = await loop.run(spec);
      assert.equal(first.status, 'connected');
      assert.equal(first.counts?.new, 3);
      assert.equal(
        (await readStatus(books.store, 'eb-fi'))?.consent_expires_at,
        '2024-06-29T10:00:00.000Z',
      );
      clock.set('2024-06-14T10:00:00Z');
      now = clock.now();
      assert.equal((await loop.run(spec)).status, 'consent_expiring');
      assert.deepEqual(
        log.events('bank.consent_expiring').map((e) => e.threshold),
        [15],
      );
      const logged = JSON.stringify(log.entries);
      assert.ok(!logged.includes(PEM_BODY), 'the private key leaked into the log');
    } finally {
      await books.close();
    }
  });
});
