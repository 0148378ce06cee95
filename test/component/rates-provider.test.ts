import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { rateId, type RateDoc, type StatementLineDoc } from '../../src/ledger';
import {
  RateWatch,
  automateForeignConnections,
  demoCompanyFile,
  ensureCompany,
  loadCompanyFile,
  type RateReaction,
} from '../../src/ledger/automation';
import { RatesRunner, type RatesSettings } from '../../src/rates';
import { EcbServer } from '../helpers/sim/ecb-server';
import { RULES, clock, get, openBooks, stl, type Books } from './ledger-auto-helpers';

/**
 * The rates sources against the books (docs/CURRENCIES.md, "Rates sources"): the ECB simulator
 * over HTTP on 127.0.0.1 and a drop folder of CSV files, and a waiting USD line posted when the
 * provider's rate arrives.
 */
describe('rates: providers write rate documents', () => {
  let books: Books;
  let ecb: EcbServer;
  let folder: string;
  const settings = (over: Partial<RatesSettings> = {}): RatesSettings => ({
    provider: 'ecb',
    url: ecb.url,
    schedule: { every: '6h' },
    folder: null,
    requestTimeoutMs: 2000,
    ...over,
  });

  beforeEach(async () => {
    books = await openBooks();
    ecb = new EcbServer();
    await ecb.start();
    folder = mkdtempSync(path.join(tmpdir(), 'booksync-rates-'));
  });
  afterEach(async () => {
    await ecb.stop();
    await books.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('given the ECB publishes a day, then each rate becomes a document, and a second run changes nothing', async () => {
    ecb.days = { '2024-02-01': { USD: '1.0830', JPY: '160.02', KWD: '0.33350' } };
    const runner = new RatesRunner(books.store, settings(), books.logger);
    const first = await runner.runNow();
    assert.deepEqual(first.errors, []);
    assert.deepEqual(first.provider, { created: 3, unchanged: 0, skipped: 0 });
    const usd = await get<RateDoc>(books.store, rateId('EUR', 'USD', '2024-02-01'));
    assert.deepEqual([usd.rate, usd.source], ['1.0830', 'ecb']);
    const second = await runner.runNow();
    assert.deepEqual(second.provider, { created: 0, unchanged: 3, skipped: 0 });
  });

  for (const mode of ['truncated', 'status500'] as const)
    it(`given a ${mode} answer, then the run reports a named error and stores nothing`, async () => {
      ecb.days = { '2024-02-01': { USD: '1.0830', JPY: '160.02', KWD: '0.33350' } };
      ecb.mode = mode;
      const run = await new RatesRunner(books.store, settings(), books.logger).runNow();
      assert.equal(run.errors[0].code, mode === 'truncated' ? 'RATES_MALFORMED' : 'RATES_FETCH');
      assert.deepEqual(await books.store.allOfType('rate'), []);
      assert.ok(
        books.entries.some((e) => e.event === 'rates.error' && e.code === run.errors[0].code),
      );
    });

  it('given a hung server, then the run ends by its timeout with RATES_FETCH', async () => {
    ecb.days = { '2024-02-01': { USD: '1.0830' } };
    ecb.mode = 'hang';
    const run = await new RatesRunner(
      books.store,
      settings({ requestTimeoutMs: 200 }),
      books.logger,
    ).runNow();
    assert.equal(run.errors[0].code, 'RATES_FETCH');
  });

  it('given a rate that differs from the books, then nothing of the answer is stored (RATES_CONFLICT)', async () => {
    await books.store.put({
      _id: rateId('EUR', 'USD', '2024-02-01'),
      type: 'rate',
      base: 'EUR',
      quote: 'USD',
      date: '2024-02-01',
      rate: '1.0900',
      source: 'csv:manual.csv',
    });
    ecb.days = { '2024-02-01': { USD: '1.0830', JPY: '160.02' } };
    const run = await new RatesRunner(books.store, settings(), books.logger).runNow();
    assert.equal(run.errors[0].code, 'RATES_CONFLICT');
    assert.match(run.errors[0].message, /rate:EUR:USD:2024-02-01 is 1\.0900 in the books/);
    assert.equal(await books.store.get(rateId('EUR', 'JPY', '2024-02-01')), undefined);
    assert.equal(
      (await get<RateDoc>(books.store, rateId('EUR', 'USD', '2024-02-01'))).rate,
      '1.0900',
    );
  });

  it('given CSV files in the drop folder, then a good one is stored and archived, a bad one rejected whole with its reason', async () => {
    writeFileSync(
      path.join(folder, 'a.csv'),
      'date,base,quote,rate\n2024-02-01,EUR,USD,1.0830\n2024-02-01,USD,JPY,147.50\n',
    );
    writeFileSync(
      path.join(folder, 'b.csv'),
      'date,base,quote,rate\n2024-02-02,EUR,USD,1.0800\n2024-02-02,EUR,USD,oops\n',
    );
    const run = await new RatesRunner(
      books.store,
      settings({ provider: 'none', folder }),
      books.logger,
    ).runNow();
    assert.deepEqual(
      (await books.store.allOfType<RateDoc>('rate')).map((r) => [r._id, r.source]),
      [
        ['rate:EUR:USD:2024-02-01', 'csv:a.csv'],
        ['rate:USD:JPY:2024-02-01', 'csv:a.csv'],
      ],
    );
    assert.deepEqual(readdirSync(path.join(folder, 'archive')), ['a.csv']);
    assert.deepEqual(readdirSync(path.join(folder, 'rejected')).sort(), ['b.csv', 'b.csv.reason']);
    const reason = readFileSync(path.join(folder, 'rejected', 'b.csv.reason'), 'utf8');
    assert.match(reason, /^RATES_MALFORMED: .*b\.csv:3: rate 'oops'/);
    assert.equal(run.errors.length, 1);
    assert.ok(!existsSync(path.join(folder, 'a.csv')));
  });

  it('given keep_files, then the files stay in place, a second run stores nothing new, and a bad file is reported again', async () => {
    writeFileSync(path.join(folder, 'a.csv'), 'date,base,quote,rate\n2024-02-01,EUR,USD,1.0830\n');
    writeFileSync(path.join(folder, 'b.csv'), 'date,base,quote,rate\n2024-02-02,EUR,USD,oops\n');
    const runner = new RatesRunner(
      books.store,
      settings({ provider: 'none', folder, keepFiles: true }),
      books.logger,
    );
    const first = await runner.runNow();
    const second = await runner.runNow();
    assert.deepEqual(readdirSync(folder).sort(), ['a.csv', 'b.csv']);
    assert.deepEqual(
      [first, second].map((run) =>
        (run.folder ?? []).map((f) => [
          path.basename(f.file),
          f.stored?.created.length ?? f.error?.code,
        ]),
      ),
      [
        [
          ['a.csv', 1],
          ['b.csv', 'RATES_MALFORMED'],
        ],
        [
          ['a.csv', 0],
          ['b.csv', 'RATES_MALFORMED'],
        ],
      ],
    );
    assert.equal((await books.store.allOfType<RateDoc>('rate')).length, 1);
  });

  it('given a USD line waiting for its rate, when the ECB publishes it, then the line is posted', async () => {
    await ensureCompany(books.store, loadCompanyFile(demoCompanyFile()));
    await books.store.putMany([
      { _id: 'account:1020', type: 'account', code: '1020', name: 'Bank USD', kind: 'asset' },
      { _id: 'account:1098', type: 'account', code: '1098', name: 'Suspense USD', kind: 'asset' },
      {
        _id: 'journal:BNK2',
        type: 'journal',
        code: 'BNK2',
        name: 'Bank USD',
        kind: 'bank',
        currency: 'USD',
        default_account: '1020',
      },
    ]);
    const line = await books.store.put(
      stl({ connection: 'usd', currency: 'USD', amount: 10830, date: '2024-02-01' }),
    );
    const config = {
      company_currency: 'EUR',
      clock,
      rules: RULES,
      connections: [
        {
          connection: 'usd',
          journal: 'BNK2',
          bank_account: '1020',
          suspense_account: '1098',
          currency: 'USD',
        },
      ],
    };
    const before = await automateForeignConnections(books.store, config);
    assert.equal(before[0].posting?.refused[0].code, 'LEDGER_RATE_MISSING');
    let onReacted!: (r: RateReaction) => void;
    const reacted = new Promise<RateReaction>((resolve) => (onReacted = resolve));
    const watch = new RateWatch(
      books.store,
      () => automateForeignConnections(books.store, config),
      { onReacted },
    );
    watch.start();
    try {
      ecb.days = { '2024-02-01': { USD: '1.0830', JPY: '160.02' } };
      await new RatesRunner(books.store, settings(), books.logger).runNow();
      const reaction = await reacted;
      assert.ok(reaction.rates.includes('rate:EUR:USD:2024-02-01'));
    } finally {
      await watch.stop();
    }
    const posted = await get<StatementLineDoc>(books.store, line._id);
    assert.equal(posted.state, 'posted');
  });
});
