import assert from 'node:assert/strict';
import { Site } from '../helpers/cloud-server';
import { HttpHookProxy, type HookedRequest } from '../helpers/http-hook-proxy';
import { cloudFetch, cloudKinds, startCloud, type TestCloud } from '../helpers/test-cloud';

type Doc = Record<string, unknown> & { _id: string; _rev?: string };

/**
 * A resolution writes to the cloud and to the books in separate requests, and CouchDB's
 * `_bulk_docs` is not atomic: another writer can land between them (on a cluster, a revision that
 * has reached only some shard copies does the same). Whatever part of a resolution took effect,
 * the values it overwrote must be in an audit record.
 */
for (const kind of cloudKinds())
  describe(`sync resolutions that land only in part are audited (component) [${kind}]`, function () {
    this.timeout(60_000);
    let cloud: TestCloud;
    let proxy: HttpHookProxy;
    const sites: Site[] = [];
    let dbCount = 0;

    before(async () => {
      cloud = await startCloud(kind);
      proxy = await HttpHookProxy.start(cloud.port);
    });
    afterEach(() => {
      proxy.hook = () => undefined;
    });
    after(async () => {
      for (const s of sites) await s.destroy();
      await proxy.close();
      await cloud.destroy();
    });

    /** A merge site whose `partner:x` is synced once (so it has a base), reaching the cloud through the proxy. */
    async function mergeSite(): Promise<{ site: Site; db: string }> {
      const db = `partial${++dbCount}`;
      const site = await Site.open(cloud.dbUrl(db, proxy.origin), {
        types: { partner: { direction: 'both', conflict: 'merge', tie_breaker: 'newest-wins' } },
      });
      sites.push(site);
      await site.books.put({
        _id: 'partner:x',
        type: 'partner',
        name: 'P x',
        email: 'x@old',
        vat: 'V0',
        bank_accounts: [],
      } as never);
      await site.engine.syncOnce();
      return { site, db };
    }

    async function bulkDocs(db: string, docs: Doc[], newEdits = true): Promise<void> {
      const res = await cloudFetch(`${cloud.dbUrl(db)}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ docs, new_edits: newEdits }),
      });
      assert.ok(res.ok, `_bulk_docs: HTTP ${res.status}`);
      if (newEdits) {
        const rows = (await res.json()) as Array<{ ok?: boolean; error?: string }>;
        assert.ok(
          rows.every((r) => r.ok),
          `a cloud write was refused: ${JSON.stringify(rows)}`,
        );
      }
    }

    /** Runs `act` once, before the first request the site sends that `matches`. */
    function once(matches: (r: HookedRequest) => boolean, act: () => Promise<void>): () => boolean {
      let fired = false;
      proxy.hook = async (r) => {
        if (fired || !matches(r)) return;
        fired = true;
        await act();
      };
      return () => fired;
    }

    async function auditedValues(site: Site): Promise<string> {
      const audits = await site.engine.listResolved();
      return JSON.stringify(audits.map((a) => [a.local, a.remote, a.overwritten]));
    }

    it('given cloud conflict leaves whose merge rewrites the winner, when another writer deletes the losing leaf before it is deleted here, then the winner holds the merge and the winner value it overwrote is audited', async () => {
      const { site, db } = await mergeSite();
      const cur = (await cloud.raw(db, 'partner:x')) as Doc;
      const [gen, hash] = String(cur._rev).split('-');
      const next = Number(gen) + 1;
      // Two leaves both renaming the partner: the winner (larger revision hash) has the older
      // stamp, so the merge's tie-breaker takes the losing leaf's name over the winner's.
      const leaf = (h: string, name: string, at: string): Doc => ({
        ...cur,
        _rev: `${next}-${h.repeat(32)}`,
        name,
        updated_at: at,
        _revisions: { start: next, ids: [h.repeat(32), hash] },
      });
      const loser = leaf('a', 'NAME FROM LOSER', '2999-01-01T00:00:00.000Z');
      const winner = leaf('b', 'NAME FROM WINNER', '2000-01-01T00:00:00.000Z');
      await bulkDocs(db, [loser, winner], false);
      const fired = once(
        (r) => r.url.includes('/_bulk_docs') && r.body.includes(String(loser._rev)),
        () => bulkDocs(db, [{ _id: 'partner:x', _rev: loser._rev, _deleted: true }]),
      );

      await site.engine.syncOnce();

      assert.ok(fired(), 'the other writer deleted the losing leaf');
      assert.ok(
        (await auditedValues(site)).includes('"NAME FROM WINNER"'),
        'the overwritten winner value is in an audit record',
      );
      const after = (await cloud.raw(db, 'partner:x')) as Doc;
      assert.equal(after.name, 'NAME FROM LOSER', 'the cloud holds the merge');
      assert.equal(after._conflicts, undefined);
      assert.equal(
        ((await site.books.get('partner:x')) as Doc | undefined)?.name,
        'NAME FROM LOSER',
      );
    });

    it('given a merge the cloud took, when the books move before the merge reaches them, then the cloud value it overwrote is audited and both sides converge', async () => {
      const { site, db } = await mergeSite();
      const local = (await site.books.get('partner:x')) as unknown as Doc;
      await site.books.put({ ...local, name: 'LOCAL NAME' } as never);
      const cur = (await cloud.raw(db, 'partner:x')) as Doc;
      await bulkDocs(db, [
        { ...cur, name: 'CLOUD NAME', email: 'x@cloud', updated_at: '2000-01-01T00:00:00.000Z' },
      ]);
      // The merge (local name, cloud email) goes to the cloud first; a local write lands before
      // it reaches the books.
      const fired = once(
        (r) =>
          r.url.includes('/_bulk_docs') &&
          r.body.includes('"LOCAL NAME"') &&
          r.body.includes('"x@cloud"'),
        async () => {
          const now = (await site.books.get('partner:x')) as unknown as Doc;
          await site.books.put({ ...now, vat: 'V LOCAL' } as never);
        },
      );

      await site.engine.syncOnce();
      await site.engine.syncOnce();

      assert.ok(fired(), 'the books moved between the cloud write and the books write');
      assert.ok(
        (await auditedValues(site)).includes('"CLOUD NAME"'),
        'the overwritten cloud value is in an audit record',
      );
      const l = (await site.books.get('partner:x')) as unknown as Doc;
      const c = (await cloud.raw(db, 'partner:x')) as Doc;
      for (const d of [l, c]) {
        assert.equal(d.name, 'LOCAL NAME');
        assert.equal(d.email, 'x@cloud');
        assert.equal(d.vat, 'V LOCAL');
      }
    });
  });
