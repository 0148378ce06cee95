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
import { BankRequestRejectedError } from '../../src/bank/http';
import type { FetchContext } from '../../src/bank/provider';
import { ofxDirect } from '../../src/bank/providers/ofx-direct';
import { PermanentError, type BooksyncError } from '../../src/shared/errors';
import { OfxServer, type OfxSimAccount } from '../helpers/sim/ofx-server';
import { captureLogger } from '../helpers/line-logger';

const PASSWORD = 'p&ss<w0rd-S3CRET';
const USERNAME = 'jdoe';

const checking: OfxSimAccount = {
  bankId: '123456789',
  acctId: '111111',
  type: 'CHECKING',
  currency: 'USD',
  ledgerBalance: '1234.56',
  availableBalance: '1200.00',
  transactions: [
    { fitid: 'F1', posted: '2024-03-01', amount: '-12.34', name: 'COFFEE SHOP', memo: 'POS 1234' },
    {
      fitid: 'F2',
      posted: '2024-03-02',
      amount: '1500.00',
      name: 'ACME PAYROLL',
      type: 'DIRECTDEP',
      available: '2024-03-03',
    },
    {
      fitid: 'F3',
      posted: '2024-03-05',
      amount: '-200,00',
      name: 'CHECK 1001',
      checkNum: '1001',
      type: 'CHECK',
    },
    { fitid: 'F4', posted: '2024-03-31', amount: '-0.99', name: 'LAST DAY FEE', type: 'FEE' },
    {
      fitid: 'F5',
      posted: '2024-03-06',
      amount: '-13.34',
      name: 'COFFEE SHOP',
      correctFitid: 'F1',
      correctAction: 'REPLACE',
    },
    { fitid: 'OUT', posted: '2024-04-02', amount: '-1.00', name: 'AFTER WINDOW' },
  ],
};

const card: OfxSimAccount = {
  acctId: '4111222233334444',
  type: 'CREDITCARD',
  currency: 'USD',
  ledgerBalance: '-523.10',
  transactions: [
    { fitid: 'C1', posted: '2024-03-10', amount: '-45.00', name: 'BOOKSTORE' },
    { fitid: 'C2', posted: '2024-03-11', amount: '100.00', name: 'PAYMENT THANK YOU' },
  ],
  pending: [{ date: '2024-03-30', amount: '-7.50', name: 'TAXI' }],
};

