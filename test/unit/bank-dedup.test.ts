import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { contentHash, planStatementLines, type PlanInput } from '../../src/bank/dedup';
import {
  consentDaysLeft,
  consentWarningDue,
  formatStatusTable,
  healthyStatus,
  initialStatus,
} from '../../src/bank/status';
import { fetchWindow, todayIn, validateSpec } from '../../src/bank/fetch-loop';
import { jitterMs, plannedAfter, seededRandom, validateSchedule } from '../../src/bank/scheduler';
import type { StatementLineDoc } from '../../src/ledger';
import type { BankTransaction } from '../../src/bank/provider';
import { statement, tx } from '../helpers/fake-provider';

const WINDOW = { from: '2024-03-01', to: '2024-03-31' };

function plan(
  txs: BankTransaction[],
  existing: StatementLineDoc[] = [],
  extra: Partial<PlanInput> = {},
) {
  return planStatementLines({
    connection: 'c',
    statements: [statement('ACC', txs)],
    includePending: true,
    window: WINDOW,
    existing,
    importedAt: '2024-03-31T00:00:00.000Z',
    ...extra,
  });
}

/** The store after applying a plan (new and updated docs; deletions removed). */
function apply(existing: StatementLineDoc[], p: ReturnType<typeof plan>): StatementLineDoc[] {
  const byId = new Map(existing.map((d) => [d._id, d]));
  for (const w of p.writes) {
    if ((w as { _deleted?: boolean })._deleted) byId.delete(w._id);
    else byId.set(w._id, w as StatementLineDoc);
  }
  return [...byId.values()];
}

describe('bank dedup planner', function () {
  it('given the content hash, then it ignores surrounding whitespace and currency case but not the amount', function () {
    const a = contentHash({
      date: '2024-03-01',
      amount: -350,
      currency: 'eur',
      payee: ' Café ',
      memo: 'x ',
    });
    assert.equal(
      a,
      contentHash({ date: '2024-03-01', amount: -350, currency: 'EUR', payee: 'Café', memo: 'x' }),
    );
    assert.notEqual(
      a,
      contentHash({ date: '2024-03-01', amount: -351, currency: 'EUR', payee: 'Café', memo: 'x' }),
    );
    assert.match(a, /^[0-9a-f]{32}$/);
  });

  it('given repeated provider ids in one fetch (Chase fee lines), then both lines come in under content keys', function () {
    const p = plan([
      tx({ providerId: 'F', amount: -1000, payee: 'Shop' }),
      tx({ providerId: 'F', amount: -30, payee: 'Foreign fee' }),
    ]);
    assert.equal(p.counts.new, 2);
    assert.ok(p.newIds.every((id) => id.startsWith('stl:c:h:ACC:')));
    const again = plan(
      [
        tx({ providerId: 'F', amount: -1000, payee: 'Shop' }),
        tx({ providerId: 'F', amount: -30, payee: 'Foreign fee' }),
      ],
      apply([], p),
    );
    assert.equal(again.counts.new, 0);
  });

  it('given pending lines without include_pending, then they are not imported', function () {
    const p = plan([tx({ pending: true }), tx({ providerId: 'B' })], [], { includePending: false });
    assert.equal(p.counts.new, 1);
    assert.equal(p.counts.pending, 0);
  });

  it('given a pending line outside the statement period, then it is not removed as vanished', function () {
    const first = plan([
      tx({ amount: -500, payee: 'Kiosk', bookingDate: '2024-03-05', pending: true }),
    ]);
    const stored = apply([], first);
    const p = planStatementLines({
      connection: 'c',
      statements: [statement('ACC', [], { from: '2024-03-20', to: '2024-03-31' })],
      includePending: true,
      window: WINDOW,
      existing: stored,
      importedAt: 'x',
    });
    assert.equal(p.counts.removed, 0);
  });

  it('property: planning the same feed again after applying the plan adds nothing, and n identical items give n lines', function () {
    const item = fc.record({
      day: fc.integer({ min: 1, max: 28 }),
      amount: fc.integer({ min: -5000, max: 5000 }).filter((a) => a !== 0),
      payee: fc.constantFrom('Café', 'Rent', 'Shop', ''),
      withId: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 30 }), (items) => {
        const feed = items.map((it, i) =>
          tx({
            bookingDate: `2024-03-${String(it.day).padStart(2, '0')}`,
            amount: it.amount,
            payee: it.payee,
            memo: undefined,
            ...(it.withId ? { providerId: `id${i}` } : {}),
          }),
        );
        const first = plan(feed);
        assert.equal(first.counts.new, feed.length, 'every transaction is a line');
        assert.equal(new Set(first.newIds).size, feed.length);
        const stored = apply([], first);
        const second = plan(feed, stored);
        assert.equal(second.counts.new, 0);
        assert.equal(second.writes.length, 0);
        const reordered = plan([...feed].reverse(), stored);
        assert.equal(reordered.counts.new, 0, 'order of the feed does not matter');
      }),
      { numRuns: 200 },
    );
  });
});

