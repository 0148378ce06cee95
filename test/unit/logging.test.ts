import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/daemon/logging';
import { redactText } from '../../src/shared/redact';
import { BooksyncError } from '../../src/shared/errors';

function capture(secrets: string[], level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level, stream, secrets: () => secrets });
  return {
    logger,
    lines,
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logging: JSON lines with stable fields and one redaction for every secret', () => {
  it('writes one JSON object a line starting with ts, level, event, msg', () => {
    const { logger, lines } = capture([]);
    logger
      .child({ component: 'sync' })
      .info('cycle done', { event: 'sync.cycle', docs: 12, ms: 40 });
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]) as {
      ts: string;
      event: string;
      component: string;
      docs: number;
    };
    assert.deepEqual(Object.keys(line).slice(0, 4), ['ts', 'level', 'event', 'msg']);
    assert.equal(line.event, 'sync.cycle');
    assert.equal(line.component, 'sync');
    assert.equal(line.docs, 12);
    assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('masks secrets in the message, nested fields, arrays, error messages, stacks and causes', () => {
    const secret = 'hunter2-very-secret';
    const { logger, lines } = capture([secret]);
    const inner = new Error(`socket closed after sending ${secret}`);
    const err = new BooksyncError('SYNC_AUTH', `login with ${secret} refused`, {
      cause: inner,
      details: { tried: secret },
    });
    logger.error(`auth failed for ${secret}`, {
      event: 'sync.status',
      err,
      nested: { deep: [{ value: `x${secret}y` }] },
    });
    const out = lines.join('\n');
    assert.ok(!out.includes(secret), out);
    const line = JSON.parse(lines[0]) as {
      msg: string;
      err: { code: string; message: string; stack: string; cause: { message: string } };
      nested: { deep: Array<{ value: string }> };
    };
    assert.equal(line.msg, 'auth failed for [redacted]');
    assert.equal(line.err.code, 'SYNC_AUTH');
    assert.equal(line.err.message, 'login with [redacted] refused');
    assert.match(line.err.stack, /login with \[redacted\] refused/);
    assert.equal(line.err.cause.message, 'socket closed after sending [redacted]');
    assert.equal(line.nested.deep[0].value, 'x[redacted]y');
  });

  it('masks percent-encoded secrets and URL passwords that were never configured', () => {
    assert.equal(
      redactText('GET https://bob:p%40ss@host/db', ['p@ss']),
      'GET https://bob:[redacted]@host/db',
    );
    assert.equal(
      redactText('see https://alice:other@x.example/y', []),
      'see https://alice:[redacted]@x.example/y',
    );
  });

  it('reads the secret list on every line, so a reloaded secret is masked at once', () => {
    const secrets = ['old-secret'];
    const lines: string[] = [];
    const stream = new Writable({
      write(c, _e, d) {
        lines.push(String(c));
        d();
      },
    });
    const logger = createLogger({ level: 'info', stream, secrets: () => secrets });
    secrets.push('new-secret');
    logger.info('old-secret new-secret', { event: 'x' });
    assert.match(lines[0], /"msg":"\[redacted\] \[redacted\]"/);
  });

  it('respects the level', () => {
    const { logger, lines } = capture([], 'warn');
    logger.info('hidden', { event: 'a' });
    logger.warn('shown', { event: 'b' });
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { event: string }).event),
      ['b'],
    );
  });
});
