import { strict as assert } from 'node:assert';
import { activeAlerts, BooksyncMetrics, schedulePeriodMs, type OpsSnapshot } from '../../src/ops';
import type { SyncStatus } from '../../src/sync';

const NOW = new Date('2026-03-10T12:00:00Z');
const H = 3_600_000;
const THRESHOLDS = {
  syncOfflineAfterMs: 15 * 60_000,
  consentWarningMs: 3 * 24 * H,
  conflictAgeMs: 24 * H,
};

function iso(msBeforeNow: number): string {
  return new Date(NOW.getTime() - msBeforeNow).toISOString();
}

function status(over: Partial<SyncStatus> = {}): SyncStatus {
  return {
    state: 'online',
    mode: 'live',
    last_push_at: iso(1000),
    last_pull_at: iso(2000),
    pending_push: 0,
    pending_pull: 3,
    open_conflicts: 0,
    last_error: null,
    rewalk: null,
    excluded_in_cloud: null,
    ...over,
  };
}

/** A healthy daemon: sync online, one connection succeeding on a 4h schedule, balances agree. */
function healthy(): OpsSnapshot {
  return {
    at: NOW,
    sync: { status: status(), stateSince: new Date(NOW.getTime() - H), oldestConflictAt: null },
    bank: [
      {
        name: 'main',
        enabled: true,
        status: 'connected',
        last_refresh_at: iso(H),
        last_success_at: iso(H),
        next_run_at: iso(-3 * H),
        consent_expires_at: iso(-30 * 24 * H),
        schedule_ms: 4 * H,
      },
    ],
    ledger: {
      balances: [{ connection: 'main', currency: 'EUR', difference: 0, checked_at: iso(H) }],
      unreconciled: 2,
    },
  };
}

const names = (s: OpsSnapshot) => activeAlerts(s, THRESHOLDS).map((a) => a.key);

describe('ops: alert conditions', () => {
  it('raises nothing for a healthy daemon', () => {
    assert.deepEqual(names(healthy()), []);
  });

  it('raises BooksyncBankNoSuccess only past twice the schedule, and not for a disabled connection', () => {
    const s = healthy();
    s.bank[0].last_success_at = iso(8 * H - 1000);
    assert.deepEqual(names(s), []);
    s.bank[0].last_success_at = iso(8 * H + 1000);
    assert.deepEqual(names(s), ['BooksyncBankNoSuccess/main']);
    s.bank[0].enabled = false;
    assert.deepEqual(names(s), []);
  });

  it('raises consent expiry under 3 days and auth_required, per connection', () => {
    const s = healthy();
    s.bank[0].consent_expires_at = iso(-(3 * 24 * H - 1000));
    s.bank.push({ ...s.bank[0], name: 'card', status: 'auth_required', consent_expires_at: null });
    assert.deepEqual(names(s), [
      'BooksyncBankConsentExpiring/main',
      'BooksyncBankAuthRequired/card',
    ]);
    const auth = activeAlerts(s, THRESHOLDS)[1];
    assert.equal(auth.severity, 'critical');
    assert.equal(auth.connection, 'card');
  });

  it('raises BooksyncSyncOffline after 15 minutes offline or refused', () => {
    const s = healthy();
    s.sync = {
      status: status({ state: 'offline', last_error: { code: 'SYNC_UNAVAILABLE', message: 'x' } }),
      stateSince: new Date(NOW.getTime() - 14 * 60_000),
      oldestConflictAt: null,
    };
    assert.deepEqual(names(s), []);
    s.sync.stateSince = new Date(NOW.getTime() - 16 * 60_000);
    assert.deepEqual(names(s), ['BooksyncSyncOffline']);
    assert.match(activeAlerts(s, THRESHOLDS)[0].summary, /SYNC_UNAVAILABLE/);
    s.sync.status = status({ state: 'auth_error' });
    assert.deepEqual(names(s), ['BooksyncSyncOffline']);
  });

  it('raises a balance mismatch per connection and stale conflicts after a day, never with an amount or a document id', () => {
    const s = healthy();
    s.ledger.balances[0].difference = -1250;
    s.sync!.status = status({ open_conflicts: 2 });
    s.sync!.oldestConflictAt = iso(23 * H);
    assert.deepEqual(names(s), ['BooksyncBalanceMismatch/main']);
    s.sync!.oldestConflictAt = iso(25 * H);
    const all = activeAlerts(s, THRESHOLDS);
    assert.deepEqual(
      all.map((a) => a.key),
      ['BooksyncBalanceMismatch/main', 'BooksyncConflictsStale'],
    );
    assert.ok(all.every((a) => !a.summary.includes('1250') && !a.summary.includes('12.50')));
  });
});

