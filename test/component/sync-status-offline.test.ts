import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Transport from 'winston-transport';
import * as winston from 'winston';
import { parseConfigText } from '../../src/config';
import { ControlServer } from '../../src/daemon/control';
import { SyncService } from '../../src/daemon/sync-service';
import { BooksStore } from '../../src/ledger';
import { CloudServer } from '../helpers/cloud-server';

/** Log lines, with a wait for the first one matching. */
class Waiting extends Transport {
  private readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> =
    [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    this.waiters = this.waiters.filter((w) => (w.match(info) ? (w.resolve(), false) : true));
    next();
  }
  until(match: (l: Record<string, unknown>) => boolean): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

describe('sync status while offline', function () {
  this.timeout(30_000);
  let cloud: CloudServer;
  let dir: string;
  let store: BooksStore;
  let service: SyncService;

  afterEach(async () => {
    await service?.stop();
    await store?.close();
    await cloud.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts the local changes waiting to be pushed, not the count of the last cycle that got through', async () => {
    cloud = await CloudServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-offline-'));
    const file = path.join(dir, 'booksync.yaml');
    const config = parseConfigText(
      [
        'state_dir: ./state',
        `cloud: { url: "${cloud.dbUrl('books')}" }`,
        'sync: { mode: live, backoff_max: 1s, types: { partner: { direction: both, conflict: remote-wins } } }',
        'ledger: { company: { name: T, currency: EUR } }',
        '',
      ].join('\n'),
      file,
      { env: {} },
    );
    const transport = new Waiting();
    const logger = winston.createLogger({ level: 'debug', transports: [transport] });
    store = await BooksStore.open(path.join(config.state_dir, 'books'), { logger });
    service = new SyncService(
      config,
      store,
      () => cloud.dbUrl('books'),
      logger,
      new ControlServer(path.join(dir, 'control.sock'), logger),
    );
    await service.start();
    await store.put({
      _id: 'partner:one',
      type: 'partner',
      name: 'One',
      bank_accounts: [],
    } as never);
    await transport.until(
      (l) => l.event === 'sync.cycle' && l.direction === 'push' && Number(l.docs) > 0,
    );
    assert.equal((await service.status()).pending_push, 0);

    await cloud.stop();
    await store.put({
      _id: 'partner:two',
      type: 'partner',
      name: 'Two',
      bank_accounts: [],
    } as never);
    await store.put({
      _id: 'partner:three',
      type: 'partner',
      name: 'Three',
      bank_accounts: [],
    } as never);
    await transport.until((l) => l.event === 'sync.status' && l.state === 'offline');
    const status = await service.status();
    assert.equal(status.state, 'offline');
    assert.equal(status.pending_push, 2);
    assert.ok(status.last_error, 'the error is shown');
  });
});
