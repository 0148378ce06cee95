import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ContractServer, controlRequest } from '../../src/daemon/control';
import { field, fields, method } from '../../src/daemon/control-contract';
import { CONTROL_METHODS } from '../../src/daemon/control-methods';
import { createLogger } from '../../src/daemon/logging';
import { BooksyncError } from '../../src/shared/errors';

/** Sends raw lines on the socket and resolves with the parsed answers, one per line sent. */
function exchange(socketPath: string, lines: string[]): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffer = '';
    const answers: Array<Record<string, unknown>> = [];
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(lines.map((l) => `${l}\n`).join('')));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        answers.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
        buffer = buffer.slice(nl + 1);
      }
      if (answers.length === lines.length) {
        socket.end();
        resolve(answers);
      }
    });
    socket.on('error', reject);
  });
}

/** A contract of test methods, plus two of the daemon's (their params readers are under test). */
const TEST_METHODS = {
  echo: method(fields({ said: field.optional(field.string) })).returns<{ said?: string }>(),
  status: method().returns<{ last_error: { code: string; message: string } }>(),
  boom: method().returns<never>(),
  'bank.fetch': CONTROL_METHODS['bank.fetch'],
  'conflicts.resolve': CONTROL_METHODS['conflicts.resolve'],
};

describe('control socket: malformed requests and secret-free answers', () => {
  let dir: string;
  let server: ContractServer<typeof TEST_METHODS, Record<string, never>>;
  let received: unknown[];
  let logLines: Array<Record<string, unknown>>;
  const SECRET = 'cl0ud-p&ss<word>';

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-control-'));
    logLines = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean))
          logLines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'debug', stream, secrets: () => [SECRET] });
    server = new ContractServer(path.join(dir, 'control.sock'), logger, () => [SECRET], {
      methods: TEST_METHODS,
      streams: {},
    });
    received = [];
    server.handle('bank.fetch', (params) => {
      received.push(params);
      return Promise.resolve([]);
    });
    server.handle('conflicts.resolve', (params) => {
      received.push(params);
      return Promise.reject(new Error('not under test'));
    });
    server.handle('echo', (params) => Promise.resolve(params));
    server.handle('status', () =>
      Promise.resolve({
        last_error: {
          code: 'SYNC_AUTH',
          message: `cloud said: bad password ${SECRET.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}`,
        },
      }),
    );
    server.handle('boom', () => Promise.reject(new BooksyncError('SOMETHING', 'expected refusal')));
    await server.listen();
  });

  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers CONTROL_BAD_REQUEST to each malformed line, logs one warn line without a stack, and serves on', async () => {
    const bad = [
      '{not json',
      '[1,2]',
      '42',
      'null',
      '{"id":7}',
      '{"id":8,"method":5}',
      '{"id":9,"method":"echo","params":[1]}',
    ];
    const answers = await exchange(path.join(dir, 'control.sock'), [
      ...bad,
      '{"id":10,"method":"echo","params":{"said":"hi"}}',
    ]);
    const refused = answers.filter((a) => a.ok === false);
    assert.equal(refused.length, bad.length);
    for (const answer of refused)
      assert.equal(
        (answer.error as { code: string }).code,
        'CONTROL_BAD_REQUEST',
        JSON.stringify(answer),
      );
    assert.ok(
      refused.some((a) => a.id === 7),
      'the id of a readable request comes back',
    );
    assert.deepEqual(
      answers.find((a) => a.ok === true),
      { id: 10, ok: true, result: { said: 'hi' } },
    );
    const warned = logLines.filter((l) => l.event === 'control.bad_request');
    assert.equal(warned.length, bad.length);
    for (const line of warned) {
      assert.equal(line.level, 'warn');
      assert.doesNotMatch(
        JSON.stringify(line),
        /"stack"|\n\s+at /,
        'no stack for a client mistake',
      );
    }
    assert.equal(logLines.filter((l) => l.level === 'error').length, 0);
  });

  it('an unknown method and an expected refusal are answered with their codes, not logged as failures', async () => {
    await assert.rejects(
      controlRequest(path.join(dir, 'control.sock'), 'nope'),
      (err: BooksyncError) => err.code === 'CONTROL_UNKNOWN_METHOD',
    );
    await assert.rejects(
      controlRequest(path.join(dir, 'control.sock'), 'boom'),
      (err: BooksyncError) => err.code === 'SOMETHING',
    );
    assert.equal(logLines.filter((l) => l.level === 'error' || l.level === 'warn').length, 0);
  });

  it("refuses params that do not fit the method's contract with CONTROL_BAD_REQUEST naming the parameter; the handler never sees them", async () => {
    const socket = path.join(dir, 'control.sock');
    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        'bank.fetch',
        { names: 'acme' },
        /'bank\.fetch' parameter 'names' must be a list of strings \(got "acme"\)/,
      ],
      ['bank.fetch', { names: ['acme', 3] }, /parameter 'names' must be a list of strings/],
      ['bank.fetch', { since: 20260101 }, /parameter 'since' must be a string \(got 20260101\)/],
      [
        'bank.fetch',
        { nmes: ['acme'] },
        /'bank\.fetch' takes no parameter 'nmes' \(it takes: names, since\)/,
      ],
      [
        'conflicts.resolve',
        { choice: { take: 'local' } },
        /parameter 'id' must be a string \(got nothing\)/,
      ],
      [
        'conflicts.resolve',
        { id: 'move:1', choice: { take: 'mine' } },
        /'choice'\.take must be 'local' or 'remote'/,
      ],
      [
        'conflicts.resolve',
        { id: 'move:1', choice: 'local' },
        /parameter 'choice' must be an object/,
      ],
    ];
    for (const [name, params, message] of refused) {
      await assert.rejects(controlRequest(socket, name, params), (err: BooksyncError) => {
        assert.equal(err.code, 'CONTROL_BAD_REQUEST', `${name} ${JSON.stringify(params)}`);
        assert.match(err.message, message);
        return true;
      });
    }
    assert.deepEqual(received, []);
    assert.deepEqual(
      await controlRequest(socket, 'bank.fetch', { names: ['acme'], since: null }),
      [],
    );
    assert.deepEqual(received, [{ names: ['acme'] }]);
  });

  it('masks secrets, entity-escaped too, in every answer', async () => {
    const raw = await exchange(path.join(dir, 'control.sock'), [
      '{"id":1,"method":"status"}',
      JSON.stringify({ id: 2, method: 'echo', params: { said: `x${SECRET}x` } }),
    ]);
    const text = JSON.stringify(raw);
    assert.ok(!text.includes('cl0ud-p'), text);
    assert.match(text, /bad password \[redacted\]/);
  });
});
