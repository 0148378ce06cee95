import { strict as assert } from 'node:assert';
import http from 'node:http';
import {
  BASIC,
  type CallResult,
  type Harness,
  PASSWORD,
  USER,
  basic,
  call,
  harness,
  teardown,
} from '../helpers/local-api-harness';

/** A GET from a chosen loopback address (Linux routes all of 127/8 to lo). */
function getFrom(
  localAddress: string,
  url: string,
  authorization: string,
): Promise<{ status: number; body: unknown; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { localAddress, headers: { Authorization: authorization } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text),
            retryAfter: res.headers['retry-after'],
          }),
        );
      },
    );
    req.on('error', reject);
  });
}

describe('local API login throttling (component: injected clock and delay)', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  let now: number;
  let delays: number[];
  const denied = { logins: 0, responses: new Map<number, number>() };

  async function start(): Promise<Harness> {
    now = Date.parse('2024-03-05T10:00:00.000Z');
    delays = [];
    denied.logins = 0;
    denied.responses.clear();
    return harness(
      {},
      {
        clock: () => new Date(now),
        delay: (ms) => {
          delays.push(ms);
          return Promise.resolve();
        },
        observer: {
          onResponse: (status) =>
            denied.responses.set(status, (denied.responses.get(status) ?? 0) + 1),
          onLoginDenied: () => denied.logins++,
        },
      },
    );
  }

  afterEach(async () => {
    await teardown(h);
    h = undefined;
  });

  it('given 200 wrong passwords by Basic and by /_session, when they come, then delays double, 429 with Retry-After follows the 10th failure, one log line sums the burst, and a correct login after the window gets in', async () => {
    h = await start();
    const statuses: number[] = [];
    const retryAfter: number[] = [];
    for (let i = 0; i < 200; i++) {
      now += 100;
      const res: CallResult =
        i % 2 === 0
          ? await call(h.db, { auth: basic(USER, `wrong-${i}`) })
          : await call(`${h.api.url}/_session`, {
              method: 'POST',
              body: { name: USER, password: `wrong-${i}` },
              auth: null,
            });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter.push(Number(res.headers.get('retry-after')));
        assert.deepEqual(res.body, {
          error: 'too_many_requests',
          reason: 'Too many failed logins; try again later.',
        });
      }
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(statuses.slice(10), Array(190).fill(429));
    assert.deepEqual(
      delays,
      [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000],
      'each failure waits twice as long, up to 5 s',
    );
    assert.ok(
      retryAfter.every((s) => Number.isInteger(s) && s >= 1 && s <= 60),
      `Retry-After ${retryAfter.join(',')}`,
    );
    assert.ok(retryAfter[0] > retryAfter[retryAfter.length - 1], 'Retry-After counts down');

    // During the lockout even the right password is refused the same way: no oracle.
    assert.equal((await call(h.db)).status, 429);
    assert.equal(
      (
        await call(`${h.api.url}/_session`, {
          method: 'POST',
          body: { name: USER, password: PASSWORD },
          auth: null,
        })
      ).status,
      429,
    );
    assert.equal(
      h.logs.entries.filter((e) => e.level === 'warn').length,
      0,
      'no warn line while the burst goes on',
    );

    now += 61_000;
    const ok = await call(h.db);
    assert.equal(ok.status, 200);
    const login = await call(`${h.api.url}/_session`, {
      method: 'POST',
      body: { name: USER, password: PASSWORD },
      auth: null,
    });
    assert.equal(login.status, 200);

    const warns = h.logs.entries.filter((e) => e.level === 'warn');
    assert.equal(warns.length, 1, 'one summary line for the burst');
    assert.equal(warns[0].event, 'local_api.login_failures');
    assert.equal(warns[0].failures, 10);
    assert.equal(warns[0].refused, 192);
    assert.ok(!h.logs.text().includes('wrong-'), 'no tried password in the log');
    assert.equal(denied.logins, 202);
    assert.equal(denied.responses.get(429), 192);
    assert.equal(denied.responses.get(401), 10);
  });

  it('given a wrong password for the real user and for an unknown user, when compared, then the answers and delays are the same', async () => {
    h = await start();
    const asks = async (name: string) => {
      delays = [];
      const viaBasic = await call(h!.db, { auth: basic(name, 'wrong') });
      const viaSession = await call(`${h!.api.url}/_session`, {
        method: 'POST',
        body: { name, password: 'wrong' },
        auth: null,
      });
      const answer = [viaBasic, viaSession].map((r) => {
        const headers: string[] = [];
        r.headers.forEach((value, key) => key !== 'date' && headers.push(`${key}: ${value}`));
        return { status: r.status, body: r.body as unknown, headers };
      });
      assert.equal((await call(h!.db)).status, 200); // a success clears the address's failures
      return { answer, delays };
    };
    const real = await asks(USER);
    const ghost = await asks('nobody-here');
    assert.deepEqual(ghost, real);
    assert.equal(real.answer[0].status, 401);

    // Once the address is locked out, both names get the same 429.
    for (let i = 0; i < 10; i++)
      assert.equal((await call(h.db, { auth: basic(`probe-${i}`, 'wrong') })).status, 401);
    const lockedGhost = await call(h.db, { auth: basic('nobody-here', 'wrong') });
    const lockedReal = await call(h.db, { auth: basic(USER, 'wrong') });
    assert.deepEqual(
      [lockedReal.status, lockedReal.body, lockedReal.headers.get('retry-after')],
      [lockedGhost.status, lockedGhost.body, lockedGhost.headers.get('retry-after')],
    );
    assert.equal(lockedReal.status, 429);
  });

  it('given 10 failures for one user from one address, when that user and another try from a second address, then the user is locked out and the other is not', async () => {
    h = await start();
    for (let i = 0; i < 10; i++)
      assert.equal((await getFrom('127.0.0.1', h.db, basic(USER, `wrong-${i}`))).status, 401);
    const sameUser = await getFrom('127.0.0.2', h.db, BASIC);
    assert.equal(sameUser.status, 429);
    assert.equal(sameUser.retryAfter, '60');
    const otherUser = await getFrom('127.0.0.2', h.db, basic('auditor', 'wrong'));
    assert.equal(otherUser.status, 401, 'the second address is not locked');
  });
});
