import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BankAuthError,
  BankUnavailableError,
  MalformedStatementError,
  RateLimitedError,
} from '../../src/bank/errors';
import type { FetchContext } from '../../src/bank/provider';
import { simplefin } from '../../src/bank/providers/simplefin';
import { ACCESS_URL_FILE } from '../../src/bank/providers/simplefin/access';
import { chunks } from '../../src/bank/providers/simplefin/zone';
import { PermanentError, type BooksyncError } from '../../src/shared/errors';
import { SimplefinServer, type SfinAccount } from '../helpers/sim/simplefin-server';
import { captureLogger } from '../helpers/line-logger';

const PASSWORD = 'sfin-Pa55-VERYSECRET';
const USER = 'sfin-user-42';
const CLAIM = 'claimtoken-abcdef123456';
const t = (iso: string) => Math.floor(Date.parse(iso) / 1000);

function accounts(): SfinAccount[] {
  return [
    {
      id: 'ACT-1',
      name: 'Checking',
      currency: 'USD',
      balance: '1234.56',
      'available-balance': '1200.01',
      'balance-date': t('2024-03-31T12:00:00Z'),
      conn_id: 'CON-1',
      transactions: [
        {
          id: 'TRN-1',
          posted: t('2024-01-02T15:00:00Z'),
          amount: '-33.29',
          description: 'COFFEE ROASTERS',
          payee: 'Coffee Roasters',
          transacted_at: t('2024-01-01T18:00:00Z'),
        },
        {
          id: 'TRN-2',
          posted: t('2024-02-15T10:00:00Z'),
          amount: '2500.00',
          description: 'PAYROLL ACME',
        },
        {
          id: 'TRN-3',
          posted: t('2024-03-31T23:59:59Z'),
          amount: '-0.01',
          description: 'ROUNDING',
        },
        {
          id: 'TRN-4',
          posted: t('2024-04-01T00:00:00Z'),
          amount: '-9.99',
          description: 'AFTER WINDOW',
        },
        {
          id: 'TRN-P',
          posted: 0,
          amount: '-12.50',
          description: 'PENDING TAXI',
          pending: true,
          transacted_at: t('2024-03-30T20:00:00Z'),
        },
      ],
    },
    {
      id: 'ACT-2',
      name: 'Savings',
      currency: 'EUR',
      balance: '10000',
      'balance-date': t('2024-03-31T12:00:00Z'),
      conn_id: 'CON-1',
      transactions: [
        {
          id: 'S-1',
          posted: t('2024-03-01T09:00:00Z'),
          amount: '1,000.50',
          description: 'INTEREST',
        },
      ],
    },
  ];
}

