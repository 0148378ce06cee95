import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import {
  BooksStore,
  LedgerError,
  StoreConflictError,
  StoreError,
  StoreLockedError,
  reverseMove,
  type AccountDoc,
  type MoveDoc,
  type StatementLineDoc,
} from '../../src/ledger';

/** Keeps every log entry in memory so a test can look for an event. */
class MemoryTransport extends Transport {
  readonly entries: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

const HELPER = path.join(__dirname, '..', 'helpers', 'ledger-open-store.js');

interface ChildReport {
  opened: boolean;
  error?: { name: string; code: string; message: string };
}

/** Forks the helper that opens the books in `dir`; resolves with its first report. */
function openInChild(
  dir: string,
  mode: 'try' | 'hold',
): { report: Promise<ChildReport>; close: () => Promise<void> } {
  const child = fork(HELPER, [dir, mode], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const report = new Promise<ChildReport>((resolve, reject) => {
    child.once('message', (msg) => resolve(msg as ChildReport));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`helper exited (${code}) before reporting`)));
  });
  return {
    report,
    close: async () => {
      if (child.connected) child.send('close');
      await exited;
    },
  };
}

function account(code: string, over: Partial<AccountDoc> = {}): AccountDoc {
  return {
    _id: `account:${code}`,
    type: 'account',
    code,
    name: `Account ${code}`,
    kind: 'asset',
    ...over,
  };
}

function move(key: string, state: 'draft' | 'posted', amount = 1000): MoveDoc {
  return {
    _id: `move:BNK1:${key}`,
    type: 'move',
    journal: 'BNK1',
    date: '2024-03-01',
    state,
    lines: [
      { account: '1010', debit: amount, credit: 0, currency: 'EUR' },
      { account: '499', debit: 0, credit: amount, currency: 'EUR' },
    ],
  };
}

function statementLine(key: string): StatementLineDoc {
  return {
    _id: `stl:kbc:${key}`,
    type: 'statement_line',
    connection: 'kbc',
    account_id: 'BE68539007547034',
    date: '2024-03-01',
    amount: -450,
    currency: 'EUR',
    dedup_key: key,
    pending: false,
    state: 'new',
    imported_at: '2024-03-01T10:00:00.000Z',
  };
}

