import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BooksStore, type PartnerDoc } from '../../src/ledger';
import { HttpCloudAdmin } from '../helpers/cloud-admin';
import { CloudServer, memoryLogger } from '../helpers/cloud-server';
import { DaemonProcess } from '../helpers/daemon-process';

/** A re-walk (the cloud database deleted) cut by SIGKILL again and again: it resumes and converges. */
describe('re-walk under SIGKILL (built CLI as a child process)', function () {
  this.timeout(240_000);
  let cloud: CloudServer;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    cloud = await CloudServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-rewalk-'));
  });
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()));
    await cloud.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(config: string): DaemonProcess {
    const d = new DaemonProcess(['start', '--config', config]);
    daemons.push(d);
    return d;
  }

  async function cloudCount(): Promise<number> {
    const res = await fetch(`${cloud.dbUrl('books')}/_all_docs?limit=0`);
    return res.ok ? ((await res.json()) as { total_rows: number }).total_rows : -1;
  }

  /** Waits on the cloud's long-poll feed until it holds `n` documents (bounded by mocha's timeout). */
  async function cloudHolds(n: number): Promise<void> {
    let since: unknown = 0;
    while ((await cloudCount()) < n) {
      const res = await fetch(
        `${cloud.dbUrl('books')}/_changes?feed=longpoll&timeout=5000&since=${encodeURIComponent(String(since))}`,
      );
      if (res.ok) since = ((await res.json()) as { last_seq: unknown }).last_seq;
    }
  }

  it('given a synced site whose cloud database is deleted, when the daemon is SIGKILLed 6 times during the re-walk, then the cloud is refilled exactly once and the books lose nothing', async () => {
    const N = 2000;
    const config = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(
      config,
      [
        'state_dir: ./state',
        'cloud:',
        `  url: ${cloud.dbUrl('books')}`,
        'sync:',
        '  mode: live',
        '  batch_size: 100',
        '  default: { direction: none }',
        '  types:',
        '    partner: { direction: both, exclude: { push: [internal_notes] } }',
        'ledger:',
        '  company: { name: Test Company, currency: EUR }',
        '',
      ].join('\n'),
    );
    const { logger } = memoryLogger();
    const store = await BooksStore.open(path.join(dir, 'state', 'books'), { logger });
    const docs = Array.from({ length: N }, (_, i) => ({
      _id: `partner:p${String(i).padStart(5, '0')}`,
      type: 'partner' as const,
      name: `Partner ${i}`,
      bank_accounts: [],
      internal_notes: `private ${i}`,
    }));
    for (let i = 0; i < N; i += 1000) await store.putMany(docs.slice(i, i + 1000));
    await store.close();

    const first = start(config);
    await first.waitFor('daemon.ready');
    await cloudHolds(N);
    first.signal('SIGTERM');
    assert.equal((await first.exited).code, 0);
    await new HttpCloudAdmin(cloud.origin).deleteDb('books');

    let seed = 20261205;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let killedInRewalk = 0;
    for (let round = 0; round < 6; round++) {
      const d = start(config);
      await d.waitFor('daemon.start');
      // The first kill lands as the re-walk starts; the others wherever the daemon happens to be
      // (fault injection, not a wait).
      if (round === 0) await d.waitFor('sync.reset');
      else await new Promise((r) => setTimeout(r, 300 + Math.floor(next() * 1500)));
      if (
        d.lines.some((l) => l.event === 'sync.reset') &&
        !d.lines.some((l) => l.event === 'sync.reset' && l.phase === 'done')
      )
        killedInRewalk++;
      d.signal('SIGKILL');
      await d.exited;
    }
    assert.ok(killedInRewalk > 0, 'some kills landed inside the re-walk');

    const final = start(config);
    await final.waitFor('daemon.ready');
    await cloudHolds(N);
    final.signal('SIGTERM');
    assert.equal((await final.exited).code, 0);
    const inCloud = await cloud.allRaw('books');
    assert.equal(
      inCloud.filter((d) => String(d._id).startsWith('partner:')).length,
      N,
      'every document once',
    );
    for (const doc of inCloud) {
      assert.equal(doc.internal_notes, undefined);
      assert.equal(doc._conflicts, undefined);
    }
    const reopened = await BooksStore.open(path.join(dir, 'state', 'books'), { logger });
    const partners = await reopened.allOfType<PartnerDoc>('partner');
    await reopened.close();
    assert.equal(partners.length, N);
    assert.ok(partners.every((p) => p.internal_notes?.startsWith('private')));
  });
});
