import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Site } from '../helpers/cloud-server';
import {
  cloudFetch,
  cloudKinds,
  startCloud,
  type CloudKind,
  type TestCloud,
} from '../helpers/test-cloud';
import type { AuditRecord } from '../../src/sync';

type Doc = Record<string, unknown> & { _id: string };
type Where = 'A' | 'B' | 'cloud';
type Op =
  | { kind: 'edit'; where: Where; doc: number; field: 'name' | 'email' | 'vat' }
  | { kind: 'delete'; where: Where; doc: number }
  | { kind: 'create'; where: Where; doc: number }
  | { kind: 'sync'; site: 'A' | 'B' };

const DOCS = 3;
const FIELDS = ['name', 'email', 'vat'] as const;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      where: fc.constantFrom<Where>('A', 'B', 'cloud'),
      doc: fc.nat(DOCS - 1),
      field: fc.constantFrom(...FIELDS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      where: fc.constantFrom<Where>('A', 'B', 'cloud'),
      doc: fc.nat(DOCS - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      where: fc.constantFrom<Where>('A', 'B', 'cloud'),
      doc: fc.nat(DOCS - 1),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      site: fc.constantFrom<'A' | 'B'>('A', 'B'),
    }),
  },
);

const SHARED = (d: Doc | null | undefined) =>
  d && !d._deleted ? { name: d.name, email: d.email, vat: d.vat } : null;

/**
 * Runs per cloud: the cluster's runs cost about twice the others', so CI takes fewer of them
 * (`BOOKSYNC_PROPERTY_RUNS` overrides both, `BOOKSYNC_PROPERTY_SEED` and `BOOKSYNC_PROPERTY_PATH`
 * replay a reported failure).
 */
function runsFor(kind: CloudKind): number {
  if (process.env.BOOKSYNC_PROPERTY_RUNS) return Number(process.env.BOOKSYNC_PROPERTY_RUNS);
  return kind === 'couchdb-cluster' && process.env.CI === 'true' ? 12 : 30;
}

