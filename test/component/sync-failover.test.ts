import assert from 'node:assert/strict';
import { CloudServer, Site } from '../helpers/cloud-server';
import { TcpProxy } from '../helpers/tcp-proxy';

type Doc = Record<string, unknown> & { _id: string };

const types = { partner: { direction: 'both' as const } };

function partners(n: number, prefix: string): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:${prefix}${i}`,
    type: 'partner',
    name: `Partner ${prefix}${i}`,
    bank_accounts: [],
  }));
}

/**
 * Two URLs of one database (a proxy in front of the server standing in for a first cluster node,
 * the server itself for a second): the engine uses the first and fails over when it is gone.
 */
describe('sync cluster failover (component, express-pouchdb behind a proxy)', function () {
  this.timeout(30_000);
  let cloud: CloudServer;
  let proxy: TcpProxy;
  let site: Site;
  const sinces: Array<{ host: string; since: string | null }> = [];

  before(async () => {
    cloud = await CloudServer.start();
    proxy = await TcpProxy.start(cloud.port);
    const recording: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      if (url.pathname.endsWith('/_changes'))
        sinces.push({ host: url.host, since: url.searchParams.get('since') });
      return fetch(req);
    };
    site = await Site.open(`${proxy.origin}/cluster`, {
      types,
      cloud: {
        url: [`${proxy.origin}/cluster`, cloud.dbUrl('cluster')],
        requestTimeoutMs: 2000,
        fetch: recording,
      },
    });
  });
  after(async () => {
    await site.destroy();
    await proxy.close();
    await cloud.destroy();
  });

  it('given two node URLs, when the first stops answering mid-life, then the engine fails over to the second and keeps its place in _changes', async () => {
    await site.books.putMany(partners(10, 'a') as never);
    await site.engine.syncOnce();
    assert.ok(
      sinces.every((s) => s.host === new URL(proxy.origin).host),
      'the first node while it answers',
    );
    await proxy.close();
    await site.books.putMany(partners(5, 'b') as never);
    await fetch(`${cloud.dbUrl('cluster')}/partner:c0`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(partners(1, 'c')[0]),
    });
    const before = sinces.length;
    const report = await site.engine.syncOnce();
    assert.equal(report.push.docs, 5);
    assert.equal(report.pull.docs, 1);
    assert.ok(await site.books.get('partner:c0'));
    const after = sinces.slice(before).filter((s) => s.host === `127.0.0.1:${cloud.port}`);
    assert.ok(after.length > 0, 'the second node answered');
    assert.ok(
      after.every((s) => s.since !== '0'),
      `the pull went on from its checkpoint: ${JSON.stringify(after)}`,
    );
    const failovers = site.memory.events('sync.failover');
    assert.equal(failovers.length, 1);
    assert.equal(failovers[0].level, 'warn');
    assert.equal((await cloud.allRaw('cluster')).filter((d) => d.type === 'partner').length, 16);
    assert.equal(site.memory.events('sync.reset').length, 0, 'the same cloud: no re-walk');
  });
});
