import assert from 'node:assert/strict';
import { cloudFactories, cloudPerTest, type CloudFactory } from '../helpers/cloud-admin';
import { Site } from '../helpers/cloud-server';

type Doc = Record<string, unknown> & { _id: string };

const types = { partner: { direction: 'both' as const, conflict: 'remote-wins' } };
const DOCS = 120;
const BATCH = 7;

function partners(n: number): Doc[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: `partner:f${String(i).padStart(4, '0')}`,
    type: 'partner',
    name: `Partner ${i}`,
    bank_accounts: [],
  }));
}

function urlOf(input: Parameters<typeof fetch>[0]): string {
  return input instanceof Request ? input.url : String(input);
}

/** Global fetch, counting `_changes` requests by feed kind. */
function countingFetch(counts: { continuous: number; paged: number }): typeof fetch {
  return async (input, init) => {
    const url = urlOf(input);
    if (url.includes('/_changes?')) {
      if (url.includes('feed=continuous')) counts.continuous++;
      else counts.paged++;
    }
    return fetch(input, init);
  };
}

/** Global fetch whose continuous `_changes` feeds break (a reset connection) after `lines` lines. */
function breakingFetch(lines: number): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!urlOf(input).includes('feed=continuous') || !res.body) return res;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let text = '';
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const nl = text.indexOf('\n');
          if (nl >= 0) {
            if (sent >= lines) {
              await reader.cancel();
              controller.error(new TypeError('terminated: connection reset'));
              return;
            }
            controller.enqueue(encoder.encode(text.slice(0, nl + 1)));
            text = text.slice(nl + 1);
            sent++;
            return;
          }
          const { done, value } = await reader.read();
          if (done) {
            controller.close();
            return;
          }
          text += decoder.decode(value, { stream: true });
        }
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

function couchFeedSuite(name: string, factory: CloudFactory): void {
  describe(`sync pull over a continuous changes feed (component, ${name})`, function () {
    this.timeout(60_000);
    const cloud = cloudPerTest(factory, 'feed');

    async function site(options: Parameters<typeof Site.open>[1] = {}): Promise<Site> {
      const s = await Site.open(cloud.admin.siteUrl(cloud.db), { types, ...options });
      cloud.sites.push(s);
      return s;
    }

    async function fillCloud(): Promise<void> {
      const writer = await site();
      await writer.books.putMany(partners(DOCS) as never);
      const pushed = await writer.engine.syncOnce(['push']);
      assert.equal(pushed.push.docs, DOCS);
    }

    it('given more changes than one page, when pulling, then the first page is read alone and all the rest comes in one continuous feed', async () => {
      await fillCloud();
      const counts = { continuous: 0, paged: 0 };
      const reader = await site({
        batchSize: BATCH,
        cloud: {
          url: cloud.admin.siteUrl(cloud.db),
          requestTimeoutMs: 5000,
          fetch: countingFetch(counts),
        },
      });
      const pulled = await reader.engine.syncOnce(['pull']);
      assert.equal(pulled.pull.docs, DOCS);
      const names = new Map(
        (await reader.books.allOfType('partner')).map((d) => [d._id, (d as unknown as Doc).name]),
      );
      assert.equal(names.size, DOCS);
      assert.equal(names.get('partner:f0119'), 'Partner 119');
      assert.equal(counts.continuous, 1, 'one continuous feed');
      assert.equal(counts.paged, 1, 'one paged read: the first page');
      const again = await reader.engine.syncOnce(['pull']);
      assert.equal(again.pull.docs, 0, 'the checkpoint is at the end of the feed');
    });

    it('given a continuous feed that breaks midway, when pulling again, then it resumes from the last page stored and every document arrives', async () => {
      await fillCloud();
      const home = await site({
        batchSize: BATCH,
        cloud: {
          url: cloud.admin.siteUrl(cloud.db),
          requestTimeoutMs: 5000,
          fetch: breakingFetch(5 * BATCH),
        },
      });
      await assert.rejects(home.engine.syncOnce(['pull']), /changes feed/);
      const stored = (await home.books.allOfType('partner')).length;
      assert.ok(stored > BATCH, `pages taken from the feed were stored (${stored})`);
      await home.restartWith({
        cloud: { url: cloud.admin.siteUrl(cloud.db), requestTimeoutMs: 5000, fetch: undefined },
      });
      const resumed = await home.engine.syncOnce(['pull']);
      assert.ok(
        resumed.pull.docs < DOCS && resumed.pull.docs >= DOCS - stored,
        `resumed from a checkpoint (${resumed.pull.docs} pulled again, ${stored} stored before)`,
      );
      assert.equal((await home.books.allOfType('partner')).length, DOCS);
    });
  });
}

for (const [name, factory] of cloudFactories())
  if (name.startsWith('couchdb')) couchFeedSuite(name, factory);