for (const kind of cloudKinds())
  describe(`sync property: random concurrent edits on two sites and the cloud (component, fast-check) [${kind}]`, function () {
    this.timeout(Math.max(120_000, runsFor(kind) * 5000));
    let cloud: TestCloud;
    let run = 0;

    before(async () => {
      cloud = await startCloud(kind);
    });
    after(async () => {
      await cloud.destroy();
    });

    it('given any interleaving of edits, deletes and syncs, when both sites sync to quiescence, then all three converge and every overwritten value is audited', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('local-wins', 'remote-wins', 'newest-wins', 'merge'),
          fc.array(opArb, { minLength: 4, maxLength: 14 }),
          async (conflict, ops) => {
            const db = `prop${++run}`;
            const types = {
              partner: {
                direction: 'both' as const,
                conflict,
                tie_breaker: 'newest-wins',
                exclude: { both: ['internal_notes'] },
              },
            };
            const sites = {
              A: await Site.open(cloud.dbUrl(db), { types }),
              B: await Site.open(cloud.dbUrl(db), { types }),
            };
            try {
              // Seed: every doc exists everywhere.
              for (let i = 0; i < DOCS; i++)
                await sites.A.books.put({
                  _id: `partner:${i}`,
                  type: 'partner',
                  name: `seed${i}`,
                  bank_accounts: [],
                  internal_notes: `A${i}`,
                } as never);
              await sites.A.engine.syncOnce();
              await sites.B.engine.syncOnce();

              const written = new Set<string>();
              const seen = new Set<string>(); // values a writer overwrote knowingly (they were in its own copy)
              let counter = 0;
              const readOn = async (where: Where, id: string): Promise<Doc | null> =>
                where === 'cloud'
                  ? ((await cloud.raw(db, id)) as Doc | null)
                  : (((await sites[where].books.get(id)) as Doc | undefined) ?? null);
              const writeOn = async (
                where: Where,
                id: string,
                next: Doc | 'delete',
                cur: Doc | null,
              ): Promise<void> => {
                if (where === 'cloud') {
                  if (next === 'delete' && !cur) return;
                  const body =
                    next === 'delete'
                      ? { _id: id, _rev: cur?._rev, _deleted: true }
                      : {
                          ...next,
                          ...(cur?._rev ? { _rev: cur._rev } : {}),
                          updated_at: new Date().toISOString(),
                        };
                  const res = await cloudFetch(`${cloud.dbUrl(db)}/_bulk_docs`, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json' },
                    body: JSON.stringify({ docs: [body] }),
                  });
                  assert.ok(res.ok);
                  // A refused write would leave a value counted as written that never existed.
                  const [row] = (await res.json()) as Array<{ ok?: boolean; error?: string }>;
                  assert.ok(row?.ok, `the cloud refused the test's write of ${id}: ${row?.error}`);
                } else if (next === 'delete') await sites[where].books.remove(id);
                else await sites[where].books.put(next as never);
              };

              for (const op of ops) {
                if (op.kind === 'sync') {
                  await sites[op.site].engine.syncOnce();
                  continue;
                }
                const id = `partner:${op.doc}`;
                const cur = await readOn(op.where, id);
                const live = cur && !cur._deleted ? cur : null;
                const value = `v${++counter}${op.where}`;
                if (op.kind === 'edit') {
                  if (!live) continue;
                  if (typeof live[op.field] === 'string') seen.add(live[op.field] as string);
                  written.add(value);
                  await writeOn(op.where, id, { ...live, [op.field]: value }, cur);
                } else if (op.kind === 'delete') {
                  if (!live) continue;
                  for (const f of FIELDS) if (typeof live[f] === 'string') seen.add(live[f]);
                  await writeOn(op.where, id, 'delete', cur);
                } else {
                  if (live) continue;
                  written.add(value);
                  await writeOn(
                    op.where,
                    id,
                    { _id: id, type: 'partner', name: value, bank_accounts: [] },
                    cur,
                  );
                }
              }

              // Quiescence: alternate until a full round writes nothing (bounded).
              for (let round = 0; round < 6; round++) {
                const a = await sites.A.engine.syncOnce();
                const b = await sites.B.engine.syncOnce();
                if (round > 0 && a.push.docs + a.pull.docs + b.push.docs + b.pull.docs === 0) break;
              }

              for (let i = 0; i < DOCS; i++) {
                const id = `partner:${i}`;
                const [a, b, c] = [
                  await readOn('A', id),
                  await readOn('B', id),
                  await readOn('cloud', id),
                ];
                assert.deepEqual(SHARED(a), SHARED(c), `${id}: A and cloud differ`);
                assert.deepEqual(SHARED(b), SHARED(c), `${id}: B and cloud differ`);
                assert.equal(c?._conflicts, undefined);
              }
              assert.deepEqual(await sites.A.engine.listConflicts(), []);

              const finalValues = new Set<string>();
              for (let i = 0; i < DOCS; i++) {
                const c = SHARED(await readOn('cloud', `partner:${i}`));
                if (c)
                  for (const v of Object.values(c)) if (typeof v === 'string') finalValues.add(v);
              }
              const audits: AuditRecord[] = [
                ...(await sites.A.engine.listResolved()),
                ...(await sites.B.engine.listResolved()),
              ];
              const audited = JSON.stringify(audits.map((r) => [r.local, r.remote, r.overwritten]));
              for (const v of written) {
                if (finalValues.has(v) || seen.has(v)) continue;
                assert.ok(
                  audited.includes(`"${v}"`),
                  `value ${v} was overwritten silently (strategy ${conflict}); audits: ${audited}`,
                );
              }
              // Private values never left their site.
              const everything = JSON.stringify(await cloud.allRaw(db));
              assert.ok(!/"internal_notes"/.test(everything));
            } finally {
              await sites.A.destroy();
              await sites.B.destroy();
            }
          },
        ),
        {
          numRuns: runsFor(kind),
          seed: Number(process.env.BOOKSYNC_PROPERTY_SEED ?? 20261126),
          ...(process.env.BOOKSYNC_PROPERTY_PATH
            ? { path: process.env.BOOKSYNC_PROPERTY_PATH }
            : {}),
          endOnFailure: true,
        },
      );
    });
  });
