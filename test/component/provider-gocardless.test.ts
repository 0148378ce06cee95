import { strict as assert } from 'node:assert';
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
import type { FetchContext } from '../../src/bank/provider';
import { gocardless } from '../../src/bank/providers/gocardless';
import { TOKEN_FILE } from '../../src/bank/providers/gocardless/client';
import { PermanentError, type BooksyncError } from '../../src/shared/errors';
import {
  GoCardlessServer,
  type GcSimAccount,
  type GcSimOptions,
} from '../helpers/sim/gocardless-server';
import { captureLogger } from '../helpers/line-logger';

const SECRET_ID = 'sid-0f1e2d3c4b5a';
const SECRET_KEY = 'skey-VERY-SECRET-9a8b7c6d5e4f3a2b1c';
const REQ = '8126e9fb-93c9-4228-937c-68f0383c2df7';
const AGR = '3ae2f1a0-5b6c-4d7e-8f90-a1b2c3d4e5f6';
const ACC = '7e944232-bda9-40bc-b784-660c7ab5fe78';
const ACC2 = '99a0bfe2-0bef-46df-bff2-e9ae0c6c5838';

function account(): GcSimAccount {
  return {
    id: ACC,
    iban: 'GB33 BUKB 2020 1555 5555 55',
    institution_id: 'SANDBOXFINANCE_SFIN0000',
    booked: [
      {
        transactionId: 'T-100',
        internalTransactionId: 'int-100',
        bookingDate: '2024-03-01',
        valueDate: '2024-03-02',
        transactionAmount: { amount: '-15.00', currency: 'EUR' },
        creditorName: 'Coffee Bar',
        creditorAccount: { iban: 'DE89370400440532013000' },
        remittanceInformationUnstructured: 'Invoice 42',
        endToEndId: 'NOTPROVIDED',
      },
      {
        internalTransactionId: 'int-101',
        bookingDate: '2024-03-05',
        transactionAmount: { amount: '1234.56', currency: 'EUR' },
        debtorName: 'ACME Ltd',
        debtorAccount: { iban: 'fr14 2004 1010 0505 0001 3m02 606' },
        remittanceInformationUnstructuredArray: ['Salary', 'March'],
        remittanceInformationStructured: 'RF18539007547034',
      },
      {
        transactionId: '9998',
        internalTransactionId: 'int-102',
        bookingDate: '2024-03-06',
        transactionAmount: { amount: '-1.10', currency: 'EUR' },
      },
      {
        transactionId: '9998',
        internalTransactionId: 'int-103',
        bookingDate: '2024-03-06',
        transactionAmount: { amount: '-1.10', currency: 'EUR' },
      },
      {
        transactionId: ' ',
        bookingDate: '2024-03-07',
        transactionAmount: { amount: '-0.50', currency: 'EUR' },
        remittanceInformationUnstructured: 'FEE',
      },
    ],
    pending: [
      {
        transactionId: 'P-1',
        valueDate: '2024-03-30',
        transactionAmount: { amount: '-20.00', currency: 'EUR' },
        creditorName: 'Taxi',
      },
    ],
    balances: [
      {
        balanceAmount: { amount: '2000.00', currency: 'EUR' },
        balanceType: 'expected',
        referenceDate: '2024-03-31',
      },
      {
        balanceAmount: { amount: '1950.25', currency: 'EUR' },
        balanceType: 'interimBooked',
        referenceDate: '2024-03-31',
      },
    ],
  };
}

