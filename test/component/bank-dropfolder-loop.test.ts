import { strict as assert } from 'node:assert';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { FetchLoop, type ConnectionSpec } from '../../src/bank/fetch-loop';
import { builtinRegistry } from '../../src/bank/providers';
import { readStatus } from '../../src/bank/status';
import type { StatementLineDoc } from '../../src/ledger';
import {
  captureLogger,
  fakeClock,
  tempDir,
  tempStore,
  type CapturedLog,
} from '../helpers/fake-provider';

const DEMO = path.resolve(__dirname, '../../../demo/statements');
const DEMO_FILES = ['demo-2024-01.ofx', 'demo-2024-02.camt053.xml'];

/** The fetch loop with the real drop-folder provider on the shipped demo statements. */
describe('bank fetch loop with the drop folder', function () {
  let log: CapturedLog;
  let tmp: ReturnType<typeof tempDir>;
  let books: Awaited<ReturnType<typeof tempStore>>;
  let loop: FetchLoop;
  let inbox: string;
  let spec: ConnectionSpec;
  const clock = fakeClock('2024-03-01T07:00:00Z');
  const lines = async () => books.store.allOfType<StatementLineDoc>('statement_line');
  const drop = () =>
    DEMO_FILES.forEach((f) => copyFileSync(path.join(DEMO, f), path.join(inbox, f)));

  beforeEach(async function () {
    log = captureLogger();
    tmp = tempDir();
    books = await tempStore(log.logger, clock.now);
    loop = new FetchLoop({
      store: books.store,
      registry: builtinRegistry(),
      logger: log.logger,
      now: clock.now,
    });
    inbox = path.join(tmp.dir, 'inbox');
    mkdirSync(inbox);
    spec = {
      name: 'demo',
      provider: 'dropfolder',
      institution: 'demo-bank',
      journal: 'BNK1',
      settings: {
        path: inbox,
        archive: path.join(tmp.dir, 'archive'),
        rejected: path.join(tmp.dir, 'rejected'),
      },
      secrets: {},
      stateDir: path.join(tmp.dir, 'state', 'demo'),
    };
  });

  afterEach(async function () {
    await books.close();
    tmp.cleanup();
  });

  it('given the demo statements, when the demo connection runs, then 14 lines land once with their invoice references and the files are archived', async function () {
    drop();
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    assert.equal(outcome.counts.new, 14);
    const all = await lines();
    assert.equal(all.length, 14);
    assert.ok(
      all.every(
        (l) =>
          l.account_id === 'DE45120300001234567890' && l.currency === 'EUR' && l.state === 'new',
      ),
    );
    assert.equal(
      all.filter((l) => l.amount === -350 && l.date === '2024-01-19').length,
      2,
      'the two identical coffees stay two',
    );
    for (const ref of [
      'INV/2024/0001',
      'INV/2024/0002',
      'INV/2024/0003',
      'INV/2024/0004',
      'INV/2024/0005',
      'BILL/2024/0001',
    ]) {
      assert.ok(
        all.some((l) => `${l.memo ?? ''} ${l.reference ?? ''}`.includes(ref)),
        ref,
      );
    }
    assert.equal(
      all.reduce((sum, l) => sum + l.amount, 0),
      967799 - 1000000,
      'opening 10,000.00 + lines = closing 9,677.99',
    );
    assert.deepEqual(readdirSync(inbox), []);
    assert.deepEqual(readdirSync(path.join(tmp.dir, 'archive')).sort(), [...DEMO_FILES].sort());
    const doc = await readStatus(books.store, 'demo');
    assert.deepEqual(doc?.balance, { amount: 967799, currency: 'EUR', date: '2024-02-29' });
    assert.equal(doc?.watermark, '2024-03-01');
  });

  it('given a camt.053 return with its reason and an MT942 interim report, then the stored lines keep reversal, return reason and extra text, and the MT942 lines are stored only with include_pending', async function () {
    const fixtures = path.resolve(__dirname, '../../../test/fixtures/statements');
    copyFileSync(path.join(fixtures, 'camt053-parity.xml'), path.join(inbox, 'parity.xml'));
    copyFileSync(path.join(fixtures, 'mt942-interim.sta'), path.join(inbox, 'intraday.sta'));
    const outcome = await loop.run({ ...spec, historyDays: 3650 });
    assert.equal(outcome.status, 'connected', JSON.stringify(outcome.error));
    const stored = await lines();
    const returned = stored.find((l) => l.provider_id === 'BANKREF-0305-1');
    assert.deepEqual(
      [returned?.reversal, returned?.return_reason, returned?.additional_info],
      [true, 'AC04', 'RUECKUEBERWEISUNG'],
    );
    assert.equal(
      stored.filter((l) => l.account_id === 'DE89370400440532013000').length,
      0,
      'interim lines are pending: not stored without include_pending',
    );

    copyFileSync(path.join(fixtures, 'mt942-interim.sta'), path.join(inbox, 'intraday.sta'));
    clock.advance(60_000);
    const withPending = await loop.run({ ...spec, historyDays: 3650, includePending: true });
    assert.equal(withPending.status, 'connected', JSON.stringify(withPending.error));
    const interim = (await lines()).filter((l) => l.account_id === 'DE89370400440532013000');
    assert.deepEqual(interim.map((l) => [l.amount, l.pending]).sort(), [
      [-12000, true],
      [98050, true],
    ]);
  });

  it('given the same files dropped again, then nothing is imported twice', async function () {
    drop();
    await loop.run(spec);
    drop();
    const again = await loop.run(spec);
    assert.equal(again.counts.new, 0);
    assert.equal(again.counts.duplicates, 14);
    assert.equal((await lines()).length, 14);
  });

  it('given the archive cannot be written (a crash between storing and archiving), then the watermark stays, the files stay, and the retry imports nothing twice', async function () {
    writeFileSync(path.join(tmp.dir, 'archive'), 'not a folder');
    drop();
    const failed = await loop.run(spec);
    assert.equal(failed.status, 'error');
    assert.equal((await lines()).length, 14);
    assert.deepEqual(readdirSync(inbox).sort(), [...DEMO_FILES].sort());
    assert.equal((await readStatus(books.store, 'demo'))?.watermark, undefined);
    const retry = await loop.run({
      ...spec,
      settings: { ...spec.settings, archive: path.join(tmp.dir, 'archive2') },
    });
    assert.equal(retry.status, 'connected');
    assert.equal(retry.counts.new, 0);
    assert.deepEqual(readdirSync(inbox), []);
  });

  it('given keep_files (the default demo config), then repeated runs keep the samples and add nothing', async function () {
    drop();
    const keep = { ...spec, settings: { ...spec.settings, keep_files: true } };
    assert.equal((await loop.run(keep)).counts.new, 14);
    clock.advance(60_000);
    const second = await loop.run(keep);
    assert.equal(second.counts.new, 0);
    assert.equal(readdirSync(inbox).length, 2);
  });

  it('given a malformed file beside a good one, then the good one imports and the bad one is rejected with a reason, nothing of it imported', async function () {
    copyFileSync(path.join(DEMO, DEMO_FILES[0]), path.join(inbox, DEMO_FILES[0]));
    writeFileSync(
      path.join(inbox, 'broken.ofx'),
      'OFXHEADER:100\r\nDATA:OFXSGML\r\n\r\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR<BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>2024XX01<TRNAMT>abc</STMTTRN>',
    );
    const outcome = await loop.run(spec);
    assert.equal(outcome.status, 'connected');
    assert.equal(outcome.counts.new, 7);
    assert.match(outcome.warnings.join('\n'), /rejected broken\.ofx/);
    assert.ok(existsSync(path.join(tmp.dir, 'rejected', 'broken.ofx.reason')));
    assert.ok(
      readFileSync(path.join(tmp.dir, 'rejected', 'broken.ofx.reason'), 'utf8').length > 10,
    );
  });
});
