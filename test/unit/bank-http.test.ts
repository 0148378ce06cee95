import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BankAuthError,
  BankUnavailableError,
  MalformedStatementError,
  RateLimitedError,
} from '../../src/bank/errors';
import { PermanentError } from '../../src/shared/errors';
import {
  BankRequestRejectedError,
  bodySnippet,
  httpRequest,
  looksLikeHtml,
  parseRetryAfter,
  readJson,
  safeUrl,
  splitCredentials,
  statusError,
  type HttpContext,
  type HttpResponse,
} from '../../src/bank/http';
import { readPrivateFile, writePrivateFile } from '../../src/shared/private-file';

const NOW = new Date('2024-04-01T10:00:00Z');

function response(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): HttpResponse {
  const bytes = new Uint8Array(Buffer.from(body, 'utf8'));
  return {
    status,
    headers: new Headers(headers),
    body: bytes,
    safeUrl: 'https://bank.example/api',
    what: 'GET /api',
    text: () => body,
  };
}

describe('bank/http: parseRetryAfter', () => {
  it('reads delay-seconds from now', () => {
    assert.equal(parseRetryAfter('120', NOW)?.toISOString(), '2024-04-01T10:02:00.000Z');
    assert.equal(parseRetryAfter(' 0 ', NOW)?.toISOString(), NOW.toISOString());
  });

  it('reads an IMF-fixdate and the obsolete RFC 850 form', () => {
    assert.equal(
      parseRetryAfter('Mon, 01 Apr 2024 11:30:00 GMT', NOW)?.toISOString(),
      '2024-04-01T11:30:00.000Z',
    );
    assert.equal(
      parseRetryAfter('Monday, 01-Apr-24 11:30:00 GMT', NOW)?.toISOString(),
      '2024-04-01T11:30:00.000Z',
    );
  });

  it('never returns a time before now', () => {
    assert.equal(
      parseRetryAfter('Mon, 01 Apr 2024 09:00:00 GMT', NOW)?.toISOString(),
      NOW.toISOString(),
    );
  });

  it('ignores absent, negative, fractional and free-text values', () => {
    for (const v of [null, undefined, '', '-5', '1.5', 'soon', '2024-04-01'])
      assert.equal(parseRetryAfter(v, NOW), undefined, String(v));
  });
});