describe('gocardless provider against the GoCardless simulator', () => {
  let sim: GoCardlessServer;
  let stateDir: string;
  let captured: ReturnType<typeof captureLogger>;
  let now: Date;

  function options(over: Partial<GcSimOptions> = {}): GcSimOptions {
    return {
      secretId: SECRET_ID,
      secretKey: SECRET_KEY,
      requisitions: [
        {
          id: REQ,
          status: 'LN',
          agreement: AGR,
          accounts: [ACC],
          created: '2024-02-01T10:00:00Z',
          link: 'https://ob.gocardless.com/psd2/start/x',
        },
      ],
      agreements: [
        {
          id: AGR,
          created: '2024-02-01T10:00:00Z',
          accepted: '2024-02-01T10:05:00Z',
          max_historical_days: 90,
          access_valid_for_days: 90,
        },
      ],
      accounts: [account()],
      now: () => now,
      ...over,
    };
  }

  beforeEach(async () => {
    now = new Date('2024-04-01T09:00:00Z');
    sim = new GoCardlessServer(options());
    await sim.start();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-gc-'));
    captured = captureLogger();
  });

  afterEach(async () => {
    await sim.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function restart(over: Partial<GcSimOptions>): Promise<void> {
    await sim.close();
    sim = new GoCardlessServer(options(over));
    await sim.start();
  }

  function ctx(over: Partial<FetchContext> = {}): FetchContext {
    return {
      connection: 'gc-eu',
      settings: { requisition_id: REQ, base_url: sim.baseUrl },
      secrets: { secret_id: SECRET_ID, secret_key: SECRET_KEY },
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

  function tokensFile(): Record<string, string> {
    return JSON.parse(fs.readFileSync(path.join(stateDir, TOKEN_FILE), 'utf8')) as Record<
      string,
      string
    >;
  }

  async function failure(c: FetchContext): Promise<BooksyncError> {
    const err = await gocardless.fetch(c).then(
      () => assert.fail('expected the fetch to fail'),
      (e: unknown) => e as BooksyncError,
    );
    const all = [err.message, JSON.stringify(err), String(err.stack), ...captured.lines].join('\n');
    assert.ok(!all.includes(SECRET_KEY), 'secret_key leaked');
    assert.ok(!/acc-[0-9a-f-]{36}|ref-[0-9a-f-]{36}/.test(all), 'a token leaked');
    assert.ok(err.message.includes('gc-eu'), err.message);
    return err;
  }

  it('given a linked requisition, when fetched, then tokens are stored 0600 and lines, ids, balances and consent expiry are exact', async () => {
    const result = await gocardless.fetch(ctx());
    assert.equal(sim.count(/^\/token\/new\/$/), 1);
    assert.equal(fs.statSync(path.join(stateDir, TOKEN_FILE)).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(path.join(stateDir, TOKEN_FILE), 'utf8').includes(SECRET_KEY));
    assert.equal(tokensFile().access_expires_at, '2024-04-02T09:00:00.000Z');
    const tx = sim.requests.find((r) => r.path.endsWith('/transactions/'))!;
    assert.equal(tx.query.get('date_from'), '2024-03-01');
    assert.equal(tx.query.get('date_to'), '2024-03-31');

    assert.equal(result.consentExpiresAt, '2024-05-01T10:05:00.000Z');
    assert.deepEqual(result.warnings, []);
    const [s] = result.statements;
    assert.equal(s.accountId, 'GB33BUKB20201555555555');
    assert.equal(s.bankId, 'SANDBOXFINANCE_SFIN0000');
    assert.equal(s.currency, 'EUR');
    assert.deepEqual(s.transactions, [
      {
        providerId: 'T-100',
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
        providerId: 'int-101',
        bookingDate: '2024-03-05',
        amount: 123456,
        currency: 'EUR',
        pending: false,
        payee: 'ACME Ltd',
        counterpartyName: 'ACME Ltd',
        counterpartyIban: 'FR1420041010050500013M02606',
        memo: 'Salary March',
        reference: 'RF18539007547034',
      },
      {
        providerId: 'int-102',
        bookingDate: '2024-03-06',
        amount: -110,
        currency: 'EUR',
        pending: false,
      },
      {
        providerId: 'int-103',
        bookingDate: '2024-03-06',
        amount: -110,
        currency: 'EUR',
        pending: false,
      },
      { bookingDate: '2024-03-07', amount: -50, currency: 'EUR', pending: false, memo: 'FEE' },
    ]);
    assert.deepEqual(s.balances, [
      { amount: 195025, currency: 'EUR', date: '2024-03-31', kind: 'ledger' },
      { amount: 200000, currency: 'EUR', date: '2024-03-31', kind: 'available' },
    ]);
  });

  it('given includePending, when fetched, then pending lines come back flagged and dated by valueDate', async () => {
    const result = await gocardless.fetch(ctx({ includePending: true }));
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
    ]);
  });

  it('given stored tokens, when fetched again the same day, then no new token is requested', async () => {
    await gocardless.fetch(ctx());
    await gocardless.fetch(ctx());
    assert.equal(sim.count(/^\/token\/new\/$/), 1);
    assert.equal(sim.count(/^\/token\/refresh\/$/), 0);
  });

  it('given an expired access token, when fetched, then it is refreshed with the refresh token and stored', async () => {
    await gocardless.fetch(ctx());
    const before = tokensFile();
    now = new Date('2024-04-02T10:00:00Z');
    await gocardless.fetch(ctx());
    assert.equal(sim.count(/^\/token\/refresh\/$/), 1);
    assert.equal(sim.count(/^\/token\/new\/$/), 1);
    const after = tokensFile();
    assert.notEqual(after.access, before.access);
    assert.equal(after.refresh, before.refresh);
  });

  it('given a refreshed access token, when the run then fails, then the new token is already stored', async () => {
    await gocardless.fetch(ctx());
    const before = tokensFile();
    now = new Date('2024-04-02T10:00:00Z');
    sim.fail('transactions', {
      kind: 'http',
      status: 500,
      body: { summary: 'Internal error', detail: 'Try later', status_code: 500 },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    const after = tokensFile();
    assert.notEqual(after.access, before.access);
    assert.equal(after.access_expires_at, '2024-04-03T10:00:00.000Z');
  });

  it('given an expired refresh token, when fetched, then new tokens are obtained with the secrets', async () => {
    await gocardless.fetch(ctx());
    // The refresh token lives 30 days (to 2024-05-01T09:00Z); the agreement lasts to 10:05 that day.
    now = new Date('2024-05-01T09:30:00Z');
    await gocardless.fetch(ctx({ window: { from: '2024-04-01', to: '2024-04-30' } }));
    assert.equal(sim.count(/^\/token\/refresh\/$/), 0);
    assert.equal(sim.count(/^\/token\/new\/$/), 2);
  });

  it('given the server revoked the access token, when fetched, then a 401 refreshes once and the run succeeds', async () => {
    await gocardless.fetch(ctx());
    sim.revokeAccessTokens();
    const result = await gocardless.fetch(ctx());
    assert.equal(result.statements.length, 1);
    assert.equal(sim.count(/^\/token\/refresh\/$/), 1);
  });

  it('given the server refuses every token, when fetched, then BankAuthError after exactly one refresh', async () => {
    sim.fail('requisition', {
      kind: 'http',
      status: 401,
      body: { summary: 'Invalid token', detail: 'Token is invalid or expired', status_code: 401 },
    });
    sim.fail('requisition', {
      kind: 'http',
      status: 401,
      body: { summary: 'Invalid token', detail: 'Token is invalid or expired', status_code: 401 },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'GOCARDLESS_TOKEN_REFUSED');
    assert.equal(sim.count(/^\/requisitions\//), 2);
  });

  it('given wrong secrets, when fetched, then BankAuthError GOCARDLESS_SECRETS_INVALID without the secret', async () => {
    const err = await failure(
      ctx({ secrets: { secret_id: SECRET_ID, secret_key: `${SECRET_KEY}-wrong` } }),
    );
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'GOCARDLESS_SECRETS_INVALID');
    assert.ok(!err.message.includes(`${SECRET_KEY}-wrong`));
  });

  it('given an expired requisition (EX), when fetched, then ConsentExpiredError', async () => {
    await restart({ requisitions: [{ ...options().requisitions[0], status: 'EX' }] });
    const err = await failure(ctx({ settings: { requisition_id: REQ, base_url: sim.baseUrl } }));
    assert.ok(err instanceof ConsentExpiredError);
    assert.equal(err.code, 'GOCARDLESS_REQUISITION_EXPIRED');
  });

  it('given a rejected requisition in the old object form, when fetched, then BankAuthError with its meaning', async () => {
    await restart({
      requisitions: [
        {
          ...options().requisitions[0],
          status: {
            short: 'RJ',
            long: 'REJECTED',
            description:
              'Either SSN verification has failed or end-user has entered incorrect credentials',
          },
        },
      ],
    });
    const err = await failure(ctx({ settings: { requisition_id: REQ, base_url: sim.baseUrl } }));
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'GOCARDLESS_REQUISITION_FAILED');
    assert.match(err.message, /RJ: rejected/);
  });

  it('given an unfinished requisition (CR), when fetched, then BankAuthError asking to finish the bank login', async () => {
    await restart({ requisitions: [{ ...options().requisitions[0], status: 'CR' }] });
    const err = await failure(ctx({ settings: { requisition_id: REQ, base_url: sim.baseUrl } }));
    assert.equal(err.code, 'GOCARDLESS_REQUISITION_PENDING');
    assert.match(err.message, /finish the bank login/);
  });

  it('given the agreement expired by the clock, when fetched, then ConsentExpiredError before any account call', async () => {
    now = new Date('2024-05-02T00:00:00Z');
    const err = await failure(ctx());
    assert.ok(err instanceof ConsentExpiredError);
    assert.equal(err.code, 'GOCARDLESS_AGREEMENT_EXPIRED');
    assert.equal(sim.count(/^\/accounts\//), 0);
  });

  it('given the API reports the EUA expired (401), when fetched, then ConsentExpiredError without a token refresh', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 401,
      body: {
        summary: `End User Agreement (EUA) ${AGR} has expired`,
        detail: 'EUA was valid for 90 days and it expired.',
        status_code: 401,
      },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof ConsentExpiredError);
    assert.equal(sim.count(/^\/token\/refresh\/$/), 0);
  });

  it('given an unknown requisition id, when fetched, then a permanent GOCARDLESS_NOT_FOUND', async () => {
    const err = await failure(
      ctx({
        settings: { requisition_id: '00000000-0000-0000-0000-000000000000', base_url: sim.baseUrl },
      }),
    );
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'GOCARDLESS_NOT_FOUND');
  });

  it('given 4 fetches on one day, when a fifth is made, then RateLimitedError at the reset time from the headers', async () => {
    for (let i = 0; i < 4; i++) await gocardless.fetch(ctx());
    const err = await failure(ctx());
    assert.ok(err instanceof RateLimitedError);
    // 09:00 UTC → the bank's day resets at 00:00 UTC: 15 h later.
    assert.equal(err.retryAt.toISOString(), '2024-04-02T00:00:00.000Z');
    assert.match(err.message, /4\/day/);
    now = new Date('2024-04-02T00:00:01Z');
    await gocardless.fetch(ctx());
  });

  it('given a 429 without rate-limit headers, when fetched, then the delay is read from the detail text', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 429,
      body: {
        summary: 'Rate limit exceeded',
        detail: 'The rate limit for this resource is 4/day. Please try again in 85092 seconds',
        status_code: 429,
      },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAt.getTime(), now.getTime() + 85092 * 1000);
  });

  for (const [spelling, headers] of [
    [
      'documented HTTP_X_…',
      {
        HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING: '0',
        HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET: '7200',
      },
    ],
    [
      'sent x-ratelimit-…',
      { 'X-RateLimit-Account-Success-Remaining': '0', 'X-RateLimit-Account-Success-Reset': '7200' },
    ],
  ] as const) {
    it(`given a spent account limit in ${spelling} headers, when fetched, then retryAt is now + the account reset`, async () => {
      sim.fail('transactions', {
        kind: 'http',
        status: 429,
        headers,
        body: {
          summary: 'Rate limit exceeded',
          detail: 'Please try again later',
          status_code: 429,
        },
      });
      const err = await failure(ctx());
      assert.ok(err instanceof RateLimitedError);
      assert.equal(err.retryAt.toISOString(), '2024-04-01T11:00:00.000Z');
    });
  }

  it('given only the general limit in X-RateLimit-Reset, when fetched, then retryAt is now + that reset', async () => {
    sim.fail('requisition', {
      kind: 'http',
      status: 429,
      headers: { 'X-RateLimit-Reset': '30' },
      body: { summary: 'Rate limit exceeded', detail: 'Too many requests', status_code: 429 },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAt.toISOString(), '2024-04-01T09:00:30.000Z');
  });

  it('given only the balances scope is rate limited, when fetched, then the lines are kept and the balance is a warning', async () => {
    sim.fail('balances', {
      kind: 'http',
      status: 429,
      body: {
        summary: 'Rate limit exceeded',
        detail: 'The rate limit for this resource is 4/day. Please try again in 3600 seconds',
        status_code: 429,
      },
    });
    const result = await gocardless.fetch(ctx());
    assert.equal(result.statements[0].transactions.length, 5);
    assert.deepEqual(result.statements[0].balances, []);
    assert.equal(result.statements[0].currency, 'EUR');
    assert.match(
      result.warnings[0],
      /balances not read, rate limited until 2024-04-01T10:00:00.000Z/,
    );
  });

  it('given a window older than the agreement allows, when fetched, then date_from is clamped with a warning', async () => {
    const result = await gocardless.fetch(
      ctx({ window: { from: '2023-06-01', to: '2024-03-31' } }),
    );
    const tx = sim.requests.find((r) => r.path.endsWith('/transactions/'))!;
    assert.equal(tx.query.get('date_from'), '2024-01-03');
    assert.match(result.warnings[0], /only 90 days of history: fetching from 2024-01-03/);
  });

  it('given a 400 keyed by field, when fetched, then a permanent GOCARDLESS_BAD_REQUEST quoting it', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 400,
      body: {
        date_to: { summary: 'Invalid date', detail: 'date_to must be after date_from' },
        status_code: 400,
      },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'GOCARDLESS_BAD_REQUEST');
    assert.match(err.message, /date_to: Invalid date: date_to must be after date_from/);
  });

  it('given a suspended account (409), when fetched, then BankAuthError GOCARDLESS_ACCOUNT_SUSPENDED', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 409,
      body: {
        summary: 'Account suspended',
        detail: 'Too many consecutive failed requests',
        status_code: 409,
      },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'GOCARDLESS_ACCOUNT_SUSPENDED');
  });

  it('given an inactive account (401 AccountInactiveError), when fetched, then BankAuthError without a refresh', async () => {
    sim.fail('balances', {
      kind: 'http',
      status: 401,
      body: {
        summary: 'Account inactive',
        detail: 'Account has been deactivated or it no longer exists',
        type: 'AccountInactiveError',
        status_code: 401,
      },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'GOCARDLESS_ACCOUNT_INACTIVE');
    assert.equal(sim.count(/^\/token\/refresh\/$/), 0);
  });

  it('given HTTP 503, when fetched, then BankUnavailableError', async () => {
    sim.fail('transactions', {
      kind: 'http',
      status: 503,
      body: { summary: 'Service unavailable', detail: 'Institution is down', status_code: 503 },
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.match(err.message, /Institution is down/);
  });

  it('given a malformed body, when fetched, then MalformedStatementError', async () => {
    sim.fail('transactions', { kind: 'raw', body: '<html>oops' });
    const err = await failure(ctx());
    assert.ok(err instanceof MalformedStatementError);
  });

  it('given transactions without booked, when fetched, then MalformedStatementError GOCARDLESS_MALFORMED', async () => {
    sim.fail('transactions', {
      kind: 'raw',
      body: JSON.stringify({ transactions: { pending: [] } }),
    });
    const err = await failure(ctx());
    assert.equal(err.code, 'GOCARDLESS_MALFORMED');
    assert.match(err.message, /booked/);
  });

  it('given a booked line with a float-looking amount and no date, when fetched, then MalformedStatementError', async () => {
    sim.fail('transactions', {
      kind: 'raw',
      body: JSON.stringify({
        transactions: {
          booked: [{ transactionId: 'X', transactionAmount: { amount: '1.00', currency: 'EUR' } }],
          pending: [],
        },
      }),
    });
    const err = await failure(ctx());
    assert.match(err.message, /no bookingDate or valueDate/);
  });

  it('given a hung server, when fetched with a 200 ms timeout, then BankUnavailableError BANK_TIMEOUT', async () => {
    sim.fail('requisition', { kind: 'hang' });
    const err = await failure(ctx({ requestTimeoutMs: 200 }));
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'BANK_TIMEOUT');
    assert.match(err.message, /within 200 ms/, 'the configured timeout is the one that fired');
  });

  it('given two linked accounts and an accounts setting, when fetched, then only the selected one is read', async () => {
    const second = { ...account(), id: ACC2, iban: undefined };
    await restart({
      requisitions: [{ ...options().requisitions[0], accounts: [ACC, ACC2] }],
      accounts: [account(), second],
    });
    const result = await gocardless.fetch(
      ctx({ settings: { requisition_id: REQ, base_url: sim.baseUrl, accounts: [ACC2] } }),
    );
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      [ACC2],
    );
    assert.equal(sim.count(new RegExp(`/accounts/${ACC}/`)), 0);
  });

  it('given new secrets in the config, when fetched, then stored tokens of the old secrets are not reused', async () => {
    await gocardless.fetch(ctx());
    fs.writeFileSync(
      path.join(stateDir, TOKEN_FILE),
      JSON.stringify({ ...tokensFile(), secret: 'other' }),
    );
    await gocardless.fetch(ctx());
    assert.equal(sim.count(/^\/token\/new\/$/), 2);
  });
});
