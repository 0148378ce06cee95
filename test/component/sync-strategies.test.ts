import assert from 'node:assert/strict';
import { Site } from '../helpers/cloud-server';
import { cloudFetch, cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';
import type { SyncTypeOptions } from '../../src/sync';

type Doc = Record<string, unknown> & { _id: string };

/** Edits the cloud's copy directly over HTTP, as another writer would. */
async function cloudEdit(
  cloud: TestCloud,
  db: string,
  id: string,
  patch: Record<string, unknown> | 'delete',
): Promise<void> {
  const current = (await cloud.raw(db, id)) as Doc;
  const body =
    patch === 'delete' ? { _id: id, _rev: current._rev, _deleted: true } : { ...current, ...patch };
  const res = await cloudFetch(`${cloud.dbUrl(db)}/_bulk_docs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ docs: [body] }),
  });
  const [row] = (await res.json()) as Array<{ ok?: boolean; error?: string }>;
  assert.ok(row.ok, `cloud edit of ${id} failed: ${row.error}`);
}

const partner = (id: string, extra: Record<string, unknown> = {}): Doc => ({
  _id: `partner:${id}`,
  type: 'partner',
  name: `P ${id}`,
  bank_accounts: [],
  ...extra,
});

for (const kind of cloudKinds())
  describe(`sync conflict strategies (component, over HTTP) [${kind}]`, function () {
    this.timeout(30_000);
    let cloud: TestCloud;
    const sites: Site[] = [];
    let dbCount = 0;

    before(async () => {
      cloud = await startCloud(kind);
    });
    after(async () => {
      for (const s of sites) await s.destroy();
      await cloud.destroy();
    });

    /** A site whose partners use `rule`, with `partner:x` already synced once (so there is a base). */
    async function siteWith(
      rule: SyncTypeOptions,
      seed: Doc[] = [partner('x', { email: 'x@old', vat: 'V0' })],
    ): Promise<{ site: Site; db: string }> {
      const db = `strategies${++dbCount}`;
      const site = await Site.open(cloud.dbUrl(db), {
        types: { partner: rule, move: { direction: 'both', conflict: 'merge' } },
      });
      sites.push(site);
      for (const d of seed) await site.books.put(d as never);
      await site.engine.syncOnce();
      return { site, db };
    }

    async function local(site: Site, id: string): Promise<Doc | undefined> {
      return (await site.books.get(id)) as Doc | undefined;
    }

    async function edit(site: Site, id: string, patch: Record<string, unknown>): Promise<void> {
      const cur = (await local(site, id)) as Doc;
      await site.books.put({ ...cur, ...patch } as never);
    }

    it('given both sides edited the same field, when local-wins, then both hold the local value and the audit keeps the cloud value', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'local-wins' });
      await edit(site, 'partner:x', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:x', { name: 'CLOUD' });
      const r = await site.engine.syncOnce();
      assert.equal(r.push.conflicts + r.pull.conflicts, 1);
      assert.equal((await local(site, 'partner:x'))?.name, 'LOCAL');
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'LOCAL');
      const [audit] = await site.engine.listResolved();
      assert.equal(audit.doc_id, 'partner:x');
      assert.equal(audit.strategy, 'local-wins');
      assert.equal(audit.taken, 'local');
      assert.deepEqual((audit.overwritten.remote as Doc).name, 'CLOUD');
      assert.equal(site.memory.events('sync.conflict').length, 1);
    });

    it('given both sides edited, when remote-wins, then both hold the cloud value and the audit keeps the local value', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'remote-wins' });
      await edit(site, 'partner:x', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:x', { name: 'CLOUD' });
      await site.engine.syncOnce();
      assert.equal((await local(site, 'partner:x'))?.name, 'CLOUD');
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'CLOUD');
      const [audit] = await site.engine.listResolved();
      assert.equal((audit.overwritten.local as Doc).name, 'LOCAL');
    });

    it('given both sides edited, when newest-wins, then the later updated_at wins in either direction', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'newest-wins' }, [
        partner('x'),
        partner('y'),
      ]);
      await edit(site, 'partner:x', { name: 'LOCAL' }); // stamped now
      await cloudEdit(cloud, db, 'partner:x', {
        name: 'CLOUD',
        updated_at: '2999-01-01T00:00:00.000Z',
      });
      await edit(site, 'partner:y', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:y', {
        name: 'CLOUD',
        updated_at: '2000-01-01T00:00:00.000Z',
      });
      await site.engine.syncOnce();
      assert.equal((await local(site, 'partner:x'))?.name, 'CLOUD');
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'CLOUD');
      assert.equal((await local(site, 'partner:y'))?.name, 'LOCAL');
      assert.equal((await cloud.raw(db, 'partner:y'))?.name, 'LOCAL');
      assert.equal((await site.engine.listResolved()).length, 2);
    });

    it('given different fields changed on each side and one field on both, when merge with tie_breaker remote-wins, then fields merge and the tie goes to the cloud', async () => {
      const { site, db } = await siteWith({
        direction: 'both',
        conflict: 'merge',
        tie_breaker: 'remote-wins',
      });
      await edit(site, 'partner:x', { email: 'x@local', vat: 'VL' });
      await cloudEdit(cloud, db, 'partner:x', { name: 'CLOUD NAME', vat: 'VC' });
      await site.engine.syncOnce();
      const l = (await local(site, 'partner:x')) as Doc;
      const c = (await cloud.raw(db, 'partner:x')) as Doc;
      for (const d of [l, c]) {
        assert.equal(d.email, 'x@local');
        assert.equal(d.name, 'CLOUD NAME');
        assert.equal(d.vat, 'VC');
      }
      const [audit] = await site.engine.listResolved();
      assert.equal(audit.taken, 'merged');
      assert.equal((audit.overwritten.local as Doc).vat, 'VL');
    });

    it('given both sides edited, when manual, then each keeps its version, the conflict is listed and the base holds until an admin resolves', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'manual' }, [
        partner('x'),
        partner('y'),
      ]);
      await edit(site, 'partner:x', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:x', { name: 'CLOUD' });
      await site.engine.syncOnce();
      await site.engine.syncOnce();
      assert.equal((await local(site, 'partner:x'))?.name, 'LOCAL');
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'CLOUD');
      const open = await site.engine.listConflicts();
      assert.deepEqual(
        open.map((c) => [c.doc_id, c.reason]),
        [['partner:x', 'manual']],
      );
      assert.equal(site.engine.status().open_conflicts, 1);
      assert.equal((await site.engine.listResolved()).length, 0);

      const audit = await site.engine.resolveConflict('partner:x', { take: 'remote' });
      assert.equal(audit.strategy, 'manual');
      assert.equal((await local(site, 'partner:x'))?.name, 'CLOUD');
      assert.equal((await site.engine.listConflicts()).length, 0);
      assert.equal(site.engine.status().open_conflicts, 0);
      await site.engine.syncOnce();
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'CLOUD');

      // An edited document as the resolution.
      await edit(site, 'partner:y', { name: 'LOCAL Y' });
      await cloudEdit(cloud, db, 'partner:y', { name: 'CLOUD Y' });
      await site.engine.syncOnce();
      const cur = (await local(site, 'partner:y')) as Doc;
      await site.engine.resolveConflict('partner:y', { doc: { ...cur, name: 'BOTH Y' } });
      assert.equal((await local(site, 'partner:y'))?.name, 'BOTH Y');
      assert.equal((await cloud.raw(db, 'partner:y'))?.name, 'BOTH Y');
      await assert.rejects(site.engine.resolveConflict('partner:y', { take: 'local' }), {
        code: 'SYNC_CONFLICT',
      });
    });

    it('given a delete on one side and no change on the other, when syncing, then the deletion crosses both ways without a conflict', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'manual' }, [
        partner('x'),
        partner('y'),
      ]);
      await site.books.remove('partner:x');
      await cloudEdit(cloud, db, 'partner:y', 'delete');
      const r = await site.engine.syncOnce();
      assert.equal(r.push.conflicts + r.pull.conflicts, 0);
      assert.equal(await cloud.raw(db, 'partner:x'), null);
      assert.equal(await local(site, 'partner:y'), undefined);
    });

    it('given a local delete against a cloud edit, when remote-wins / local-wins, then the edit comes back / the cloud copy is deleted, with audits', async () => {
      const rw = await siteWith({ direction: 'both', conflict: 'remote-wins' });
      await rw.site.books.remove('partner:x');
      await cloudEdit(cloud, rw.db, 'partner:x', { name: 'CLOUD' });
      await rw.site.engine.syncOnce();
      assert.equal((await local(rw.site, 'partner:x'))?.name, 'CLOUD');
      assert.equal((await rw.site.engine.listResolved()).length, 1);

      const lw = await siteWith({ direction: 'both', conflict: 'local-wins' });
      await lw.site.books.remove('partner:x');
      await cloudEdit(cloud, lw.db, 'partner:x', { name: 'CLOUD' });
      await lw.site.engine.syncOnce();
      assert.equal(await cloud.raw(lw.db, 'partner:x'), null);
      const [audit] = await lw.site.engine.listResolved();
      assert.equal((audit.overwritten.remote as Doc).name, 'CLOUD');
    });

    it('given a cloud delete against a local edit, when merge, then the tie-breaker decides and the edit survives under local-wins', async () => {
      const { site, db } = await siteWith({
        direction: 'both',
        conflict: 'merge',
        tie_breaker: 'local-wins',
      });
      await edit(site, 'partner:x', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:x', 'delete');
      await site.engine.syncOnce();
      assert.equal((await local(site, 'partner:x'))?.name, 'LOCAL');
      assert.equal((await cloud.raw(db, 'partner:x'))?.name, 'LOCAL');
    });

    const move = (state: 'draft' | 'posted', amount = 100): Doc => ({
      _id: 'move:BNK1:2024:0001',
      type: 'move',
      journal: 'BNK1',
      date: '2024-03-01',
      state,
      lines: [
        { account: '1010', debit: amount, credit: 0, currency: 'EUR' },
        { account: '1099', debit: 0, credit: amount, currency: 'EUR' },
      ],
    });

    it('given a posted move, when the cloud edits it, then the books refuse it and it goes to manual; never merged field by field', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'merge' }, [
        move('posted'),
      ]);
      await cloudEdit(cloud, db, 'move:BNK1:2024:0001', { ref: 'changed in the cloud' });
      await site.engine.syncOnce();
      assert.equal((await local(site, 'move:BNK1:2024:0001'))?.ref, undefined);
      const [c] = await site.engine.listConflicts();
      assert.equal(c.reason, 'LEDGER_POSTED_IMMUTABLE');
      // The admin takes the cloud's version: an explicit override, logged.
      await site.engine.resolveConflict('move:BNK1:2024:0001', { take: 'remote' });
      assert.equal((await local(site, 'move:BNK1:2024:0001'))?.ref, 'changed in the cloud');
      assert.ok(site.memory.events('ledger.override').length >= 1);
    });

    it('given a draft move edited on both sides, when one side posts it, then the conflict goes to manual', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'merge' }, [
        move('draft'),
      ]);
      await edit(site, 'move:BNK1:2024:0001', { state: 'posted' });
      await cloudEdit(cloud, db, 'move:BNK1:2024:0001', { ref: 'cloud ref' });
      await site.engine.syncOnce();
      const [c] = await site.engine.listConflicts();
      assert.equal(c.reason, 'posted_move');
      assert.equal((await local(site, 'move:BNK1:2024:0001'))?.state, 'posted');
      assert.equal((await cloud.raw(db, 'move:BNK1:2024:0001'))?.ref, 'cloud ref');
    });

    it('given conflict leaves made in the cloud by another writer, when pulling, then the winner takes the merge and the losers are deleted', async () => {
      const { site, db } = await siteWith({
        direction: 'both',
        conflict: 'merge',
        tie_breaker: 'remote-wins',
      });
      const cur = (await cloud.raw(db, 'partner:x')) as Doc;
      const [gen, hash] = String(cur._rev).split('-');
      const next = Number(gen) + 1;
      const leafA = {
        ...cur,
        _rev: `${next}-${'a'.repeat(32)}`,
        email: 'a@leaf',
        _revisions: { start: next, ids: ['a'.repeat(32), hash] },
      };
      const leafB = {
        ...cur,
        _rev: `${next}-${'b'.repeat(32)}`,
        vat: 'VB',
        _revisions: { start: next, ids: ['b'.repeat(32), hash] },
      };
      const res = await cloudFetch(`${cloud.dbUrl(db)}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ docs: [leafA, leafB], new_edits: false }),
      });
      assert.ok(res.ok);
      assert.equal(
        ((await cloud.raw(db, 'partner:x')) as { _conflicts?: string[] })._conflicts?.length,
        1,
      );
      await site.engine.syncOnce();
      const after = (await cloud.raw(db, 'partner:x')) as Doc & { _conflicts?: string[] };
      assert.equal(after._conflicts, undefined);
      assert.equal(after.email, 'a@leaf');
      assert.equal(after.vat, 'VB');
      const l = (await local(site, 'partner:x')) as Doc;
      assert.equal(l.email, 'a@leaf');
      assert.equal(l.vat, 'VB');
      const audits = await site.engine.listResolved();
      assert.equal(audits.length, 1);
      assert.equal(audits[0].scope, 'cloud');
    });

    it('given a pull-only type whose cloud doc the books refuse, when the admin keeps the books version, then nothing is written to the cloud', async () => {
      const db = `strategies${++dbCount}`;
      const site = await Site.open(cloud.dbUrl(db), {
        types: { account: { direction: 'pull', conflict: 'remote-wins' } },
      });
      sites.push(site);
      await site.engine.syncOnce();
      const res = await cloudFetch(`${cloud.dbUrl(db)}/account:9999`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'account', code: '9999', name: 'no kind' }),
      });
      assert.ok(res.ok);
      await site.engine.syncOnce();
      const [c] = await site.engine.listConflicts();
      assert.equal(c.reason, 'LEDGER_INVALID_DOC');
      const before = ((await cloud.raw(db, 'account:9999')) as Doc)._rev;
      await site.engine.resolveConflict('account:9999', { take: 'local' });
      assert.equal(
        ((await cloud.raw(db, 'account:9999')) as Doc)._rev,
        before,
        'a pull-only type is never written to the cloud',
      );
      assert.equal(await local(site, 'account:9999'), undefined);
      const again = await site.engine.syncOnce();
      assert.equal(
        again.pull.docs + again.pull.conflicts,
        0,
        'the refused version is not pulled again',
      );
    });

    it('given audit documents, when syncing with the default direction none, then they never reach the cloud', async () => {
      const { site, db } = await siteWith({ direction: 'both', conflict: 'local-wins' });
      await edit(site, 'partner:x', { name: 'LOCAL' });
      await cloudEdit(cloud, db, 'partner:x', { name: 'CLOUD' });
      await site.engine.syncOnce();
      await site.engine.syncOnce();
      assert.equal((await site.engine.listResolved()).length, 1);
      const ids = (await cloud.allRaw(db)).map((d) => d._id as string);
      assert.deepEqual(
        ids.filter((id) => id.startsWith('audit:')),
        [],
      );
    });
  });