describe('ofx-direct provider against the OFX simulator', () => {
  let sim: OfxServer;
  let stateDir: string;
  let captured: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    sim = new OfxServer({
      username: USERNAME,
      password: PASSWORD,
      org: 'ACME',
      fid: '1001',
      accounts: [checking, card],
      now: () => new Date('2024-04-01T10:00:00Z'),
    });
    await sim.start();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-ofx-'));
    captured = captureLogger();
  });

  afterEach(async () => {
    await sim.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  function ctx(
    settings: Record<string, unknown> = {},
    over: Partial<FetchContext> = {},
  ): FetchContext {
    return {
      connection: 'acme-checking',
      settings: {
        url: sim.url,
        org: 'ACME',
        fid: '1001',
        bank_id: '123456789',
        account_id: '111111',
        account_type: 'CHECKING',
        ...settings,
      },
      secrets: { username: USERNAME, password: PASSWORD },
      window: { from: '2024-03-01', to: '2024-03-31' },
      includePending: false,
      stateDir,
      logger: captured.logger,
      signal: new AbortController().signal,
      requestTimeoutMs: 2000,
      now: () => new Date('2024-04-01T10:00:00Z'),
      ...over,
    };
  }

  /** Runs the fetch, expects it to throw, and checks no secret leaked into the error or the log. */
  async function failure(c: FetchContext): Promise<BooksyncError> {
    const err = await ofxDirect.fetch(c).then(
      () => assert.fail('expected the fetch to fail'),
      (e: unknown) => e as BooksyncError,
    );
    const all = [err.message, JSON.stringify(err), String(err.stack), ...captured.lines].join('\n');
    assert.ok(!all.includes(PASSWORD), 'the password leaked into an error or log line');
    assert.ok(!all.includes(encodeURIComponent(PASSWORD)));
    assert.ok(
      err.message.includes('acme-checking'),
      `message names the connection: ${err.message}`,
    );
    return err;
  }

  it('given a v1.0.2 checking account, when fetched, then SGML is posted and every line is exact', async () => {
    const result = await ofxDirect.fetch(ctx());
    assert.equal(sim.requests.length, 1);
    const req = sim.requests[0];
    assert.equal(req.headers['content-type'], 'application/x-ofx');
    assert.match(req.body, /^OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n/);
    assert.match(req.body, /<USERID>jdoe\r\n/);
    assert.match(req.body, /<USERPASS>p&amp;ss&lt;w0rd-S3CRET\r\n/);
    assert.match(req.body, /<APPID>QWIN\r\n<APPVER>2700\r\n/);
    assert.match(req.body, /<DTCLIENT>20240401100000\.000\[\+0:UTC\]/);
    assert.match(req.body, /<DTSTART>20240301\r\n<DTEND>20240401\r\n<INCLUDE>Y/);
    assert.match(req.body, /<BANKID>123456789\r\n<ACCTID>111111\r\n<ACCTTYPE>CHECKING/);
    assert.doesNotMatch(req.body, /CLIENTUID/);

    assert.deepEqual(result.warnings, []);
    assert.equal(result.statements.length, 1);
    const s = result.statements[0];
    assert.equal(s.accountId, '111111');
    assert.equal(s.bankId, '123456789');
    assert.equal(s.currency, 'USD');
    assert.equal(s.from, '2024-03-01');
    assert.equal(s.to, '2024-04-01');
    assert.deepEqual(s.balances, [
      { amount: 123456, currency: 'USD', date: '2024-04-01', kind: 'ledger' },
      { amount: 120000, currency: 'USD', date: '2024-04-01', kind: 'available' },
    ]);
    assert.deepEqual(s.transactions, [
      {
        providerId: 'F1',
        bookingDate: '2024-03-01',
        amount: -1234,
        currency: 'USD',
        pending: false,
        payee: 'COFFEE SHOP',
        memo: 'POS 1234',
      },
      {
        providerId: 'F2',
        bookingDate: '2024-03-02',
        valueDate: '2024-03-03',
        amount: 150000,
        currency: 'USD',
        pending: false,
        payee: 'ACME PAYROLL',
      },
      {
        providerId: 'F3',
        bookingDate: '2024-03-05',
        amount: -20000,
        currency: 'USD',
        pending: false,
        payee: 'CHECK 1001',
        checkNumber: '1001',
      },
      {
        providerId: 'F4',
        bookingDate: '2024-03-31',
        amount: -99,
        currency: 'USD',
        pending: false,
        payee: 'LAST DAY FEE',
      },
      {
        providerId: 'F5',
        bookingDate: '2024-03-06',
        amount: -1334,
        currency: 'USD',
        pending: false,
        payee: 'COFFEE SHOP',
        corrects: { providerId: 'F1', action: 'REPLACE' },
      },
    ]);
  });

  it('given a v2.1.1 credit card with an authorised CLIENTUID, when fetched with pending, then XML is posted and pending lines come back', async () => {
    await sim.close();
    sim = new OfxServer({ ...sim.options, authorisedClientUids: ['8f0a3c2e-client'] });
    await sim.start();
    const result = await ofxDirect.fetch(
      ctx(
        {
          account_type: 'CREDITCARD',
          account_id: card.acctId,
          bank_id: undefined,
          version: 211,
          client_uid: '8f0a3c2e-client',
        },
        { includePending: true },
      ),
    );
    const body = sim.requests[0].body;
    assert.match(
      body,
      /^<\?xml version="1.0" encoding="UTF-8" standalone="no"\?>\r\n<\?OFX OFXHEADER="200" VERSION="211"/,
    );
    assert.match(body, /<CLIENTUID>8f0a3c2e-client<\/CLIENTUID>/);
    assert.match(body, /<CCSTMTRQ>\r\n<CCACCTFROM>\r\n<ACCTID>4111222233334444<\/ACCTID>/);
    const s = result.statements[0];
    assert.equal(s.accountId, card.acctId);
    assert.deepEqual(
      s.transactions.map((t) => [t.providerId, t.bookingDate, t.amount, t.pending]),
      [
        ['C1', '2024-03-10', -4500, false],
        ['C2', '2024-03-11', 10000, false],
        [undefined, '2024-03-30', -750, true],
      ],
    );
    assert.deepEqual(s.balances, [
      { amount: -52310, currency: 'USD', date: '2024-04-01', kind: 'ledger' },
    ]);
  });

  it('given pending lines but includePending false, when fetched, then no pending line is returned', async () => {
    const result = await ofxDirect.fetch(
      ctx({
        account_type: 'CREDITCARD',
        account_id: card.acctId,
        bank_id: undefined,
        version: 220,
      }),
    );
    assert.ok(result.statements[0].transactions.every((t) => !t.pending));
    assert.equal(result.statements[0].transactions.length, 2);
  });

  it('given a wrong password, when fetched, then BankAuthError OFX_SIGNON_INVALID without the password', async () => {
    const err = await failure(
      ctx({}, { secrets: { username: USERNAME, password: 'wrong-password' } }),
    );
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'OFX_SIGNON_INVALID');
    assert.match(err.message, /refused the user id or password \(15500/);
  });

  it('given signon 15502 (lockout), when fetched, then BankAuthError OFX_LOCKED_OUT', async () => {
    sim.fail({ kind: 'signon', code: 15502 });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'OFX_LOCKED_OUT');
    assert.match(err.message, /locked out/);
  });

  it('given signon 15501 (account in use), when fetched, then a transient BankUnavailableError', async () => {
    sim.fail({ kind: 'signon', code: 15501, message: 'Customer account already in use' });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'OFX_ACCOUNT_IN_USE');
  });

  it('given a server that requires CLIENTUID, when the client has none, then BankAuthError OFX_CLIENTUID with the out-of-band guidance', async () => {
    await sim.close();
    sim = new OfxServer({ ...sim.options, authorisedClientUids: ['known-uid'] });
    await sim.start();
    const err = await failure(ctx({ version: 103, client_uid: 'new-uid' }));
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'OFX_CLIENTUID');
    assert.match(err.message, /approve the new device/);
    assert.match(err.message, /keep client_uid unchanged/);
    assert.match(sim.requests[0].body, /<CLIENTUID>new-uid\r\n/);
  });

  it('given a wrong FI ORG, when fetched, then a permanent OFX_FI_INVALID naming the settings', async () => {
    const err = await failure(ctx({ org: 'WRONG' }));
    assert.ok(err instanceof BankRequestRejectedError);
    assert.equal(err.code, 'OFX_FI_INVALID');
    assert.match(err.message, /check org and fid/);
  });

  it('given an unknown account, when fetched, then a PermanentError OFX_ACCOUNT_NOT_FOUND', async () => {
    const err = await failure(ctx({ account_id: '999' }));
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'OFX_ACCOUNT_NOT_FOUND');
    assert.match(err.message, /does not know this account \(2003\)/);
    assert.match(err.message, /Account not found/);
  });

  for (const [code, expected] of [
    [2000, 'OFX_GENERAL_ERROR'],
    [2019, 'OFX_DUPLICATE_REQUEST'],
    [2012, 'OFX_STATUS'],
    [10500, 'OFX_STATUS'],
  ] as const) {
    it(`given statement status ${code}, when fetched, then BankUnavailableError ${expected}`, async () => {
      sim.fail({ kind: 'statement', code, message: 'Try later' });
      const err = await failure(ctx());
      assert.ok(err instanceof BankUnavailableError);
      assert.equal(err.code, expected);
      assert.match(err.message, new RegExp(String(code)));
    });
  }

  it('given a WARN status the table does not know, when fetched, then it is a warning, not a failure', async () => {
    sim.fail({ kind: 'statement', code: 2028, severity: 'WARN', message: 'Element unknown' });
    const result = await ofxDirect.fetch(ctx());
    assert.deepEqual(result.statements, []);
    assert.match(result.warnings[0], /OFX status 2028 \(WARN\).*Element unknown/);
    assert.match(result.warnings[1], /no statement body/);
  });

  it('given a status-OK answer with no STMTRS, when fetched, then no statement and a warning', async () => {
    sim.fail({ kind: 'no-statement-body' });
    const result = await ofxDirect.fetch(ctx());
    assert.deepEqual(result.statements, []);
    assert.match(result.warnings[0], /no statement body/);
  });

  it('given the same TRNUID twice, when the server sees the duplicate, then 2019 is reported as transient', async () => {
    await ofxDirect.fetch(ctx());
    const trnUid = /<TRNUID>([^\r\n<]+)/.exec(sim.requests[0].body)![1];
    // A fresh fetch sends a fresh TRNUID, so the duplicate path is reached only by replaying the bytes.
    const replay = await fetch(sim.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ofx' },
      body: sim.requests[0].body,
    });
    const text = await replay.text();
    assert.match(text, /<CODE>2019/);
    assert.match(text, new RegExp(`<TRNUID>${trnUid}`));
  });

  it('given HTTP 500 with an HTML page, when fetched, then BankUnavailableError with the page title', async () => {
    sim.fail({
      kind: 'http',
      status: 500,
      body: '<html><head><title>Service Temporarily Unavailable</title></head><body>x</body></html>',
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'OFX_HTTP_STATUS');
    assert.match(err.message, /HTTP 500 \("Service Temporarily Unavailable"\)/);
  });

  it('given HTTP 400 with the literal ledger-autosync body, when fetched, then BankUnavailableError quoting it', async () => {
    sim.fail({
      kind: 'http',
      status: 400,
      contentType: 'text/plain',
      body: 'Server error occured.  Received HttpStatusCode of 400',
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.match(err.message, /Received HttpStatusCode of 400/);
  });

  it('given the OFX server moved (HTTP 301), when fetched, then the password is not re-sent and a permanent redirect error names the new URL', async () => {
    sim.fail({
      kind: 'http',
      status: 301,
      headers: { Location: 'https://new-ofx.bank.example/ofx' },
      body: '',
    });
    const err = await failure(ctx());
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'BANK_HTTP_REDIRECT');
    assert.match(err.message, /https:\/\/new-ofx\.bank\.example\/ofx/);
    assert.equal(sim.requests.length, 1);
  });

  it('given HTTP 429 with Retry-After, when fetched, then RateLimitedError at now + delay', async () => {
    sim.fail({ kind: 'http', status: 429, headers: { 'Retry-After': '120' }, body: 'slow down' });
    const err = await failure(ctx());
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.retryAt.toISOString(), '2024-04-01T10:02:00.000Z');
  });

  it('given HTTP 200 with a maintenance HTML page, when fetched, then BankUnavailableError OFX_HTML_PAGE', async () => {
    sim.fail({
      kind: 'raw',
      contentType: 'text/html',
      body: '<!DOCTYPE html><html><head><title>Scheduled maintenance</title></head><body>Back soon</body></html>',
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'OFX_HTML_PAGE');
    assert.match(err.message, /Scheduled maintenance/);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['an empty body', '', /empty body/],
    ['JSON', '{"error":"nope"}', /not OFX/],
    ['no signon', 'OFXHEADER:100\r\n\r\n<OFX><BANKMSGSRSV1></BANKMSGSRSV1></OFX>', /SONRS/],
    [
      'a STATUS without CODE',
      'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1></OFX>',
      /CODE/,
    ],
    [
      'a truncated statement',
      'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>111111<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240301',
      /truncated/,
    ],
    [
      'a line without TRNAMT',
      'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>111111<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240301<FITID>X</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
      /TRNAMT: transaction without an amount/,
    ],
    [
      'an amount with too many decimals',
      'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>111111<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240301<TRNAMT>-1.005<FITID>X</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
      /TRNAMT: '-1.005' is not an amount/,
    ],
    [
      'text outside elements',
      'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1>garbage<SONRS></SONRS></SIGNONMSGSRSV1>more garbage</OFX>',
      /SIGNONMSGSRSV1: closing tag <\/SIGNONMSGSRSV1> without an opening/,
    ],
  ];
  for (const [name, body, why] of malformed) {
    it(`given ${name}, when fetched, then MalformedStatementError`, async () => {
      sim.fail({ kind: 'raw', body });
      const err = await failure(ctx());
      assert.ok(err instanceof MalformedStatementError, `${err.name}: ${err.message}`);
      assert.match(err.message, why);
    });
  }

  it("given an impossible day (20120231), when fetched, then it is booked on the month's last day with a warning, as for a downloaded file", async () => {
    sim.fail({
      kind: 'raw',
      body: 'OFXHEADER:100\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>111111<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20120231<TRNAMT>-1.00<FITID>X</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
    });
    const result = await ofxDirect.fetch(ctx());
    assert.equal(result.statements[0].transactions[0].bookingDate, '2012-02-29');
    assert.ok(
      result.warnings.some((w) => /2012-02-31 does not exist/.test(w)),
      result.warnings.join('\n'),
    );
  });

  it('given HTTP 400 whose body is an OFX signon error, when fetched, then the OFX status wins over the HTTP status', async () => {
    sim.fail({
      kind: 'http',
      status: 400,
      contentType: 'application/x-ofx',
      body: 'OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR<MESSAGE>Invalid credentials</STATUS><DTSERVER>20240401<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1></OFX>',
    });
    const err = await failure(ctx());
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'OFX_SIGNON_INVALID');
  });

  it('given a one-line v1 header, no blank line, closed leaves, an unknown vendor aggregate and entities, when fetched, then it is read', async () => {
    sim.fail({
      kind: 'raw',
      body: 'OFXHEADER:100 DATA:OFXSGML VERSION:102 SECURITY:NONE ENCODING:USASCII CHARSET:1252 COMPRESSION:NONE OLDFILEUID:NONE NEWFILEUID:NONE<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY><MESSAGE>Fish &amp; Chips</MESSAGE></STATUS><DTSERVER>20240401<LANGUAGE>ENG<INTU.XFER><INTU.FLAG>Y</INTU.XFER><INTU.BID>00001</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>111111<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>20240301<DTEND>20240401<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240302<TRNAMT>-3.50<FITID>Z1<NAME>Fish &amp; Chips</STMTTRN></BANKTRANLIST><LEDGERBAL><BALAMT>10.00<DTASOF>20240401</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
    });
    const result = await ofxDirect.fetch(ctx());
    assert.deepEqual(result.statements[0].transactions, [
      {
        providerId: 'Z1',
        bookingDate: '2024-03-02',
        amount: -350,
        currency: 'USD',
        pending: false,
        payee: 'Fish & Chips',
      },
    ]);
    assert.match(result.warnings.join('\n'), /TRNUID 1 differs/);
  });

  it('given a hung server, when fetched with a 200 ms timeout, then BankUnavailableError BANK_TIMEOUT within the timeout', async () => {
    sim.fail({ kind: 'hang' });
    const err = await failure(ctx({}, { requestTimeoutMs: 200 }));
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'BANK_TIMEOUT');
    assert.match(err.message, /within 200 ms/, 'the configured timeout is the one that fired');
  });

  it('given a slow server inside the timeout, when fetched, then the statement arrives', async () => {
    sim.fail({ kind: 'slow', ms: 50 });
    const result = await ofxDirect.fetch(ctx({}, { requestTimeoutMs: 2000 }));
    assert.equal(result.statements[0].transactions.length, 5);
  });

  it('given the run is cancelled, when fetched, then BankUnavailableError BANK_ABORTED', async () => {
    sim.fail({ kind: 'hang' });
    const ac = new AbortController();
    const p = failure(ctx({}, { signal: ac.signal, requestTimeoutMs: 5000 }));
    setImmediate(() => ac.abort());
    const err = await p;
    assert.equal(err.code, 'BANK_ABORTED');
  });

  it('given no server listening, when fetched, then BankUnavailableError BANK_NETWORK', async () => {
    const url = sim.url;
    await sim.close();
    const err = await failure(ctx({ url }));
    assert.ok(err instanceof BankUnavailableError);
    assert.equal(err.code, 'BANK_NETWORK');
  });

  it('given settings without bank_id for a checking account, when fetched, then a permanent OFX_SETTINGS error naming the key', async () => {
    const err = await failure(ctx({ bank_id: undefined }));
    assert.ok(err instanceof PermanentError);
    assert.equal(err.code, 'OFX_SETTINGS');
    assert.match(err.message, /'bank_id' is required/);
    assert.equal(sim.requests.length, 0);
  });

  it('given client_uid with version 102, when fetched, then OFX_SETTINGS says CLIENTUID needs 1.0.3', async () => {
    const err = await failure(ctx({ client_uid: 'abc' }));
    assert.equal(err.code, 'OFX_SETTINGS');
    assert.match(err.message, /needs version 103 or later/);
  });

  it('given a plain-http url to another host, when fetched, then it refuses before sending the password', async () => {
    const err = await failure(ctx({ url: 'http://bank.example.com/ofx' }));
    assert.equal(err.code, 'OFX_SETTINGS');
  });

  it('given no password secret, when fetched, then BankAuthError OFX_CREDENTIALS_MISSING', async () => {
    const err = await failure(ctx({}, { secrets: { username: USERNAME } }));
    assert.ok(err instanceof BankAuthError);
    assert.equal(err.code, 'OFX_CREDENTIALS_MISSING');
  });

  it('given debug logging, when a run succeeds and fails, then no log line holds the password', async () => {
    await ofxDirect.fetch(ctx());
    sim.fail({ kind: 'signon', code: 15500, message: `bad password ${PASSWORD}` });
    const err = await failure(ctx());
    assert.match(err.message, /bad password \[redacted\]/);
    assert.ok(captured.lines.some((l) => l.includes('bank.http')));
  });
});
