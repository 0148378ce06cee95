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
import YAML from 'yaml';
import type { FetchContext } from '../../src/bank/provider';
import { dropfolder } from '../../src/bank/providers/dropfolder';
import { captureLogger, tempDir, type CapturedLog } from '../helpers/fake-provider';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');

/** The drop-folder provider on a real temp folder: parse, reject, archive on commit. */
describe('drop-folder provider', function () {
  let tmp: ReturnType<typeof tempDir>;
  let log: CapturedLog;
  let inbox: string;
  let archive: string;
  let rejected: string;

  const ctx = (settings: Record<string, unknown> = {}): FetchContext => ({
    connection: 'drop-test',
    settings: { path: inbox, archive, rejected, ...settings },
    secrets: {},
    window: { from: '2024-02-01', to: '2024-02-10' },
    includePending: false,
    stateDir: path.join(tmp.dir, 'state'),
    logger: log.logger,
    signal: new AbortController().signal,
    requestTimeoutMs: 1000,
    now: () => new Date('2024-03-01T00:00:00Z'),
  });
  const drop = (...names: string[]): void =>
    names.forEach((n) => copyFileSync(path.join(FIXTURES, n), path.join(inbox, n)));
  const ls = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

  beforeEach(function () {
    tmp = tempDir('booksync-dropfolder-');
    log = captureLogger();
    inbox = path.join(tmp.dir, 'inbox');
    archive = path.join(tmp.dir, 'archive');
    rejected = path.join(tmp.dir, 'rejected');
    mkdirSync(inbox);
  });

  afterEach(function () {
    tmp.cleanup();
  });

  it('given good files of every format, when fetched, then all statements come back (outside the window too) and nothing moves until commit()', async function () {
    drop(
      'ofx102-checking.ofx',
      'camt053-v02.xml',
      'mt940-swift-german.sta',
      'csv-de-semicolon.csv',
    );
    const csv: unknown = YAML.parse(
      readFileSync(path.join(FIXTURES, 'csv-de-semicolon.mapping.yaml'), 'utf8'),
    );
    const result = await dropfolder.fetch(ctx({ csv }));
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['DE89370400440532013000', 'DE89370400440532013000', '0532013000', '4120012345'],
    );
    assert.equal(
      result.statements.reduce((n, s) => n + s.transactions.length, 0),
      4 + 7 + 3 + 4,
    );
    assert.ok(
      result.statements[3].transactions.some((t) => t.bookingDate < '2024-02-01'),
      'lines outside ctx.window are returned; the loop filters',
    );
    assert.deepEqual(ls(inbox), [
      'camt053-v02.xml',
      'csv-de-semicolon.csv',
      'mt940-swift-german.sta',
      'ofx102-checking.ofx',
    ]);
    assert.deepEqual(ls(archive), []);
    await result.commit!();
    assert.deepEqual(ls(inbox), []);
    assert.deepEqual(ls(archive), [
      'camt053-v02.xml',
      'csv-de-semicolon.csv',
      'mt940-swift-german.sta',
      'ofx102-checking.ofx',
    ]);
    assert.equal(log.events('bank.file').length, 4);
  });

  it('given a malformed file among good ones, then it moves to rejected/ with a .reason naming file, line and field, contributes nothing, and the good file still imports', async function () {
    drop('ofx102-checking.ofx', 'malformed-truncated.ofx');
    const result = await dropfolder.fetch(ctx());
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['4120012345'],
    );
    assert.deepEqual(ls(rejected), ['malformed-truncated.ofx', 'malformed-truncated.ofx.reason']);
    assert.equal(
      readFileSync(path.join(rejected, 'malformed-truncated.ofx.reason'), 'utf8'),
      'malformed-truncated.ofx:46: STMTTRN: file ends inside this transaction (truncated file?)\n',
    );
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0],
      /^rejected malformed-truncated\.ofx: malformed-truncated\.ofx:46: STMTTRN: file ends inside/,
    );
    assert.deepEqual(ls(inbox), ['ofx102-checking.ofx']);
    await result.commit!();
    assert.deepEqual(ls(archive), ['ofx102-checking.ofx']);
    assert.deepEqual(
      ls(rejected),
      ['malformed-truncated.ofx', 'malformed-truncated.ofx.reason'],
      'commit leaves rejected files alone',
    );
  });

  it('given each malformed fixture, then each .reason names its exact location', async function () {
    drop(
      'malformed-camt-bad-amount.xml',
      'malformed-mt940-missing-62f.sta',
      'malformed-csv-bad-date.csv',
      'malformed-bad-amount.ofx',
    );
    const csv: unknown = YAML.parse(
      readFileSync(path.join(FIXTURES, 'malformed-csv-bad-date.mapping.yaml'), 'utf8'),
    );
    const result = await dropfolder.fetch(ctx({ csv }));
    assert.deepEqual(result.statements, []);
    const reason = (n: string): string =>
      readFileSync(path.join(rejected, `${n}.reason`), 'utf8').trim();
    assert.match(
      reason('malformed-bad-amount.ofx'),
      /^malformed-bad-amount\.ofx:49: TRNAMT: '12\.3\.4' is not an amount/,
    );
    assert.equal(
      reason('malformed-camt-bad-amount.xml'),
      "malformed-camt-bad-amount.xml:61: Ntry/Amt: '119,00' is not an ISO 20022 amount (digits with a '.' decimal)",
    );
    assert.equal(
      reason('malformed-mt940-missing-62f.sta'),
      'malformed-mt940-missing-62f.sta:1: :62F: statement without a closing balance (:62F:/:62M:): truncated or incomplete',
    );
    assert.equal(
      reason('malformed-csv-bad-date.csv'),
      "malformed-csv-bad-date.csv:7: row 7: column 'Buchungstag': '31.13.2024' is not a date in the format DD.MM.YYYY",
    );
    assert.equal(result.warnings.length, 4);
  });

  it('ignores dotfiles, *.part, *.tmp and sub-folders; reads files in name order', async function () {
    drop('quirk-two-statements.ofx', 'ofx102-checking.ofx');
    writeFileSync(path.join(inbox, '.hidden.ofx'), 'x');
    writeFileSync(path.join(inbox, 'upload.ofx.part'), 'x');
    writeFileSync(path.join(inbox, 'upload.tmp'), 'x');
    mkdirSync(path.join(inbox, 'sub'));
    const result = await dropfolder.fetch(ctx());
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['4120012345', '1111', '2222', '4000123412341234'],
    );
    assert.deepEqual(result.warnings, []);
    await result.commit!();
    assert.deepEqual(ls(inbox), ['.hidden.ofx', 'sub', 'upload.ofx.part', 'upload.tmp']);
  });

  it('given keep_files, then commit() leaves the files in place and a second fetch reads them again', async function () {
    drop('ofx102-checking.ofx');
    const first = await dropfolder.fetch(ctx({ keep_files: true }));
    await first.commit!();
    assert.deepEqual(ls(inbox), ['ofx102-checking.ofx']);
    assert.deepEqual(ls(archive), []);
    const second = await dropfolder.fetch(ctx({ keep_files: true }));
    assert.deepEqual(second.statements, first.statements);
  });

  it("given settings.account, then only that account's statements are returned, with a warning for the rest", async function () {
    drop('quirk-two-statements.ofx');
    const result = await dropfolder.fetch(ctx({ account: '2222' }));
    assert.deepEqual(
      result.statements.map((s) => s.accountId),
      ['2222'],
    );
    assert.deepEqual(result.warnings, [
      'quirk-two-statements.ofx: 2 statement(s) of other accounts skipped (settings.account is 2222)',
    ]);
  });

  it('given a name already in archive/, then the new file is archived beside it, never overwriting', async function () {
    mkdirSync(archive);
    writeFileSync(path.join(archive, 'ofx102-checking.ofx'), 'older');
    drop('ofx102-checking.ofx');
    const result = await dropfolder.fetch(ctx());
    await result.commit!();
    assert.deepEqual(ls(archive), ['ofx102-checking-1.ofx', 'ofx102-checking.ofx']);
    assert.equal(readFileSync(path.join(archive, 'ofx102-checking.ofx'), 'utf8'), 'older');
  });

  it('given no archive/rejected settings (null from the config), then the folders live in the connection state folder', async function () {
    drop('ofx102-checking.ofx', 'malformed-truncated.ofx');
    const result = await dropfolder.fetch(ctx({ archive: null, rejected: null }));
    await result.commit!();
    assert.deepEqual(ls(path.join(tmp.dir, 'state', 'archive')), ['ofx102-checking.ofx']);
    assert.deepEqual(ls(path.join(tmp.dir, 'state', 'rejected')), [
      'malformed-truncated.ofx',
      'malformed-truncated.ofx.reason',
    ]);
  });

  it('given a missing inbox, then fetch fails with BANK_DROPFOLDER_UNREADABLE naming the folder', async function () {
    await assert.rejects(
      dropfolder.fetch(ctx({ path: path.join(tmp.dir, 'nope') })),
      (err: Error & { code?: string }) =>
        err.code === 'BANK_DROPFOLDER_UNREADABLE' && err.message.includes('nope'),
    );
  });
});
