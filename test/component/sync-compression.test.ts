import assert from 'node:assert/strict';
import type { ResponseCompression } from '../../src/sync';
import { CloudServer, Site } from '../helpers/cloud-server';

interface Exchange {
  path: string;
  asked: string | null;
  got: string | null;
}

/** A fetch that records, per request, the Accept-Encoding sent and the Content-Encoding that came back. */
function recordingFetch(log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const res = await fetch(req);
    log.push({
      path: new URL(req.url).pathname,
      asked: req.headers.get('accept-encoding'),
      got: res.headers.get('content-encoding'),
    });
    return res;
  };
}

describe('sync: cloud.compression on the wire', function () {
  let cloud: CloudServer;
  const sites: Site[] = [];
  before(async () => {
    cloud = await CloudServer.start();
    // Enough partners that every _changes answer is well over the server's 1 KB compression threshold.
    await fetch(cloud.dbUrl('compression'), { method: 'PUT' });
    const docs = Array.from({ length: 40 }, (_, i) => ({
      _id: `partner:p${i}`,
      type: 'partner',
      name: `Partner ${i} with a long enough name to compress`,
      email: `p${i}@example.com`,
      bank_accounts: [],
    }));
    const res = await fetch(`${cloud.dbUrl('compression')}/_bulk_docs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docs }),
    });
    assert.equal(res.status, 201);
  });
  after(async () => {
    for (const s of sites) await s.destroy();
    await cloud.destroy();
  });

  async function pullWith(
    compression: ResponseCompression | undefined,
  ): Promise<{ site: Site; log: Exchange[] }> {
    const log: Exchange[] = [];
    const site = await Site.open(cloud.dbUrl('compression'), {
      types: { partner: { direction: 'both', conflict: 'remote-wins' } },
      cloud: {
        url: cloud.dbUrl('compression'),
        requestTimeoutMs: 5000,
        fetch: recordingFetch(log),
        ...(compression ? { compression } : {}),
      },
    });
    sites.push(site);
    const r = await site.engine.syncOnce(['pull']);
    assert.equal(r.pull.docs, 40, JSON.stringify(r));
    assert.equal(
      ((await site.books.get('partner:p39')) as { name: string }).name,
      'Partner 39 with a long enough name to compress',
    );
    return { site, log };
  }

  it('given the default (auto) and a cloud on 127.0.0.1, when the books pull, then no answer comes compressed', async () => {
    const { log } = await pullWith(undefined);
    const changes = log.filter((x) => x.path.endsWith('/_changes'));
    assert.ok(changes.length > 0);
    assert.ok(
      log.every((x) => x.asked === 'identity' && x.got === null),
      JSON.stringify(log),
    );
  });

  it('given compression: gzip, when the books pull, then the _changes answers come gzip-compressed and the books get the same documents', async () => {
    const { log } = await pullWith('gzip');
    const changes = log.filter((x) => x.path.endsWith('/_changes'));
    assert.ok(changes.length > 0);
    assert.ok(
      changes.every((x) => x.asked === 'gzip' && x.got === 'gzip'),
      JSON.stringify(changes),
    );
  });

  it('given compression: none, when the books pull, then every request asks for identity', async () => {
    const { log } = await pullWith('none');
    assert.ok(
      log.length > 0 && log.every((x) => x.asked === 'identity' && x.got === null),
      JSON.stringify(log),
    );
  });
});
