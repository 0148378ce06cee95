import { strict as assert } from 'node:assert';
import type { MoveDoc } from '../../src/ledger';
import {
  BASIC,
  type Harness,
  account,
  call,
  harness,
  move,
  teardown,
} from '../helpers/local-api-harness';
import {
  type BulkGet,
  type CouchDoc,
  type CouchError,
  type DocWrite,
  type OpenRev,
  callAs,
} from './couch-answers';

/** JSON nested `depth` deep: `{"a":{"a":...null...}}`. */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`;
}

function assertBadRequest(res: { status: number; body: unknown }, what: string): void {
  const body = res.body as CouchError;
  assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
  assert.equal(typeof body.reason, 'string', what);
  assert.ok(
    ['bad_request', 'doc_validation'].includes(body.error),
    `${what}: ${JSON.stringify(body)}`,
  );
}

describe('local API against hostile requests (component: real books on LevelDB)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;

  afterEach(async () => {
    await teardown(h);
    h = undefined;
  });

  /** No request may have been an internal fault. */
  function assertNoInternalErrors(): void {
    const errors = h!.logs.entries.filter((e) => e.level === 'error');
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  }

  it('given _revs_diff with a value that is not a list of revisions, when posted, then 400 and the daemon keeps serving', async () => {
    h = await harness();
    const stored = await h.store.put(account('1010'));
    for (const value of [
      'x',
      null,
      5,
      { length: 3 },
      ['not-a-rev'],
      [5],
      ['1-ABCD'],
      ['0-abcd'],
      ['1.5-abcd'],
    ]) {
      const res = await call(`${h.db}/_revs_diff`, {
        method: 'POST',
        body: { 'account:1010': value },
      });
      assertBadRequest(res, JSON.stringify(value));
    }
    for (const body of ['[]', '"x"', '5', 'null'])
      assertBadRequest(await call(`${h.db}/_revs_diff`, { method: 'POST', body }), body);
    const ok = await call(`${h.db}/_revs_diff`, {
      method: 'POST',
      body: { 'account:1010': [stored._rev, '2-abcd'] },
    });
    assert.deepEqual(ok.body, { 'account:1010': { missing: ['2-abcd'] } });
    assertNoInternalErrors();
  });

  it('given new_edits false with a malformed _revisions, when written, then 400 and the document keeps its revision tree', async () => {
    h = await harness();
    const stored = await h.store.put(account('1010'));
    const [, hash] = stored._rev.split('-');
    const malformed: Array<Record<string, unknown>> = [
      { _rev: '2-aaaa', _revisions: { start: 2, ids: [{ x: 1 }, hash] } },
      { _rev: '1-[object Object]', _revisions: { start: 1, ids: [{ x: 1 }] } },
      { _rev: '2-aaaa', _revisions: { start: 2, ids: 'aaaa' } },
      { _rev: '2-aaaa', _revisions: { start: 2, ids: [] } },
      { _rev: '2-AAAA', _revisions: { start: 2, ids: ['AAAA', hash] } },
      { _rev: '2-aaaa', _revisions: { start: 3, ids: ['aaaa', hash] } },
      { _rev: '2-aaaa', _revisions: { start: 1, ids: ['aaaa', hash] } },
      { _rev: '2-aaaa', _revisions: { start: '2', ids: ['aaaa', hash] } },
      { _rev: '2-aaaa', _revisions: null },
      { _rev: 'x', _revisions: { start: 2, ids: ['aaaa', hash] } },
    ];
    for (const over of malformed) {
      const doc = { ...account('1010', { name: 'Renamed' }), ...over };
      const res = await call(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [doc], new_edits: false },
      });
      assertBadRequest(res, JSON.stringify(over));
    }
    assert.equal((await h.store.get('account:1010'))?._rev, stored._rev);
    const revs = await callAs<CouchDoc>(`${h.db}/account:1010?revs=true`);
    assert.equal(revs.status, 200);
    assert.deepEqual(revs.body._revisions, { start: 1, ids: [hash] });
    const edit = await callAs<DocWrite>(`${h.db}/account:1010?rev=${stored._rev}`, {
      method: 'PUT',
      body: { ...account('1010'), name: 'Edited' },
    });
    assert.equal(edit.status, 201, 'the document can still be edited');
    const gone = await call(`${h.db}/account:1010?rev=${edit.body.rev}`, { method: 'DELETE' });
    assert.equal(gone.status, 200, 'and deleted');
    assertNoInternalErrors();
  });

  it('given _revisions with a fractional, zero or negative start, when written, then 400 and nothing is stored', async () => {
    h = await harness();
    for (const start of [2.5, 0, -1, 1e300, Number.MAX_SAFE_INTEGER + 2]) {
      const doc = {
        ...account('1010'),
        _rev: `${start}-aaaa`,
        _revisions: { start, ids: ['aaaa'] },
      };
      assertBadRequest(
        await call(`${h.db}/_bulk_docs`, {
          method: 'POST',
          body: { docs: [doc], new_edits: false },
        }),
        String(start),
      );
    }
    assert.equal(await h.store.get('account:1010'), undefined);
    assert.deepEqual((await h.store.db.allDocs()).rows, []);
  });

  it('given a posted move, when new_edits false writes malformed or invented history onto it, then it is refused and stays as it was', async () => {
    h = await harness();
    const posted = await h.store.put(move('2024:0001', 'posted'));
    const [, hash] = posted._rev.split('-');
    const same = {
      ...posted,
      _rev: '2-[object Object]',
      _revisions: { start: 2, ids: [{ x: 1 }, hash] },
    };
    assertBadRequest(
      await call(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [same], new_edits: false },
      }),
      'object id',
    );
    const child = {
      ...posted,
      ref: 'sneaky',
      _rev: '2-abcd',
      _revisions: { start: 2, ids: ['abcd', hash] },
    };
    const refused = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
      method: 'POST',
      body: { docs: [child], new_edits: false },
    });
    assert.equal(refused.status, 201);
    assert.equal(refused.body[0].code, 'LEDGER_POSTED_IMMUTABLE');
    const tombstone = {
      _id: posted._id,
      _deleted: true,
      _rev: '2-abcd',
      _revisions: { start: 2, ids: ['abcd', hash] },
    };
    const del = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
      method: 'POST',
      body: { docs: [tombstone], new_edits: false },
    });
    assert.equal(del.body[0].code, 'LEDGER_POSTED_IMMUTABLE');
    const after = await h.store.get<MoveDoc>(posted._id);
    assert.equal(after?._rev, posted._rev);
    assert.equal(after?.ref, undefined);
  });

  it('given _bulk_get for a missing revision, a missing document and a malformed entry, when posted, then 200 with a per-entry error in request order', async () => {
    h = await harness();
    const stored = await h.store.put(account('1010'));
    const body = {
      docs: [
        { id: 'account:1010', rev: '9-abcdef' },
        { id: 'account:nope' },
        { id: 'account:1010', rev: stored._rev },
        { rev: '1-abcd' },
        { id: 'account:1010', rev: 'junk' },
      ],
    };
    const res = await callAs<BulkGet>(`${h.db}/_bulk_get?revs=true`, { method: 'POST', body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [missingRev, missingDoc, found, noId, badRev] = res.body.results;
    assert.deepEqual(missingRev, {
      id: 'account:1010',
      docs: [
        { error: { id: 'account:1010', rev: '9-abcdef', error: 'not_found', reason: 'missing' } },
      ],
    });
    assert.deepEqual(missingDoc, {
      id: 'account:nope',
      docs: [
        { error: { id: 'account:nope', rev: 'undefined', error: 'not_found', reason: 'missing' } },
      ],
    });
    assert.equal(found.docs[0].ok?._rev, stored._rev);
    assert.equal(found.docs[0].ok?._revisions?.start, 1);
    assert.equal(noId.docs[0].error?.error, 'bad_request');
    assert.equal(badRev.docs[0].error?.error, 'bad_request');
    assertBadRequest(
      await call(`${h.db}/_bulk_get`, { method: 'POST', body: { docs: 'x' } }),
      'docs not a list',
    );
    assertNoInternalErrors();
  });

  it('given latest=true with a revision the document lacks, when asked by GET and _bulk_get, then it is missing and the API keeps serving', async () => {
    h = await harness();
    const first = await h.store.put(account('1010'));
    const second = await h.store.put({ ...first, name: 'Renamed' });
    const single = await call(`${h.db}/account:1010?rev=3-abcdef&latest=true`);
    assert.deepEqual(
      [single.status, single.body],
      [404, { error: 'not_found', reason: 'missing' }],
    );
    const latestOfOld = await callAs<CouchDoc>(
      `${h.db}/account:1010?rev=${first._rev}&latest=true`,
    );
    assert.equal(latestOfOld.body._rev, second._rev);
    const open = await callAs<OpenRev[]>(
      `${h.db}/account:1010?latest=true&open_revs=${encodeURIComponent(JSON.stringify(['3-abcdef', first._rev]))}`,
    );
    assert.deepEqual(
      open.body.map((r: { ok?: { _rev: string }; missing?: string }) => r.ok?._rev ?? r.missing),
      [second._rev, '3-abcdef'],
    );
    const bulk = await callAs<BulkGet>(`${h.db}/_bulk_get?latest=true`, {
      method: 'POST',
      body: {
        docs: [
          { id: 'account:1010', rev: '3-abcdef' },
          { id: 'account:1010', rev: first._rev },
          { id: '_local/none', rev: '1-abcd' },
        ],
      },
    });
    assert.equal(bulk.status, 200);
    assert.equal(bulk.body.results[0].docs[0].error?.error, 'not_found');
    assert.equal(bulk.body.results[1].docs[0].ok?._rev, second._rev);
    assert.equal(bulk.body.results[2].docs[0].error?.error, 'not_found');
    assert.equal((await call(`${h.db}/account:1010`)).status, 200);
    assertNoInternalErrors();
  });

  it('given JSON nested 10,000 deep, when sent to any endpoint that reads a body, then 400 and no internal error', async () => {
    h = await harness();
    const deep = deepJson(10_000);
    const targets: Array<[string, string]> = [
      ['PUT', `${h.db}/account:1010`],
      ['POST', h.db],
      ['POST', `${h.db}/_bulk_docs`],
      ['POST', `${h.db}/_bulk_get`],
      ['POST', `${h.db}/_revs_diff`],
      ['POST', `${h.db}/_all_docs`],
      ['POST', `${h.db}/_changes`],
      ['PUT', `${h.db}/_local/checkpoint`],
    ];
    for (const [method, url] of targets)
      assertBadRequest(await call(url, { method, body: deep }), `${method} ${url}`);
    assertBadRequest(
      await call(`${h.api.url}/_session`, { method: 'POST', body: deep, auth: null }),
      'POST /_session',
    );
    const withDoc = `{"_id":"account:1010","type":"account","code":"1010","name":"x","kind":"asset","extra":${deepJson(100)}}`;
    assertBadRequest(
      await call(`${h.db}/account:1010`, { method: 'PUT', body: withDoc }),
      'deep member',
    );
    assert.equal(
      (
        await call(`${h.db}/account:1010`, {
          method: 'PUT',
          body: { ...account('1010'), extra: JSON.parse(deepJson(20)) as unknown },
        })
      ).status,
      201,
      'moderate nesting is fine',
    );
    assertNoInternalErrors();
  });

  it('given an attachment with invalid base64, when written, then 400; valid base64 is stored and served', async () => {
    h = await harness();
    for (const data of ['!!!', 'aGk', 'aGk=x', 'a===', 5, null]) {
      const doc = {
        ...account('1010'),
        _attachments: { 'note.txt': { content_type: 'text/plain', data } },
      };
      assertBadRequest(
        await call(`${h.db}/account:1010`, { method: 'PUT', body: doc }),
        JSON.stringify(data),
      );
    }
    for (const atts of [
      'x',
      { _hidden: { data: 'aGk=' } },
      { '': { data: 'aGk=' } },
      { f: { follows: true } },
      { f: { stub: 'yes' } },
    ]) {
      assertBadRequest(
        await call(`${h.db}/account:1010`, {
          method: 'PUT',
          body: { ...account('1010'), _attachments: atts },
        }),
        JSON.stringify(atts),
      );
    }
    assert.equal(await h.store.get('account:1010'), undefined);
    const ok = await call(`${h.db}/account:1010`, {
      method: 'PUT',
      body: {
        ...account('1010'),
        _attachments: { 'note.txt': { content_type: 'text/plain', data: 'aGk=' } },
      },
    });
    assert.equal(ok.status, 201);
    const res = await fetch(`${h.db}/account:1010/note.txt`, { headers: { Authorization: BASIC } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hi');
    assertNoInternalErrors();
  });

  it('given special members, ids and _local documents that CouchDB refuses, when written, then 400 naming the place', async () => {
    h = await harness();
    const unknown = await call(`${h.db}/account:1010`, {
      method: 'PUT',
      body: { ...account('1010'), _foo: 1 },
    });
    assert.deepEqual(unknown.body, {
      error: 'doc_validation',
      reason: 'Bad special document member: _foo',
    });
    const bulk = await callAs<CouchError>(`${h.db}/_bulk_docs`, {
      method: 'POST',
      body: { docs: [account('1010'), { ...account('1020'), _deleted: 'yes' }] },
    });
    assertBadRequest(bulk, '_deleted');
    assert.match(bulk.body.reason, /docs\[1\]\._deleted/);
    assert.equal(
      await h.store.get('account:1010'),
      undefined,
      'a malformed document refuses the whole request',
    );
    assertBadRequest(
      await call(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [{ ...account('1010'), _id: 5 }] },
      }),
      'numeric id',
    );
    assertBadRequest(
      await call(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [account('1010')], new_edits: false },
      }),
      'no _rev',
    );
    assertBadRequest(
      await call(`${h.db}/account:1010?rev=banana`, { method: 'DELETE' }),
      'rev param',
    );
    assertBadRequest(await call(`${h.db}/account:1010?rev=banana`), 'rev param on GET');
    assertBadRequest(
      await call(`${h.db}/account:1010?open_revs=${encodeURIComponent('[5]')}`),
      'open_revs',
    );
    assertBadRequest(
      await call(`${h.db}/_local/cp`, { method: 'PUT', body: { _rev: '1-abcd' } }),
      'local rev',
    );
    assertBadRequest(
      await call(`${h.db}/_local/cp`, {
        method: 'PUT',
        body: { _attachments: { f: { data: 'aGk=' } } },
      }),
      'local attachments',
    );
    assertBadRequest(await call(`${h.db}/_local/cp`, { method: 'PUT', body: [1] }), 'local array');
    assertBadRequest(
      await call(`${h.db}/_local/cp?rev=banana`, { method: 'DELETE' }),
      'local delete rev',
    );
    assert.equal(
      (await call(`${h.db}/_local/cp`, { method: 'PUT', body: { last_seq: 1 } })).status,
      201,
    );
    assertNoInternalErrors();
  });

  it('given bad _all_docs keys and _changes parameters, when asked, then 400 before any work', async () => {
    h = await harness();
    for (const body of [{ keys: 'x' }, { keys: [1, 2] }, { keys: [{}] }, 'null']) {
      assertBadRequest(
        await call(`${h.db}/_all_docs`, { method: 'POST', body }),
        JSON.stringify(body),
      );
    }
    assertBadRequest(
      await call(`${h.db}/_all_docs?key=%22a%22`, { method: 'POST', body: { keys: ['a'] } }),
      'keys with key',
    );
    assertBadRequest(
      await call(`${h.db}/_all_docs?startkey=${encodeURIComponent('{"a":1}')}`),
      'object startkey',
    );
    assertBadRequest(await call(`${h.db}/_all_docs?limit=-1`), 'negative limit');
    for (const q of [
      'since=abc',
      'since=99999999999999999999',
      'limit=1.5',
      'feed=eventsource',
      'timeout=x',
      'heartbeat=-5',
      'style=x',
      'descending=maybe',
      'filter=_doc_ids&doc_ids=5',
      'filter=_doc_ids&doc_ids=%5B1%5D',
    ]) {
      assertBadRequest(await call(`${h.db}/_changes?${q}`), q);
    }
    assertBadRequest(
      await call(`${h.db}/_changes?filter=_selector`, {
        method: 'POST',
        body: { selector: { x: { $regex: '(' } } },
      }),
      'bad regex',
    );
    assertBadRequest(
      await call(`${h.db}/_changes?filter=_selector`, { method: 'POST', body: { selector: 5 } }),
      'selector not an object',
    );
    // An uncapped timeout past 2^31-1 ms would overflow Node's timer and end the feed at once, empty.
    const pending = await fetch(`${h.db}/_changes?feed=longpoll&timeout=99999999999&since=now`, {
      headers: { Authorization: BASIC },
    });
    assert.equal(pending.status, 200);
    await h.store.put(account('1010'));
    assert.deepEqual(
      ((await pending.json()) as { results: Array<{ id: string }> }).results.map((r) => r.id),
      ['account:1010'],
    );
    assertNoInternalErrors();
  });

  it('given an observer that throws, when requests come, then they are answered as usual and the failure is logged', async () => {
    h = await harness(
      {},
      {
        observer: {
          onResponse: () => {
            throw new Error('metrics down');
          },
          onLoginDenied: () => {
            throw new Error('metrics down');
          },
        },
      },
    );
    assert.equal((await call(h.db)).status, 200);
    assert.equal((await call(h.db, { auth: 'Basic !!!' })).status, 401);
    assert.equal((await call(h.db)).status, 200);
    assert.ok(
      h.logs.entries.some((e) => e.level === 'error' && /observer failed/.test(String(e.message))),
    );
  });

  it('given an internal fault inside a handler, when a client asks, then 500 without details, one error line with a stack, and the API keeps serving', async () => {
    h = await harness();
    const db = h.store.db as unknown as { info: () => Promise<unknown> };
    const info = db.info;
    db.info = () => Promise.reject(new TypeError('disk on fire'));
    try {
      const res = await call(h.db);
      assert.equal(res.status, 500);
      assert.deepEqual(res.body, {
        error: 'unknown_error',
        reason: 'internal error; see the booksync log',
      });
    } finally {
      db.info = info;
    }
    const errors = h.logs.entries.filter((e) => e.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].event, 'local_api.error');
    assert.match(String(errors[0].stack), /TypeError: disk on fire\n\s+at /);
    assert.equal((await call(h.db)).status, 200);
  });
});