describe('ops: metrics from a snapshot', () => {
  async function exposition(s: OpsSnapshot): Promise<string> {
    const m = new BooksyncMetrics('1.2.3');
    m.addConnection('main');
    m.applySnapshot(s);
    return m.registry.metrics();
  }

  it('exports one status series per state, timestamps in seconds and the schedule period', async () => {
    const text = await exposition(healthy());
    assert.match(text, /^booksync_bank_status\{connection="main",state="connected"\} 1$/m);
    assert.match(text, /^booksync_bank_status\{connection="main",state="auth_required"\} 0$/m);
    assert.match(
      text,
      new RegExp(
        `^booksync_bank_last_success_timestamp_seconds\\{connection="main"\\} ${(NOW.getTime() - H) / 1000}$`,
        'm',
      ),
    );
    assert.match(text, /^booksync_bank_schedule_interval_seconds\{connection="main"\} 14400$/m);
    assert.match(text, /^booksync_sync_state\{state="online"\} 1$/m);
    assert.match(text, /^booksync_sync_pending_documents\{direction="pull"\} 3$/m);
    assert.match(
      text,
      /^booksync_ledger_balance_difference_minor\{connection="main",currency="EUR"\} 0$/m,
    );
    assert.match(text, /^booksync_ledger_unreconciled_lines 2$/m);
    assert.match(text, /^booksync_info\{version="1.2.3"\} 1$/m);
    assert.match(text, /^process_cpu_seconds_total /m);
  });

  it('drops the series of a connection that left the config, and unknown values stay absent', async () => {
    const m = new BooksyncMetrics('1');
    m.applySnapshot(healthy());
    const s = healthy();
    s.bank = [
      {
        name: 'new',
        enabled: true,
        status: null,
        last_refresh_at: null,
        last_success_at: null,
        next_run_at: null,
        consent_expires_at: null,
        schedule_ms: H,
      },
    ];
    s.ledger.balances = [];
    s.sync!.status = status({ pending_push: null, last_push_at: null });
    m.applySnapshot(s);
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /connection="main"/);
    assert.doesNotMatch(text, /booksync_bank_last_success_timestamp_seconds\{/);
    assert.doesNotMatch(text, /booksync_sync_pending_documents\{direction="push"\}/);
    assert.doesNotMatch(text, /booksync_sync_last_success_timestamp_seconds\{direction="push"\}/);
  });

  it('keeps label values bounded: unknown error codes and status codes collapse', async () => {
    const m = new BooksyncMetrics('1');
    m.onSyncError('fetch failed: http://x/doc-123');
    m.onLocalResponse(9999);
    const text = await m.registry.metrics();
    assert.match(text, /^booksync_sync_errors_total\{code="OTHER"\} 1$/m);
    assert.match(text, /^booksync_local_api_requests_total\{code="0"\} 1$/m);
  });
});

describe("ops: a schedule's period", () => {
  it("is the interval of `every`, and the longest gap between a cron line's next firings", () => {
    const friday = new Date('2026-03-13T07:00:00Z');
    assert.equal(
      schedulePeriodMs({ name: 'a', enabled: true, schedule: { every: '4h' } }, friday),
      4 * H,
    );
    assert.equal(
      schedulePeriodMs({ name: 'b', enabled: true, schedule: { cron: '0 6 * * *' } }, friday),
      24 * H,
    );
    assert.equal(
      schedulePeriodMs({ name: 'c', enabled: true, schedule: { cron: '0 6 * * 1-5' } }, friday),
      72 * H,
      'Friday to Monday',
    );
  });
});
