import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import winston from 'winston';
import { BooksStore, bookContent, type MoveDoc } from '../../src/ledger';
import { LedgerWriter, type WriteResult } from '../../src/local-api/writes';
import { PouchLocalStore, type LocalWriteResult } from '../../src/sync/local-store';

/**
 * Posted-move immutability under concurrent writers (docs/ARCHITECTURE.md, "Invariants"): the sync
 * pull, the local API's replication (`new_edits: false`) and its edits all write one move while it
 * is being posted. fast-check's scheduler picks the order in which every read and write of the
 * books' PouchDB answers, so each run is one interleaving of the writers' reads, checks and
 * writes. Whatever the order, a posted revision that was accepted stays the visible move.
 */

const silent = winston.createLogger({ silent: true });
const ID = 'move:BNK1:race';
const T0 = '2024-03-01T10:00:00.000Z';

function move(state: MoveDoc['state'], amount: number, ref: string): MoveDoc {
  return {
    _id: ID,
    type: 'move',
    journal: 'BNK1',
    date: '2024-03-01',
    state,
    ref,
    lines: [
      { account: '1010', debit: amount, credit: 0, currency: 'EUR' },
      { account: '499', debit: 0, credit: amount, currency: 'EUR' },
    ],
    created_at: T0,
    updated_at: T0,
  };
}

/** A write that ended accepted, the revision it made, and whether that revision is posted. */
interface Accepted {
  writer: string;
  rev: string;
  posted: boolean;
}

function accepted(writer: string, posted: boolean, r: LocalWriteResult | WriteResult): Accepted[] {
  return 'ok' in r && r.ok ? [{ writer, rev: r.rev, posted }] : [];
}

/** Makes every `allDocs` and `bulkDocs` of `db` answer when the scheduler says (the call itself runs at once). */
function schedule(db: PouchDB.Database, s: fc.Scheduler): void {
  const target = db as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['allDocs', 'bulkDocs']) {
    const original = target[name].bind(db);
    target[name] = s.scheduleFunction((...args: unknown[]) => original(...args));
  }
}

describe('posted-move immutability under concurrent writers (component, fast-check scheduler)', function () {
  this.timeout(120_000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-write-race-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('given a draft move that the sync pull posts while the local API replicates and edits it, then in every order an accepted posted revision stays the visible move', async function () {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const books = await BooksStore.open(path.join(tmp, `books-${++run}`), {
          logger: silent,
        });
        try {
          const draft = await books.put(move('draft', 1000, 'as imported'));
          const [gen, hash] = draft._rev.split('-');
          const local = new PouchLocalStore(books);
          const api = new LedgerWriter(books, () => new Date('2024-03-02T09:00:00.000Z'), silent);
          schedule(books.db, s);

          // The sync pull: the cloud posted the move; written over the revision the pull read.
          const pull = (async () => {
            const current = (await local.current([ID])).get(ID) ?? null;
            const doc = {
              ...move('posted', 1000, 'as imported'),
              posted_at: '2024-03-02T08:00:00.000Z',
            };
            const [r] = await local.write([{ doc, current }]);
            return accepted('sync pull', true, r);
          })();
          // A client replicates a longer branch of its own draft edits (new_edits: false).
          const replicated = (async () => {
            const doc = {
              ...move('draft', 2500, 'edited on the client'),
              _rev: `${Number(gen) + 2}-bbbb`,
              _revisions: { start: Number(gen) + 2, ids: ['bbbb', 'aaaa', hash] },
            };
            const [r] = await api.write([doc], false);
            return accepted('local API new_edits:false', false, r);
          })();
          // A client edits the draft it read (a normal write over the first revision).
          const edited = (async () => {
            const [r] = await api.write(
              [{ ...move('draft', 1700, 'edited'), _rev: draft._rev }],
              true,
            );
            return accepted('local API edit', false, r);
          })();
          // Another client posts its own version of the draft it read.
          const postedByClient = (async () => {
            const [r] = await api.write(
              [{ ...move('posted', 900, 'posted by a client'), _rev: draft._rev }],
              true,
            );
            return accepted('local API post', true, r);
          })();

          const done = (
            await s.waitFor(Promise.all([pull, replicated, edited, postedByClient]))
          ).flat();
          const visible = (await books.get<MoveDoc>(ID)) as MoveDoc;
          for (const a of done.filter((x) => x.posted)) {
            const stored = (await books.db.get(ID, { rev: a.rev })) as unknown as MoveDoc;
            assert.deepEqual(
              bookContent(visible),
              bookContent(stored),
              `${a.writer} posted ${a.rev}, yet the visible move is ${visible._rev} (${visible.state}, ${visible.ref}); accepted: ${done.map((x) => `${x.writer} ${x.rev}`).join(', ')}`,
            );
          }
        } finally {
          await books.close();
        }
      }),
      { seed: 18, numRuns: 40 },
    );
  });
});
