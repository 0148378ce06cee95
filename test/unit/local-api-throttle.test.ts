import { strict as assert } from 'node:assert';
import winston from 'winston';
import { LoginThrottle } from '../../src/local-api/throttle';
import { MemoryTransport } from '../helpers/local-api-harness';

describe('local API login throttle (unit)', () => {
  function throttle(maxKeys: number): {
    t: LoginThrottle;
    logs: MemoryTransport;
    advance: (ms: number) => void;
  } {
    let now = Date.parse('2024-03-05T10:00:00.000Z');
    const logs = new MemoryTransport();
    const t = new LoginThrottle(
      () => new Date(now),
      winston.createLogger({ level: 'debug', transports: [logs] }),
      { maxKeys },
    );
    return { t, logs, advance: (ms) => (now += ms) };
  }

  it('given a burst that goes quiet, when the timer sweeps after a window, then it is logged once, and not again', () => {
    const { t, logs, advance } = throttle(100);
    for (let i = 0; i < 3; i++) t.failed('10.0.0.1', `name-${i}`);
    t.sweep();
    assert.equal(logs.entries.length, 0, 'a burst still going on is not logged');
    advance(60_000);
    t.sweep();
    t.sweep();
    assert.deepEqual(
      logs.entries.map((e) => [e.event, e.remote, e.failures, e.names]),
      [['local_api.login_failures', '10.0.0.1', 3, 3]],
    );
  });

  it('given failures from more addresses than it may remember, when they come, then the oldest bursts are logged early and memory stays bounded', () => {
    const { t, logs } = throttle(5);
    for (let i = 0; i < 12; i++) t.failed(`10.0.0.${i}`, undefined);
    assert.equal(logs.entries.length, 7, 'the seven oldest bursts were summed up to make room');
    assert.deepEqual(
      logs.entries.map((e) => e.remote),
      ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
    );
    t.flush();
    assert.equal(logs.entries.length, 12);
  });
});
