import { strict as assert } from 'node:assert';
import { createJobTimer, MAX_TIMEOUT_MS, type TimerClock } from '../../src/bank/job-timer';

const DAY = 24 * 3600_000;

/** A clock that only moves when told; `advance` fires the timers that fall due, in order. */
class FakeClock implements TimerClock {
  private t = Date.parse('2026-03-01T00:00:00Z');
  private seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
    }
    this.t = end;
  }
}

describe('job timer (injected clock)', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('given an instant in the past, then the job runs on the next turn, not at once and not never', () => {
    const timer = createJobTimer(clock);
    const ran: string[] = [];
    timer.schedule('bank:late', new Date(clock.now() - 60_000), () => ran.push('late'));
    assert.deepEqual(ran, [], 'never synchronously');
    assert.deepEqual(clock.delays, [0]);
    clock.advance(0);
    assert.deepEqual(ran, ['late']);
    assert.equal(timer.pending().size, 0);
  });

  it('given a future instant, then the job runs exactly then, once', () => {
    const timer = createJobTimer(clock);
    let runs = 0;
    timer.schedule('bank:soon', new Date(clock.now() + 4 * 3600_000), () => runs++);
    clock.advance(4 * 3600_000 - 1);
    assert.equal(runs, 0);
    clock.advance(1);
    assert.equal(runs, 1);
    clock.advance(30 * DAY);
    assert.equal(runs, 1);
  });

  it('given an instant 60 days ahead, beyond the longest setTimeout, then it waits in steps and runs on the day', () => {
    const timer = createJobTimer(clock);
    const at = new Date(clock.now() + 60 * DAY);
    let ranAt: number | undefined;
    timer.schedule('bank:quarterly', at, () => (ranAt = clock.now()));
    assert.ok(
      clock.delays.every((d) => d <= MAX_TIMEOUT_MS),
      `a delay over the limit fires at once: ${clock.delays.join(', ')}`,
    );
    clock.advance(60 * DAY - 1);
    assert.equal(ranAt, undefined, 'not early');
    assert.equal(timer.pending().get('bank:quarterly')?.getTime(), at.getTime());
    clock.advance(1);
    assert.equal(ranAt, at.getTime());
    assert.ok(clock.delays.every((d) => d <= MAX_TIMEOUT_MS));
    assert.ok(clock.delays.length >= 3, 'waited in steps');
  });

  it('given a long wait, when cancelled midway or shut down, then the job never runs', () => {
    const timer = createJobTimer(clock);
    let runs = 0;
    const far = timer.schedule('bank:a', new Date(clock.now() + 40 * DAY), () => runs++);
    timer.schedule('bank:b', new Date(clock.now() + 50 * DAY), () => runs++);
    timer.schedule('bank:c', new Date(clock.now() + DAY), () => runs++);
    clock.advance(30 * DAY);
    assert.equal(runs, 1);
    far.cancel();
    void timer.shutdown?.();
    assert.equal(timer.pending().size, 0);
    clock.advance(60 * DAY);
    assert.equal(runs, 1);
    assert.equal(clock.timers.size, 0);
  });
});
