import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchWithDeadline, readText } from '../../src/shared/fetch-deadline';
import {
  isLoopbackHost,
  isLoopbackUrl,
  splitUrlCredentials,
  stripUrlCredentials,
} from '../../src/shared/urls';

describe('shared URL helpers', () => {
  describe('loopback: localhost, 127.0.0.0/8 and ::1, one definition for every part', () => {
    it('given any spelling of this machine, then it is loopback', () => {
      for (const url of [
        'http://127.0.0.1:5984/books',
        'http://127.8.9.10/books',
        'http://127.1/x',
        'http://localhost:5984/books',
        'http://LOCALHOST/books',
        'http://[::1]:5984/books',
        'http://[::ffff:127.0.0.1]/books',
        'http://[0:0:0:0:0:ffff:7f01:203]/books',
      ])
        assert.equal(isLoopbackUrl(url), true, url);
    });

    it('given another host, or a name that only looks local, then it is not', () => {
      for (const url of [
        'https://couch.example.com/books',
        'http://10.0.0.5/books',
        'http://128.0.0.1/books',
        'http://[2001:db8::1]/books',
        'http://[::ffff:10.0.0.1]/books',
        'http://127.example.com/books',
        'http://localhost.example.com/books',
        'http://couch.localhost/books',
        'not a url',
      ])
        assert.equal(isLoopbackUrl(url), false, url);
      assert.equal(isLoopbackHost('127.0.0.256'), false);
    });
  });

  describe('credentials in URLs', () => {
    it('given userinfo, then split gives the bare URL and the decoded user name and password', () => {
      const { url, credentials } = splitUrlCredentials('https://us%40er:p%3Ass@host.example/db');
      assert.equal(url.toString(), 'https://host.example/db');
      assert.deepEqual(credentials, { username: 'us@er', password: 'p:ss' });
      assert.equal(splitUrlCredentials('https://host.example/db').credentials, undefined);
    });

    it('given a URL with or without credentials, or text that is not a URL, then stripping leaves no password', () => {
      assert.equal(
        stripUrlCredentials('https://u:hunter2@host.example/db'),
        'https://host.example/db',
      );
      assert.equal(stripUrlCredentials('https://host.example'), 'https://host.example');
      assert.equal(stripUrlCredentials('ht tp://u:hunter2@host/db'), 'ht tp://host/db');
    });
  });
});

describe('fetchWithDeadline (one HTTP exchange under one deadline)', () => {
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hold') return; // never answers
      if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return; // the body never ends
      }
      res.end(`${req.method} ${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('given an answer, then the response and its body are returned', async () => {
    const exchange = await fetchWithDeadline(
      `${base}/x`,
      { method: 'PUT' },
      { timeoutMs: 10_000 },
      readText,
    );
    assert.ok(exchange.ok);
    assert.equal(exchange.response.status, 200);
    assert.equal(exchange.body, 'PUT /x');
  });

  it('given a server that never answers, then the exchange ends as timed out', async () => {
    const exchange = await fetchWithDeadline(`${base}/hold`, {}, { timeoutMs: 100 }, readText);
    assert.equal(exchange.ok, false);
    assert.ok(!exchange.ok && exchange.timedOut && !exchange.cancelled);
  });

  it('given a body that never ends, then reading it is bounded by the same deadline', async () => {
    const exchange = await fetchWithDeadline(`${base}/slow-body`, {}, { timeoutMs: 200 }, readText);
    assert.ok(!exchange.ok && exchange.timedOut);
  });

  it("given the caller's signal aborts, then the exchange ends as cancelled with the caller's reason", async () => {
    const stop = new AbortController();
    const pending = fetchWithDeadline(
      `${base}/hold`,
      {},
      { timeoutMs: 60_000, signal: stop.signal },
      readText,
    );
    const reason = new Error('stopping');
    stop.abort(reason);
    const exchange = await pending;
    assert.ok(!exchange.ok && exchange.cancelled && !exchange.timedOut);
    assert.equal(!exchange.ok && exchange.error, reason);
  });

  it('given a stand-in fetch, then it is the one called', async () => {
    const seen: string[] = [];
    const exchange = await fetchWithDeadline(
      'http://bank.invalid/a',
      { method: 'POST', body: 'x' },
      {
        timeoutMs: 1_000,
        fetchFn: (request) => {
          seen.push(`${request.method} ${request.url}`);
          return Promise.resolve(new Response('ok'));
        },
      },
      readText,
    );
    assert.deepEqual(seen, ['POST http://bank.invalid/a']);
    assert.ok(exchange.ok && exchange.body === 'ok');
  });
});