describe('bank/http: credentials and redaction', () => {
  it('splits userinfo into a Basic header, percent-decoded, and a clean URL', () => {
    const s = splitCredentials('https://us%40er:p%3Ass@bridge.example/simplefin');
    assert.equal(s.url.href, 'https://bridge.example/simplefin');
    assert.equal(s.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    assert.equal(splitCredentials('https://bridge.example/x').authorization, undefined);
  });

  it('safeUrl drops userinfo, query and fragment', () => {
    assert.equal(
      safeUrl('https://u:p@host.example:8443/a/b?token=x#f'),
      'https://host.example:8443/a/b',
    );
    assert.equal(safeUrl('not a url'), '(invalid URL)');
  });

  it('bodySnippet uses an HTML page title, flattens whitespace, truncates and redacts before it cuts', () => {
    assert.equal(
      bodySnippet('<html><head><title>Down for\n maintenance</title></head></html>'),
      'Down for maintenance',
    );
    assert.equal(bodySnippet('x'.repeat(500), [], 20).length, 20);
    assert.equal(bodySnippet('token SECRET123 here', ['SECRET123']), 'token [redacted] here');
    // A secret straddling the cut is masked whole, never shown in part.
    assert.equal(
      bodySnippet(`${'x'.repeat(15)}SECRET123`, ['SECRET123'], 20),
      `${'x'.repeat(15)}[red…`,
    );
    assert.equal(
      bodySnippet('<html><title>no P&amp;W&lt;1 here</title></html>', ['P&W<1']),
      'no [redacted] here',
    );
    assert.ok(looksLikeHtml('  <!DOCTYPE html><html></html>'));
    assert.ok(!looksLikeHtml('{"a":1}'));
  });
});

describe('bank/http: statusError default mapping', () => {
  const map = (status: number, headers: Record<string, string> = {}, body = '') =>
    statusError(response(status, body, headers), { connection: 'c1', now: NOW });

  it('401/403 → BankAuthError', () => {
    assert.ok(map(401) instanceof BankAuthError);
    assert.ok(map(403) instanceof BankAuthError);
  });

  it('429 → RateLimitedError at Retry-After, else one hour', () => {
    const a = map(429, { 'Retry-After': '30' });
    assert.ok(a instanceof RateLimitedError);
    assert.equal(a.retryAt.toISOString(), '2024-04-01T10:00:30.000Z');
    assert.equal((map(429) as RateLimitedError).retryAt.toISOString(), '2024-04-01T11:00:00.000Z');
  });

  it('503 with Retry-After → RateLimitedError; 500/502/503/408 → BankUnavailableError', () => {
    assert.ok(map(503, { 'Retry-After': '60' }) instanceof RateLimitedError);
    for (const s of [500, 502, 503, 408])
      assert.ok(map(s) instanceof BankUnavailableError, String(s));
  });

  it('other 4xx → permanent BankRequestRejectedError naming the status and body', () => {
    const e = map(404, {}, 'no such account');
    assert.ok(e instanceof BankRequestRejectedError);
    assert.match(
      e.message,
      /^c1: GET \/api: https:\/\/bank\.example\/api answered HTTP 404 \(no such account\)/,
    );
  });

  it('the provider hook wins, and undefined falls back', () => {
    const custom = new BankAuthError('BANK_HTTP_AUTH', 'custom');
    assert.equal(
      statusError(response(500, ''), { connection: 'c', now: NOW, map: () => custom }),
      custom,
    );
    assert.ok(
      statusError(response(500, ''), { connection: 'c', now: NOW, map: () => undefined }) instanceof
        BankUnavailableError,
    );
  });

  it('readJson names an HTML page and an empty body', () => {
    assert.throws(
      () => readJson(response(200, '<html><title>Oops</title></html>'), 'c'),
      (e: unknown) =>
        e instanceof MalformedStatementError && /HTML page \("Oops"\)/.test(e.message),
    );
    assert.throws(() => readJson(response(200, ''), 'c'), /an empty body/);
    assert.deepEqual(readJson(response(200, '{"a":1}'), 'c'), { a: 1 });
  });
});

describe('bank/http: httpRequest against a local server', () => {
  let server: http.Server;
  let base: string;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  before(async () => {
    server = http.createServer((req, res) => handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const ctx = (over: Partial<HttpContext> = {}): HttpContext => ({
    connection: 'c1',
    signal: new AbortController().signal,
    requestTimeoutMs: 1000,
    now: () => NOW,
    ...over,
  });

  it('returns status, headers and the whole body', async () => {
    handler = (req, res) => {
      res.writeHead(201, { 'X-Echo': req.method ?? '' });
      res.end('hello');
    };
    const res = await httpRequest(ctx(), {
      url: `${base}/x`,
      method: 'POST',
      body: 'b',
      what: 'POST /x',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-echo'), 'POST');
    assert.equal(res.text(), 'hello');
  });

  it('refuses a URL with credentials before sending anything', async () => {
    await assert.rejects(
      httpRequest(ctx(), { url: `http://u:secretpw@127.0.0.1:1/`, what: 'GET /' }),
      (e: unknown) => e instanceof Error && !e.message.includes('secretpw'),
    );
  });

  it('does not follow redirects; statusError names the new location', async () => {
    handler = (_req, res) => {
      res.writeHead(307, { Location: 'http://u:pw@elsewhere.example/ofx?x=1' });
      res.end();
    };
    const res = await httpRequest(ctx(), {
      url: `${base}/ofx`,
      method: 'POST',
      body: 'password',
      what: 'POST /ofx',
    });
    assert.equal(res.status, 307);
    const err = statusError(res, { connection: 'c1', now: NOW });
    assert.ok(err instanceof BankRequestRejectedError);
    assert.equal(err.code, 'BANK_HTTP_REDIRECT');
    assert.match(
      err.message,
      /redirects \(HTTP 307\) to http:\/\/elsewhere\.example\/ofx; check the URL/,
    );
  });

  it('caps the body size, declared or streamed', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('x'.repeat(600));
      res.end('y'.repeat(600));
    };
    await assert.rejects(
      httpRequest(ctx(), { url: base, what: 'GET /', maxBytes: 1000 }),
      (e: unknown) => e instanceof MalformedStatementError && e.code === 'BANK_BODY_TOO_LARGE',
    );
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '5000' });
      res.end('x'.repeat(5000));
    };
    await assert.rejects(
      httpRequest(ctx(), { url: base, what: 'GET /', maxBytes: 1000 }),
      /larger than 1000 bytes/,
    );
  });

  it('times out a server that sends headers and then stalls the body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('partial');
    };
    await assert.rejects(
      httpRequest(ctx({ requestTimeoutMs: 150 }), { url: base, what: 'GET /' }),
      (e: unknown) => e instanceof BankUnavailableError && e.code === 'BANK_TIMEOUT',
    );
  });

  it('reports a refused connection as BANK_NETWORK', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(
      httpRequest(ctx(), { url: `http://127.0.0.1:${port}/`, what: 'GET /' }),
      (e: unknown) =>
        e instanceof BankUnavailableError && /ECONNREFUSED/.test((e as Error).message),
    );
  });

  it('uses displayUrl in messages when the path is secret', async () => {
    handler = () => undefined;
    await assert.rejects(
      httpRequest(ctx({ requestTimeoutMs: 100 }), {
        url: `${base}/claim/SECRETTOKEN`,
        what: 'claim',
        displayUrl: `${base}/…`,
      }),
      (e: unknown) => e instanceof BankUnavailableError && !e.message.includes('SECRETTOKEN'),
    );
  });
});

describe('bank/http: private state files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-http-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes with mode 0600, replaces atomically, leaves no temp file, reads back', async () => {
    const file = path.join(dir, 'secret');
    await writePrivateFile(file, 'one');
    await writePrivateFile(file, 'two');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['secret']);
    assert.equal(await readPrivateFile(file), 'two');
    assert.equal(await readPrivateFile(path.join(dir, 'missing')), undefined);
  });

  it('creates a missing state folder, and reports an unusable one as a PermanentError', async () => {
    await writePrivateFile(path.join(dir, 'a', 'b', 'secret'), 'x');
    assert.equal(fs.statSync(path.join(dir, 'a')).mode & 0o777, 0o700);
    fs.writeFileSync(path.join(dir, 'plain'), 'not a folder');
    await assert.rejects(
      writePrivateFile(path.join(dir, 'plain', 'secret'), 'x'),
      (e: unknown) => e instanceof PermanentError && e.code === 'STATE_FILE_WRITE',
    );
    await assert.rejects(
      readPrivateFile(path.join(dir, 'plain', 'secret')),
      (e: unknown) => e instanceof PermanentError && e.code === 'STATE_FILE_READ',
    );
  });

  it('tightens a loosened file on read', async () => {
    const file = path.join(dir, 'secret');
    await writePrivateFile(file, 'x');
    fs.chmodSync(file, 0o644);
    await readPrivateFile(file);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });
});