describe('simplefin provider against the SimpleFIN simulator', () => {
  let sim: SimplefinServer;
  let stateDir: string;
  let captured: ReturnType<typeof captureLogger>;
  let now: Date;

  beforeEach(async () => {
    now = new Date('2024-04-01T08:00:00Z');
    sim = new SimplefinServer({
      claimTokens: [CLAIM, 'second-token-zyxwvu987'],
      username: USER,
      password: PASSWORD,
      accounts: accounts(),
      now: () => now,
    });
    await sim.start();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-sfin-'));
    captured = captureLogger();
  });

  afterEach(async () => {
    await sim.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  function ctx(over: Partial<FetchContext> = {}): FetchContext {
    return {
      connection: 'sfin-main',
      settings: {},
      secrets: { setup_token: sim.setupToken(CLAIM) },
      window: { from: '2024-01-01', to: '2024-03-31' },
      includePending: false,
      stateDir,
      logger: captured.logger,
      signal: new AbortController().signal,
      requestTimeoutMs: 2000,
      now: () => now,
      ...over,
    };
  }

  function assertNoSecrets(texts: string[]): void {
    const all = [...texts, ...captured.lines].join('\n');
    for (const secret of [
      PASSWORD,
      encodeURIComponent(PASSWORD),
      CLAIM,
      sim.setupToken(CLAIM),
      Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
    ]) {
      assert.ok(!all.includes(secret), `a secret leaked: ${secret}`);
    }
  }

  async function failure(c: FetchContext): Promise<BooksyncError> {
    const err = await simplefin.fetch(c).then(
      () => assert.fail('expected the fetch to fail'),
      (e: unknown) => e as BooksyncError,
    );
    assertNoSecrets([err.message, JSON.stringify(err), String(err.stack)]);
    assert.ok(err.message.includes('sfin-main'), err.message);
    return err;
  }

  /** Claims once so a test can start from a stored access URL. */
  async function claimed(): Promise<void> {
    await simplefin.fetch(ctx());
    sim.requests.length = 0;
  }

  it('given a new setup token, when fetched, then it is claimed once, stored 0600, and the accounts are exact', async () => {
    const result = await simplefin.fetch(ctx());
    const claims = sim.requests.filter((r) => r.path.includes('/claim/'));
    assert.equal(claims.length, 1);
    assert.equal(claims[0].method, 'POST');
    const file = path.join(stateDir, ACCESS_URL_FILE);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), sim.accessUrl);

    const gets = sim.requests.filter((r) => r.path === '/simplefin/accounts');
    assert.equal(gets.length, 2, '91 days need two requests');
    for (const g of gets) {
      assert.equal(
        g.authorization,
        `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      );
      assert.ok(!g.target.includes(PASSWORD));
      assert.equal(g.query.has('pending'), false);
    }
    assert.deepEqual(result.warnings, []);
    const [checking, savings] = result.statements;
    assert.equal(checking.accountId, 'ACT-1');
    assert.equal(checking.currency, 'USD');
    assert.deepEqual(checking.transactions, [
      {
        providerId: 'TRN-1',
        bookingDate: '2024-01-02',
        valueDate: '2024-01-01',
        amount: -3329,
        currency: 'USD',
        pending: false,
        payee: 'Coffee Roasters',
        memo: 'COFFEE ROASTERS',
      },
      {
        providerId: 'TRN-2',
        bookingDate: '2024-02-15',
        amount: 250000,
        currency: 'USD',
        pending: false,
        memo: 'PAYROLL ACME',
      },
      {
        providerId: 'TRN-3',
        bookingDate: '2024-03-31',
        amount: -1,
        currency: 'USD',
        pending: false,
        memo: 'ROUNDING',
      },
    ]);
    assert.deepEqual(checking.balances, [
      { amount: 123456, currency: 'USD', date: '2024-03-31', kind: 'ledger' },
      { amount: 120001, currency: 'USD', date: '2024-03-31', kind: 'available' },
    ]);
    assert.deepEqual(
      savings.transactions.map((x) => [x.providerId, x.amount, x.currency]),
      [['S-1', 100050, 'EUR']],
    );
    assert.deepEqual(savings.balances, [
      { amount: 1000000, currency: 'EUR', date: '2024-03-31', kind: 'ledger' },
    ]);
  });

  it('given a stored access URL, when fetched again, then the token is not claimed again', async () => {
    await claimed();
    await simplefin.fetch(ctx());
    assert.equal(sim.requests.filter((r) => r.path.includes('/claim/')).length, 0);
  });

  it('given a 200-day window, when fetched, then every request spans at most 90 days and together they cover the window', async () => {
    await claimed();
    await simplefin.fetch(ctx({ window: { from: '2023-09-14', to: '2024-03-31' } }));
    const ranges = sim.requests
      .filter((r) => r.path === '/simplefin/accounts')
      .map((r) => [Number(r.query.get('start-date')), Number(r.query.get('end-date'))]);
    assert.equal(ranges.length, 3);
    assert.equal(ranges[0][0], t('2023-09-14T00:00:00Z'));
    assert.equal(ranges[2][1], t('2024-04-01T00:00:00Z'));
    for (let i = 0; i < ranges.length; i++) {
      assert.ok(ranges[i][1] - ranges[i][0] <= 90 * 86400);
      if (i > 0) assert.equal(ranges[i][0], ranges[i - 1][1]);
    }
  });

  it('given a bridge that rejects ranges over 90 days, when a 200-day window is fetched, then every chunk is accepted', async () => {
    await claimed();
    sim.options.rangeLimit = 'reject';
    const result = await simplefin.fetch(ctx({ window: { from: '2023-09-14', to: '2024-03-31' } }));
    assert.equal(result.statements.length, 2);
    assert.deepEqual(result.warnings, []);
  });

  it('given the simulator, when asked for more than 90 days, then it caps the range and says so like the Bridge', async () => {
    const res = await fetch(
      `${sim.origin}/simplefin/accounts?start-date=${t('2023-01-01T00:00:00Z')}&end-date=${t('2024-04-01T00:00:00Z')}`,
      {
        headers: {
          Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
        },
      },
    );
    const body = (await res.json()) as { errlist: Array<{ code: string; msg: string }> };
    assert.deepEqual(body.errlist, [
      { code: 'gen.api', msg: 'Requested date range exceeds limit of 90 days and was capped.' },
    ]);
  });

  it('given a v1 server that capped the range, when fetched, then BankUnavailableError instead of a silent partial result', async () => {
    await claimed();
    sim.options.format = 'v1';
    sim.fail({
      kind: 'errors',
      items: ['Requested date range exceeds limit of 90 days and was capped.'],
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'SIMPLEFIN_RANGE_CAPPED');
  });

  it('given a DST zone, when chunked, then no range exceeds 90 days', () => {
    for (const r of chunks({ from: '2024-01-01', to: '2024-12-31' }, 'Europe/Madrid'))
      assert.ok(r.end - r.start <= 90 * 86400);
  });

  it('given pending transactions and includePending, when fetched, then pending=1 is sent and the line is pending on its transacted day', async () => {
    await claimed();
    const result = await simplefin.fetch(ctx({ includePending: true }));
    assert.ok(sim.requests.every((r) => r.query.get('pending') === '1'));
    const pending = result.statements[0].transactions.filter((x) => x.pending);
    assert.deepEqual(pending, [
      {
        providerId: 'TRN-P',
        bookingDate: '2024-03-30',
        amount: -1250,
        currency: 'USD',
        pending: true,
        memo: 'PENDING TAXI',
      },
    ]);
  });

  it('given a bank zone behind UTC, when a payment posts at 23:30 local, then it is booked on the local day, not the UTC one', async () => {
    const late = accounts();
    // 2024-03-10 23:30 in New York (EDT, UTC-4) is 2024-03-11 03:30 UTC.
    late[0].transactions = [
      { id: 'LATE', posted: t('2024-03-11T03:30:00Z'), amount: '-5.00', description: 'DINNER' },
    ];
    sim.options.accounts.splice(0, 2, ...late);
    const ny = await simplefin.fetch(ctx({ settings: { timezone: 'America/New_York' } }));
    assert.equal(ny.statements[0].transactions[0].bookingDate, '2024-03-10');
    const utc = await simplefin.fetch(ctx({ settings: {} }));
    assert.equal(utc.statements[0].transactions[0].bookingDate, '2024-03-11');
  });

  it('given Europe/Madrid in summer, when a payment posts at 00:30 local, then it is booked on the Madrid day', async () => {
    const summer = accounts();
    summer[0].transactions = [
      { id: 'LATE2', posted: t('2024-06-10T22:30:00Z'), amount: '-5.00', description: 'DINNER' },
    ];
    sim.options.accounts.splice(0, 2, ...summer);
    const result = await simplefin.fetch(
      ctx({
        settings: { timezone: 'Europe/Madrid' },
        window: { from: '2024-06-01', to: '2024-06-30' },
      }),
    );
    assert.equal(result.statements[0].transactions[0].bookingDate, '2024-06-11');
    const first = sim.requests.find((r) => r.path === '/simplefin/accounts')!;
    assert.equal(
      Number(first.query.get('start-date')),
      t('2024-05-31T22:00:00Z'),
      'the window starts at Madrid midnight',
    );
  });

  it('given an invalid timezone setting, when fetched, then a permanent SIMPLEFIN_SETTINGS error', async () => {
    const err = await failure(ctx({ settings: { timezone: 'Mars/Olympus' } }));
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'SIMPLEFIN_SETTINGS');
  });

  it('given an account selection, when fetched, then only those accounts are requested and returned', async () => {
    await claimed();
    const result = await simplefin.fetch(ctx({ settings: { accounts: ['ACT-2'] } }));
    assert.deepEqual(sim.requests[0].query.getAll('account'), ['ACT-2']);
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['ACT-2'],
    );
  });

  it('given a setup token that was already claimed, when fetched, then BankAuthError "setup token already used; create a new one"', async () => {
    await claimed();
    fs.rmSync(path.join(stateDir, ACCESS_URL_FILE));
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'SIMPLEFIN_TOKEN_USED');
    assert.match(err.message, /setup token already used; create a new one/);
  });

  it('given a setup token that is not base64 of a URL, when fetched, then BankAuthError SIMPLEFIN_TOKEN_INVALID', async () => {
    const err = await failure(ctx({ secrets: { setup_token: 'not a token!' } }));
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'SIMPLEFIN_TOKEN_INVALID');
    const err2 = await failure(
      ctx({
        secrets: {
          setup_token: Buffer.from('http://bridge.example.com/claim/x').toString('base64'),
        },
      }),
    );
    assert.match(err2.message, /not https/);
  });

  it('given revoked access (403), when fetched, then BankAuthError; when a new setup token is set, then it is claimed and works', async () => {
    await claimed();
    sim.options.password = 'rotated-password-123';
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'SIMPLEFIN_ACCESS_REVOKED');
    assert.match(err.message, /create a new setup token/);
    const result = await simplefin.fetch(
      ctx({ secrets: { setup_token: sim.setupToken('second-token-zyxwvu987') } }),
    );
    assert.equal(result.statements.length, 2);
    assert.ok(
      fs
        .readFileSync(path.join(stateDir, ACCESS_URL_FILE), 'utf8')
        .includes('rotated-password-123'),
    );
  });

  it('given HTTP 402, when fetched, then a PermanentError SIMPLEFIN_PAYMENT_REQUIRED', async () => {
    await claimed();
    sim.fail({ kind: 'http', status: 402, body: 'Payment Required' });
    const err = await failure(ctx());
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'SIMPLEFIN_PAYMENT_REQUIRED');
    assert.match(err.message, /payment required/);
  });

  it('given errlist gen.auth, when fetched, then BankAuthError SIMPLEFIN_AUTH', async () => {
    await claimed();
    sim.fail({ kind: 'errlist', items: [{ code: 'gen.auth', msg: 'Authentication failed' }] });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'SIMPLEFIN_AUTH');
  });

  it('given errlist con.auth for the imported connection (spelled "message"), when fetched, then BankAuthError naming the fix', async () => {
    await claimed();
    sim.fail({
      kind: 'errlist',
      items: [{ code: 'con.auth', message: 'Bank login needs attention', conn_id: 'CON-1' }],
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'SIMPLEFIN_CONNECTION_AUTH');
    assert.match(err.message, /Bank login needs attention.*reconnect the bank in SimpleFIN Bridge/);
  });

  it('given con.auth for a connection that is not imported, when fetched, then it is only a warning', async () => {
    await claimed();
    sim.fail({
      kind: 'errlist',
      items: [{ code: 'con.auth', msg: 'Other bank needs attention', conn_id: 'CON-9' }],
    });
    const result = await simplefin.fetch(ctx({ settings: { accounts: ['ACT-1'] } }));
    assert.match(
      result.warnings.join('\n'),
      /con.auth \(connection CON-9\): Other bank needs attention/,
    );
  });

  it('given act.failed and a v1 errors string, when fetched, then both are warnings and the data is returned', async () => {
    await claimed();
    sim.fail({
      kind: 'errlist',
      items: [{ code: 'act.failed', msg: 'Could not refresh', account_id: 'ACT-2' }],
    });
    const r1 = await simplefin.fetch(ctx());
    assert.match(r1.warnings[0], /act.failed \(account ACT-2\): Could not refresh/);
    sim.options.format = 'v1';
    sim.fail({ kind: 'errors', items: ['Connection to Example Bank may need attention'] });
    const r2 = await simplefin.fetch(ctx());
    assert.deepEqual(r2.warnings, ['SimpleFIN: Connection to Example Bank may need attention']);
    assert.equal(r2.statements.length, 2);
  });

  it('given errlist gen.api (a general error), when fetched, then BankUnavailableError', async () => {
    await claimed();
    sim.fail({
      kind: 'errlist',
      items: [
        { code: 'gen.api', msg: 'Requested date range exceeds limit of 90 days and was capped.' },
      ],
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'SIMPLEFIN_ERROR');
  });

  it('given the daily quota is spent, when fetched, then RateLimitedError until the next day', async () => {
    await claimed();
    sim.options.dailyQuota = 1;
    const err = await failure(ctx());
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAt.toISOString(), '2024-04-02T00:00:00.000Z');
  });

  it('given a body that is not JSON, when fetched, then MalformedStatementError', async () => {
    await claimed();
    sim.fail({ kind: 'raw', body: '{"accounts": [' });
    const err = await failure(ctx());
    assert.ok(err instanceof MalformedStatementError);
    assert.equal(err.code, 'BANK_BODY_NOT_JSON');
  });

  for (const [name, body, why] of [
    ['no accounts array', '{"errors":[]}', /no 'accounts' array/],
    [
      'an amount that is not a number',
      JSON.stringify({
        accounts: [
          {
            id: 'A',
            currency: 'USD',
            balance: '1',
            transactions: [{ id: 'T', posted: 1709251200, amount: 'ten' }],
          },
        ],
      }),
      /transaction T: cannot read 'ten'/,
    ],
    [
      'a transaction without posted',
      JSON.stringify({
        accounts: [
          { id: 'A', currency: 'USD', balance: '1', transactions: [{ id: 'T', amount: '1.00' }] },
        ],
      }),
      /'posted' is missing/,
    ],
  ] as const) {
    it(`given ${name}, when fetched, then MalformedStatementError SIMPLEFIN_MALFORMED`, async () => {
      await claimed();
      sim.fail({ kind: 'raw', body });
      const err = await failure(ctx());
      assert.ok(err instanceof MalformedStatementError);
      assert.equal(err.code, 'SIMPLEFIN_MALFORMED');
      assert.match(err.message, why);
    });
  }

  it('given a custom (non-ISO) currency, when fetched, then that account is skipped with a warning', async () => {
    await claimed();
    sim.fail({
      kind: 'raw',
      body: JSON.stringify({
        accounts: [
          {
            id: 'PTS',
            name: 'Points',
            currency: 'https://points.example/currency',
            balance: '10',
            transactions: [],
          },
        ],
      }),
    });
    const result = await simplefin.fetch(ctx({ window: { from: '2024-03-01', to: '2024-03-31' } }));
    assert.deepEqual(result.statements, []);
    assert.match(result.warnings[0], /PTS \(Points\) skipped/);
  });

  it('given a hung server, when fetched with a 200 ms timeout, then BankUnavailableError BANK_TIMEOUT', async () => {
    await claimed();
    sim.fail({ kind: 'hang' });
    const err = await failure(ctx({ requestTimeoutMs: 200 }));
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'BANK_TIMEOUT');
    assert.match(err.message, /within 200 ms/, 'the configured timeout is the one that fired');
  });

  it('given HTTP 500, when fetched, then BankUnavailableError', async () => {
    await claimed();
    sim.fail({ kind: 'http', status: 500, body: `internal error for ${USER}:${PASSWORD}` });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.match(err.message, /HTTP 500/);
  });

  it('given a claim that fails at the network, when fetched, then the error and logs never show the claim token', async () => {
    const token = Buffer.from(`http://127.0.0.1:1/simplefin/claim/${CLAIM}`).toString('base64');
    const err = await failure(ctx({ secrets: { setup_token: token } }));
    assert.ok(err instanceof BankUnavailableError);
    assert.match(err.message, /http:\/\/127\.0\.0\.1:1\/…/);
  });

  it('given a stored access file with loose permissions, when fetched, then it is tightened to 0600', async () => {
    await claimed();
    fs.chmodSync(path.join(stateDir, ACCESS_URL_FILE), 0o644);
    await simplefin.fetch(ctx());
    assert.equal(fs.statSync(path.join(stateDir, ACCESS_URL_FILE)).mode & 0o777, 0o600);
  });

  it('given debug logging across claim, success and failures, then no log line or warning holds a credential', async () => {
    const r = await simplefin.fetch(ctx());
    sim.fail({ kind: 'errlist', items: [{ code: 'act.failed', msg: `oops ${PASSWORD}` }] });
    const r2 = await simplefin.fetch(ctx());
    assert.match(r2.warnings[0], /oops \[redacted\]/);
    assertNoSecrets([...r.warnings, ...r2.warnings]);
    assert.ok(captured.lines.some((l) => l.includes('bank.simplefin.claimed')));
  });
});
