import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/daemon/logging';
import { effectiveLogFormat, prettyLine } from '../../src/daemon/log-pretty';

function capture(format: 'json' | 'pretty') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', stream, secrets: () => ['hunter2-secret'], format });
  return { logger, lines };
}

describe('log.format', function () {
  it('auto is JSON under systemd (JOURNAL_STREAM), pretty on a terminal, JSON into a pipe', () => {
    assert.equal(effectiveLogFormat('auto', { JOURNAL_STREAM: '8:12345' }, true), 'json');
    assert.equal(effectiveLogFormat('auto', {}, true), 'pretty');
    assert.equal(effectiveLogFormat('auto', {}, false), 'json');
    assert.equal(effectiveLogFormat('pretty', { JOURNAL_STREAM: '8:1' }, false), 'pretty');
    assert.equal(effectiveLogFormat('json', {}, true), 'json');
  });

  it('pretty writes one readable line an event, with the secrets still masked', async () => {
    const { logger, lines } = capture('pretty');
    logger.info('bank run main: connected', {
      event: 'bank.run',
      connection: 'main',
      new: 3,
      note: 'token hunter2-secret used',
      pid: 7,
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}bank\.run bank run main: connected connection=main new=3 note="token \[redacted\] used"\n?$/,
    );
    assert.ok(!lines[0].includes('hunter2-secret'));
    assert.throws(() => JSON.parse(lines[0]));
  });

  it('json stays one JSON object a line', async () => {
    const { logger, lines } = capture('json');
    logger.info('ready', { event: 'daemon.ready' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((JSON.parse(lines[0]) as { event: string }).event, 'daemon.ready');
  });

  it("an error's stack goes on indented lines after the event", () => {
    const text = prettyLine(
      JSON.stringify({
        ts: 't',
        level: 'error',
        event: 'daemon.crash',
        msg: 'boom',
        err: { message: 'boom', stack: 'Error: boom\n    at x' },
      }),
    );
    assert.equal(
      text,
      't ERROR daemon.crash boom err={"message":"boom"}\n    Error: boom\n        at x',
    );
  });
});
