import assert from 'node:assert/strict';
import path from 'node:path';
import { parseConfigText } from '../../src/config';
import { OpsService } from '../../src/ops';
import { CloudServer, Site } from '../helpers/cloud-server';
import { captureLogger } from '../helpers/line-logger';

type Doc = Record<string, unknown> & { _id: string };

/**
 * The sync metrics as an engine at work feeds them: documents per direction, automatic
 * resolutions by type and strategy, open conflicts and the oldest one's age.
 */
describe('ops: sync metrics from a real engine (component)', function () {
  this.timeout(30_000);
  let cloud: CloudServer;
  let site: Site;
  let ops: OpsService;

  before(async () => {
    cloud = await CloudServer.start();
  });
  after(async () => {
    await ops?.stop();
    await site?.destroy();
    await cloud.destroy();
  });

  async function cloudEdit(db: string, id: string, patch: Record<string, unknown>): Promise<void> {
    const current = (await cloud.raw(db, id)) as Doc;
    const res = await fetch(`${cloud.dbUrl(db)}/_bulk_docs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docs: [{ ...current, ...patch }] }),
    });
    assert.equal(res.status, 201);
  }

  async function edit(id: string, patch: Record<string, unknown>): Promise<void> {
    const cur = (await site.books.get(id)) as Doc;
    await site.books.put({ ...cur, ...patch } as never);
  }

  it('counts documents, resolutions by type and strategy, and exposes open conflicts', async () => {
    site = await Site.open(cloud.dbUrl('opsmetrics'), {
      types: {
        partner: { direction: 'both', conflict: 'local-wins' },
        journal: { direction: 'both', conflict: 'manual' },
      },
    });
    const config = parseConfigText(
      `state_dir: ${site.dir}\nops: { listen: "127.0.0.1:0" }\ncloud: { url: embedded }\nledger: { company: { name: T, currency: EUR } }\n`,
      path.join(site.dir, 'b.yaml'),
      { env: {} },
    );
    ops = new OpsService({
      config,
      store: site.books,
      logger: captureLogger().logger,
      version: 'test',
    });
    await ops.start();
    ops.observeSyncEngine(site.engine);
    await site.books.put({
      _id: 'partner:x',
      type: 'partner',
      name: 'P',
      bank_accounts: [],
    } as never);
    await site.books.put({
      _id: 'journal:J1',
      type: 'journal',
      code: 'J1',
      name: 'Journal',
      kind: 'bank',
      currency: 'EUR',
      default_account: '1010',
    } as never);
    await site.engine.syncOnce();
    await edit('partner:x', { name: 'LOCAL' });
    await cloudEdit('opsmetrics', 'partner:x', { name: 'CLOUD' });
    await edit('journal:J1', { name: 'LOCAL J' });
    await cloudEdit('opsmetrics', 'journal:J1', { name: 'CLOUD J' });
    await site.engine.syncOnce();
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    assert.match(
      text,
      /^booksync_sync_resolutions_total\{type="partner",strategy="local-wins"\} 1$/m,
    );
    assert.doesNotMatch(
      text,
      /booksync_sync_resolutions_total\{type="journal"/,
      'a manual conflict is not an automatic resolution',
    );
    const pushed = Number(
      /^booksync_sync_documents_total\{direction="push"\} (\d+)$/m.exec(text)?.[1],
    );
    assert.ok(pushed >= 3, `pushed ${pushed}`);
    assert.match(text, /^booksync_sync_open_conflicts 1$/m);
    const [open] = await site.engine.listConflicts();
    assert.match(
      text,
      new RegExp(
        `^booksync_sync_oldest_open_conflict_timestamp_seconds ${Date.parse(open.detected_at) / 1000}$`,
        'm',
      ),
    );
    assert.ok(
      !text.includes('journal:J1') && !text.includes('partner:x'),
      'no document id in any label',
    );
  });
});