async function rejectsWith<E>(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => E,
  code: string,
): Promise<E> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal((err as { code?: string }).code, code, String((err as Error).message));
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('books store (LevelDB)', function () {
  let tmp: string;
  let dir: string;
  let store: BooksStore;
  let now: Date;
  let logs: MemoryTransport;

  const open = () =>
    BooksStore.open(dir, {
      logger: winston.createLogger({ transports: [logs] }),
      clock: () => now,
    });

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-store-'));
    dir = path.join(tmp, 'state', 'books');
    now = new Date('2024-03-01T10:00:00.000Z');
    logs = new MemoryTransport();
    store = await open();
  });

  afterEach(async () => {
    await store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('put and get', () => {
    it('given a new account, when put, then it is stored with a rev and both timestamps', async () => {
      const written = await store.put(account('1010'));
      assert.match(written._rev, /^1-/);
      assert.equal(written.created_at, '2024-03-01T10:00:00.000Z');
      assert.equal(written.updated_at, '2024-03-01T10:00:00.000Z');
      const read = await store.get<AccountDoc>('account:1010');
      assert.deepEqual(read, written);
    });

    it('given a missing id, when read, then undefined', async () => {
      assert.equal(await store.get('account:none'), undefined);
    });

    it('given a stored doc, when put again later without a rev, then it updates it, keeping created_at', async () => {
      await store.put(account('1010'));
      now = new Date('2024-03-02T08:00:00.000Z');
      const updated = await store.put(
        account('1010', { name: 'Main bank', created_at: '1999-01-01T00:00:00.000Z' }),
      );
      assert.match(updated._rev, /^2-/);
      assert.equal(updated.created_at, '2024-03-01T10:00:00.000Z');
      assert.equal(updated.updated_at, '2024-03-02T08:00:00.000Z');
      assert.equal((await store.get<AccountDoc>('account:1010'))?.name, 'Main bank');
    });

    it('given keepTimestamps (a sync pull), then the document keeps its own updated_at', async () => {
      const remote = account('1010', {
        updated_at: '2023-12-31T23:00:00.000Z',
        created_at: '2023-01-01T00:00:00.000Z',
      });
      const written = await store.put(remote, { keepTimestamps: true });
      assert.equal(written.updated_at, '2023-12-31T23:00:00.000Z');
      assert.equal(written.created_at, '2023-01-01T00:00:00.000Z');
    });

    it('given an invalid document, then LedgerError names the field and nothing is stored', async () => {
      const err = await rejectsWith(
        store.put(account('1010', { kind: 'cash' as never })),
        LedgerError,
        'LEDGER_INVALID_DOC',
      );
      assert.equal(err.details.doc_id, 'account:1010');
      assert.equal(err.details.field, 'kind');
      assert.equal(await store.get('account:1010'), undefined);
    });

    it('given a deleted doc, when put again without a rev, then it is recreated', async () => {
      await store.put(account('1010'));
      await store.remove('account:1010');
      const again = await store.put(account('1010', { name: 'Reborn' }));
      assert.match(again._rev, /^3-/);
      assert.equal((await store.get<AccountDoc>('account:1010'))?.name, 'Reborn');
    });

    it('given a stale rev, then StoreConflictError names the document', async () => {
      const first = await store.put(account('1010'));
      await store.put({ ...first, name: 'changed elsewhere' });
      const err = await rejectsWith(
        store.put({ ...first, name: 'mine' }),
        StoreConflictError,
        'STORE_CONFLICT',
      );
      assert.deepEqual(err.details.ids, ['account:1010']);
      assert.match(err.message, /account:1010/);
      assert.equal((await store.get<AccountDoc>('account:1010'))?.name, 'changed elsewhere');
    });
  });

  describe('putMany', () => {
    it('writes a valid batch in one go', async () => {
      const written = await store.putMany([
        account('1010'),
        account('499', { kind: 'liability' }),
        move('1', 'draft'),
      ]);
      assert.deepEqual(
        written.map((d) => d._id),
        ['account:1010', 'account:499', 'move:BNK1:1'],
      );
      assert.ok(written.every((d) => /^1-/.test(d._rev)));
      assert.equal((await store.allOfType('account')).length, 2);
    });

    it('given one unbalanced move and one invalid account in a batch, then nothing is written and both problems are listed', async () => {
      const bad = move('2', 'draft');
      bad.lines[1].credit = 999;
      const err = await rejectsWith(
        store.putMany([account('1010'), bad, account('2000', { name: '' }), move('3', 'posted')]),
        LedgerError,
        'LEDGER_UNBALANCED',
      );
      assert.deepEqual(
        err.problems.map((p) => [p.doc_id, p.code]),
        [
          ['move:BNK1:2', 'LEDGER_UNBALANCED'],
          ['account:2000', 'LEDGER_INVALID_DOC'],
        ],
      );
      assert.match(err.message, /move:BNK1:2.*account:2000/);
      const counts = await store.countByType();
      assert.equal(counts.account, 0);
      assert.equal(counts.move, 0);
    });

    it('deletes through deletion stubs in the same batch, refusing a posted move', async () => {
      await store.putMany([
        statementLine('a'),
        statementLine('b'),
        move('1', 'posted'),
        move('2', 'draft'),
      ]);
      const written = await store.putMany([
        statementLine('c'),
        { _id: 'stl:kbc:a', _deleted: true },
        { _id: 'move:BNK1:2', _deleted: true },
      ]);
      assert.deepEqual(
        written.map((d) => [d._id, /^\d+-/.test(d._rev)]),
        [
          ['stl:kbc:c', true],
          ['stl:kbc:a', true],
          ['move:BNK1:2', true],
        ],
      );
      assert.equal(await store.get('stl:kbc:a'), undefined);
      assert.deepEqual(
        (await store.allOfType('statement_line')).map((d) => d._id),
        ['stl:kbc:b', 'stl:kbc:c'],
      );
      await rejectsWith(
        store.putMany([statementLine('d'), { _id: 'move:BNK1:1', _deleted: true }]),
        LedgerError,
        'LEDGER_POSTED_IMMUTABLE',
      );
      assert.equal(
        await store.get('stl:kbc:d'),
        undefined,
        'nothing of the refused batch is written',
      );
    });

    it('refuses the same id twice in one batch', async () => {
      await rejectsWith(
        store.putMany([account('1010'), account('1010')]),
        LedgerError,
        'LEDGER_INVALID_DOC',
      );
      assert.equal(await store.get('account:1010'), undefined);
    });

    it('returns an empty list for an empty batch', async () => {
      assert.deepEqual(await store.putMany([]), []);
    });
  });

  describe('posted moves', () => {
    it('stamps posted_at when a draft is posted', async () => {
      await store.put(move('1', 'draft'));
      now = new Date('2024-03-05T09:00:00.000Z');
      const posted = await store.put({ ...move('1', 'draft'), state: 'posted' });
      assert.equal(posted.posted_at, '2024-03-05T09:00:00.000Z');
    });

    it('refuses to edit or delete a posted move, and keeps it as it was', async () => {
      const posted = await store.put(move('1', 'posted'));
      await rejectsWith(
        store.put({ ...posted, ref: 'edited' }),
        LedgerError,
        'LEDGER_POSTED_IMMUTABLE',
      );
      const err = await rejectsWith(
        store.remove(posted._id),
        LedgerError,
        'LEDGER_POSTED_IMMUTABLE',
      );
      assert.equal(err.details.doc_id, posted._id);
      assert.deepEqual(await store.get(posted._id), posted);
    });

    it('accepts writing the same posted move again (an idempotent replay)', async () => {
      const posted = await store.put(move('1', 'posted'));
      now = new Date('2024-03-06T00:00:00.000Z');
      const again = await store.put(posted);
      assert.match(again._rev, /^2-/);
    });

    it('accepts the reversal of a posted move', async () => {
      const posted = await store.put(move('1', 'posted'));
      const reversal = await store.put(reverseMove(posted, '2024-03-10', '2'));
      assert.equal(reversal.reverses, 'move:BNK1:1');
      assert.equal(reversal.state, 'posted');
      assert.equal((await store.allOfType<MoveDoc>('move')).length, 2);
    });

    it('deletes a draft move; removing a missing id is a no-op', async () => {
      await store.put(move('1', 'draft'));
      await store.remove('move:BNK1:1');
      assert.equal(await store.get('move:BNK1:1'), undefined);
      await store.remove('move:BNK1:none');
    });

    it('given an override with a reason, then the edit and the delete pass and each is logged as ledger.override', async () => {
      const posted = await store.put(move('1', 'posted'));
      const edited = await store.put(
        { ...posted, ref: 'fixed by admin' },
        { override: { reason: 'conflict #7 resolved by admin' } },
      );
      assert.equal(edited.ref, 'fixed by admin');
      await store.remove(posted._id, { override: { reason: 'duplicate import' } });
      const events = logs.entries.filter((e) => e.event === 'ledger.override');
      assert.deepEqual(
        events.map((e) => [e.doc_id, e.reason, e.level]),
        [
          ['move:BNK1:1', 'conflict #7 resolved by admin', 'warn'],
          ['move:BNK1:1', 'duplicate import', 'warn'],
        ],
      );
    });

    it('does not log an override that bypassed nothing', async () => {
      await store.put(move('1', 'draft'), { override: { reason: 'habit' } });
      assert.equal(logs.entries.filter((e) => e.event === 'ledger.override').length, 0);
    });
  });

  describe('listing', () => {
    it('allOfType returns only that type, in id order, statement lines by their stl: prefix', async () => {
      await store.putMany([
        account('2000'),
        account('1010'),
        statementLine('b'),
        statementLine('a'),
        move('1', 'draft'),
      ]);
      assert.deepEqual(
        (await store.allOfType('account')).map((d) => d._id),
        ['account:1010', 'account:2000'],
      );
      assert.deepEqual(
        (await store.allOfType('statement_line')).map((d) => d._id),
        ['stl:kbc:a', 'stl:kbc:b'],
      );
      assert.deepEqual(await store.allOfType('partner'), []);
    });

    it('countByType counts every type, deleted documents excluded', async () => {
      await store.putMany([
        account('2000'),
        account('1010'),
        statementLine('a'),
        move('1', 'draft'),
      ]);
      await store.remove('account:2000');
      const counts = await store.countByType();
      assert.equal(counts.account, 1);
      assert.equal(counts.statement_line, 1);
      assert.equal(counts.move, 1);
      assert.equal(counts.bank_connection, 0);
      assert.deepEqual(Object.keys(counts).sort(), [
        'account',
        'audit',
        'bank_connection',
        'invoice',
        'journal',
        'move',
        'partner',
        'payment',
        'rate',
        'statement_line',
        'transfer',
      ]);
    });
  });

  describe('lifecycle and locking', () => {
    it('keeps the data across close and reopen', async () => {
      await store.putMany([account('1010'), move('1', 'posted')]);
      await store.close();
      store = await open();
      assert.equal((await store.get<AccountDoc>('account:1010'))?.name, 'Account 1010');
      assert.equal((await store.get<MoveDoc>('move:BNK1:1'))?.state, 'posted');
      await rejectsWith(store.remove('move:BNK1:1'), LedgerError, 'LEDGER_POSTED_IMMUTABLE');
    });

    it('close is idempotent', async () => {
      await store.close();
      await store.close();
      store = await open();
    });

    it('refuses a second open in the same process with STORE_LOCKED, and allows it after close', async () => {
      const err = await rejectsWith(open(), StoreLockedError, 'STORE_LOCKED');
      assert.match(err.message, /already open in this process/);
      const link = path.join(tmp, 'books-link');
      fs.symlinkSync(dir, link);
      const viaLink = BooksStore.open(path.join(link, '.'), {
        logger: winston.createLogger({ silent: true }),
      });
      await rejectsWith(viaLink, StoreLockedError, 'STORE_LOCKED');
      await store.put(account('1010'));
      assert.ok(await store.get('account:1010'), 'the first handle still works');
      await store.close();
      store = await open();
      assert.ok(await store.get('account:1010'));
    });

    it('given this process holds the books, when another process opens them, then it fails fast with a readable STORE_LOCKED', async () => {
      const child = openInChild(dir, 'try');
      const report = await child.report;
      await child.close();
      assert.equal(report.opened, false);
      assert.equal(report.error?.name, 'StoreLockedError');
      assert.equal(report.error?.code, 'STORE_LOCKED');
      assert.equal(
        report.error?.message,
        `another booksync process is using ${path.resolve(dir)} (LevelDB lock held); stop it or choose another state directory`,
      );
      assert.doesNotMatch(report.error?.message ?? '', /IO error|Resource temporarily unavailable/);
    });

    it('given another process holds the books, when this process opens them, then STORE_LOCKED keeps the LevelDB error as cause; once released, open works', async () => {
      await store.close();
      const child = openInChild(dir, 'hold');
      try {
        assert.deepEqual(await child.report, { opened: true });
        const err = await rejectsWith(open(), StoreLockedError, 'STORE_LOCKED');
        assert.match(err.message, /another booksync process is using/);
        assert.ok(
          err.cause instanceof Error && /lock/i.test(err.cause.message),
          'the LevelDB error is the cause',
        );
      } finally {
        await child.close();
      }
      store = await open();
      await store.put(account('1010'));
    });

    it('given a path that is a file, when opened, then STORE_OPEN names the path', async () => {
      const file = path.join(tmp, 'not-a-folder');
      fs.writeFileSync(file, 'x');
      const err = await rejectsWith(
        BooksStore.open(file, { logger: winston.createLogger({ silent: true }) }),
        StoreError,
        'STORE_OPEN',
      );
      assert.ok(err.message.includes(file), err.message);
    });

    it('creates missing parent folders', () => {
      assert.ok(fs.statSync(dir).isDirectory());
    });
  });
});
