import assert from 'node:assert/strict';
import { createJobTimer } from '../../src/bank/scheduler';

const timer = createJobTimer();

describe('bank scheduler: job timer on the system clock', () => {
  it('runs a job whose instant passed before it was registered (a busy machine), and its cancel holds', async () => {
    const ran: string[] = [];
    const past = new Date(Date.now() - 1);
    const cancelled = timer.schedule('bank:late-a', past, () => ran.push('a'));
    cancelled.cancel();
    // Timers of the same delay fire in order: once b has run, a would have run before it.
    await new Promise<void>((resolve) =>
      timer.schedule('bank:late-b', past, () => {
        ran.push('b');
        resolve();
      }),
    );
    assert.deepEqual(ran, ['b']);
  });

  it('runs a job at a future instant', async () => {
    const job = await new Promise<string>((resolve) =>
      timer.schedule('bank:soon', new Date(Date.now() + 20), () => resolve('ran')),
    );
    assert.equal(job, 'ran');
  });
});