describe('bank status and schedule arithmetic', function () {
  it('given consent days left, then warnings are due once per threshold and a jump warns once', function () {
    assert.equal(consentDaysLeft('2024-04-04T10:00:00Z', new Date('2024-03-20T10:00:00Z')), 15);
    assert.equal(consentDaysLeft('2024-04-04T10:00:00Z', new Date('2024-03-20T10:00:01Z')), 15);
    assert.deepEqual(consentWarningDue(15, []), { threshold: 15, warned: [15] });
    assert.equal(consentWarningDue(14, [15]), undefined);
    assert.deepEqual(consentWarningDue(2, []), { threshold: 3, warned: [15, 3] });
    assert.equal(consentWarningDue(16, []), undefined);
    assert.equal(consentWarningDue(0, []), undefined);
    assert.equal(
      healthyStatus('2024-04-04T10:00:00Z', new Date('2024-03-01T00:00:00Z')),
      'connected',
    );
    assert.equal(
      healthyStatus('2024-04-04T10:00:00Z', new Date('2024-03-25T00:00:00Z')),
      'consent_expiring',
    );
  });

  it('given windows, then first runs use history days and later ones the overlap', function () {
    assert.deepEqual(fetchWindow(undefined, '2024-03-15', 90, 7), {
      from: '2023-12-16',
      to: '2024-03-15',
    });
    assert.deepEqual(fetchWindow('2024-03-10', '2024-03-15', 90, 7), {
      from: '2024-03-03',
      to: '2024-03-15',
    });
    assert.deepEqual(fetchWindow('2024-03-20', '2024-03-15', 90, 0), {
      from: '2024-03-15',
      to: '2024-03-15',
    });
    assert.equal(todayIn('Europe/Madrid', new Date('2024-03-30T23:30:00Z')), '2024-03-31');
    assert.equal(todayIn(undefined, new Date('2024-03-30T23:30:00Z')), '2024-03-30');
  });

  it('given a bad connection spec, then validation names the connection and the fix', function () {
    const base = {
      name: 'ok',
      provider: 'fake',
      institution: 'x',
      settings: {},
      secrets: {},
      stateDir: '/tmp/x',
    };
    assert.doesNotThrow(() => validateSpec(base));
    assert.throws(
      () => validateSpec({ ...base, name: 'a:b' }),
      /bank connection 'a:b': name must be/,
    );
    assert.throws(
      () => validateSpec({ ...base, timezone: 'Mars/Olympus' }),
      /timezone 'Mars\/Olympus' is not an IANA time zone/,
    );
    assert.throws(
      () => validateSpec({ ...base, overlapDays: -1 }),
      /overlapDays must be a whole number/,
    );
  });

  it('given schedules, then every/cron plans are exact and jitter stays within 5% and 5 minutes', function () {
    const at = new Date('2024-03-15T10:00:00Z');
    assert.equal(plannedAfter({ every: '4h' }, at).at.toISOString(), '2024-03-15T14:00:00.000Z');
    assert.equal(
      plannedAfter(undefined, at).at.toISOString(),
      '2024-03-15T22:00:00.000Z',
      'default every 12h',
    );
    const cron = plannedAfter({ cron: '0 6 * * *' }, at);
    assert.equal(cron.at.toISOString(), '2024-03-16T06:00:00.000Z');
    assert.equal(cron.periodMs, 86_400_000);
    assert.equal(
      plannedAfter({ cron: '0 6 * * *' }, at, 'Europe/Madrid').at.toISOString(),
      '2024-03-16T05:00:00.000Z',
    );
    const random = seededRandom(7);
    for (let i = 0; i < 100; i += 1) {
      const j = jitterMs(3_600_000, random);
      assert.ok(j >= 0 && j < 180_000);
      assert.ok(jitterMs(86_400_000, random) < 300_000);
    }
    assert.equal(seededRandom(3)(), seededRandom(3)(), 'seeded jitter is reproducible');
    assert.throws(() => validateSchedule({ every: '10s' }), /at least 1m/);
    assert.throws(() => validateSchedule({ cron: 'every day' }), /not a cron line/);
  });

  it('given status documents, then the table has one row per connection with the error or consent note', function () {
    const a = {
      ...initialStatus('main', 'simplefin', 'simplefin-bridge'),
      status: 'error' as const,
      last_error: { code: 'BANK_HTTP_500', message: 'bank answered 500' },
      last_refresh_at: '2024-03-15T09:00:00.000Z',
    };
    const b = {
      ...initialStatus('cards', 'gocardless', 'revolut'),
      status: 'consent_expiring' as const,
      consent_expires_at: '2024-03-20T00:00:00.000Z',
      next_run_at: '2024-03-15T14:00:00.000Z',
    };
    const table = formatStatusTable([a, b], new Date('2024-03-15T10:00:00Z')).split('\n');
    assert.equal(table.length, 3);
    assert.match(
      table[1],
      /^main\s+simplefin\s+error\s+1h ago\s+-\s+-\s+0\/0\/0\s+BANK_HTTP_500: bank answered 500$/,
    );
    assert.match(table[2], /in 4h.*consent ends 2024-03-20/);
  });
});
