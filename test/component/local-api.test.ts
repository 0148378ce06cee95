import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb-node';
import winston from 'winston';
import { type AccountDoc, BooksStore, type MoveDoc } from '../../src/ledger';
import { LocalApi } from '../../src/local-api';
import {
  BASIC,
  FROZEN,
  type Harness,
  MemoryTransport,
  PASSWORD,
  USER,
  account,
  call,
  harness,
  move,
  settings as config,
  teardown,
} from '../helpers/local-api-harness';
import {
  type AllDocs,
  type BulkGet,
  type ChangeRow,
  type Changes,
  type CouchDoc,
  type CouchError,
  type DocWrite,
  type OpenRev,
  callAs,
} from './couch-answers';

/** The answer to `GET /`. */
interface Welcome {
  couchdb: string;
  version: string;
  vendor: { name: string };
  uuid: string;
}

function clientPouch(dir: string, name: string): PouchDB.Database {
  return new PouchDB(path.join(dir, name), {
    adapter: 'leveldb',
  });
}

function remotePouch(h: Harness): PouchDB.Database {
  return new PouchDB(h.db, {
    auth: { username: USER, password: PASSWORD },
  });
}

describe('local API (component: real books on LevelDB, HTTP on 127.0.0.1:0)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;

  afterEach(async () => {
    await teardown(h);
    h = undefined;
  });

  describe('server and authentication', () => {
    it('given a request without credentials, when it asks anything, then 401 with a Basic challenge', async () => {
      h = await harness();
      for (const p of ['/', '/_all_dbs', '/books', '/books/account:1010', '/books/_changes']) {
        const res = await call(`${h.api.url}${p}`, { auth: null });
        assert.equal(res.status, 401, p);
        assert.deepEqual(res.body, { error: 'unauthorized', reason: 'Authentication required.' });
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="booksync"');
      }
      const put = await call(`${h.db}/account:1010`, {
        method: 'PUT',
        body: account('1010'),
        auth: null,
      });
      assert.equal(put.status, 401);
      assert.equal(await h.store.get('account:1010'), undefined);
    });

    it('given wrong credentials, when it asks, then 401 without a challenge, and no log line holds the password', async () => {
      h = await harness();
      const wrongs = [
        `Basic ${Buffer.from(`${USER}:not-the-password`).toString('base64')}`,
        `Basic ${Buffer.from(`intruder:${PASSWORD}`).toString('base64')}`,
        'Basic !!!',
        'Bearer abc',
      ];
      for (const auth of wrongs) {
        const res = await call(`${h.db}`, { auth });
        assert.equal(res.status, 401, auth);
        assert.deepEqual(res.body, {
          error: 'unauthorized',
          reason: 'Name or password is incorrect.',
        });
        assert.equal(res.headers.get('www-authenticate'), null);
      }
      const login = await call(`${h.api.url}/_session`, {
        method: 'POST',
        body: { name: USER, password: 'wrong' },
        auth: null,
      });
      assert.equal(login.status, 401);
      const ok = await call(`${h.db}`);
      assert.equal(ok.status, 200);

      assert.equal(
        h.logs.entries.filter((e) => e.level === 'warn').length,
        0,
        'no warn line per failed login',
      );
      await h.api.stop(Date.now() + 1000);
      const bursts = h.logs.entries.filter((e) => e.event === 'local_api.login_failures');
      assert.equal(bursts.length, 1, 'one summary line for the burst');
      assert.equal(bursts[0].failures, wrongs.length + 1);
      const text = h.logs.text();
      assert.ok(!text.includes(PASSWORD), 'the password is in the logs');
      assert.ok(!text.includes(BASIC.slice(6)), 'the Authorization header is in the logs');
      assert.ok(!text.includes('not-the-password'), 'a tried password is in the logs');
      assert.ok(h.logs.entries.some((e) => e.event === 'local_api.listening'));
    });

    it('given a cookie session from POST /_session, when the client uses the cookie, then it is let in until it logs out', async () => {
      h = await harness();
      const login = await call(`${h.api.url}/_session`, {
        method: 'POST',
        body: `name=${USER}&password=${encodeURIComponent(PASSWORD)}`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        auth: null,
      });
      assert.equal(login.status, 200);
      assert.deepEqual(login.body, { ok: true, name: USER, roles: ['_admin'] });
      const setCookie = login.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /^AuthSession=[^;]+; Version=1; Path=\/; Max-Age=600; HttpOnly/);
      const cookie = setCookie.split(';')[0];

      const session = await callAs<{ userCtx: unknown; info: { authenticated: string } }>(
        `${h.api.url}/_session`,
        {
          auth: null,
          headers: { Cookie: cookie },
        },
      );
      assert.equal(session.status, 200);
      assert.deepEqual(session.body.userCtx, { name: USER, roles: ['_admin'] });
      assert.equal(session.body.info.authenticated, 'cookie');
      assert.equal((await call(h.db, { auth: null, headers: { Cookie: cookie } })).status, 200);

      const forged = await call(h.db, {
        auth: null,
        headers: {
          Cookie: `AuthSession=${Buffer.from(`${USER}:65E6EB20:00`).toString('base64url')}`,
        },
      });
      assert.equal(forged.status, 401);

      const logout = await call(`${h.api.url}/_session`, {
        method: 'DELETE',
        auth: null,
        headers: { Cookie: cookie },
      });
      assert.equal(logout.status, 200);
      assert.match(logout.headers.get('set-cookie') ?? '', /^AuthSession=; .*Max-Age=0/);
    });

    it('given the API, when a client asks the server endpoints, then they answer like CouchDB with a uuid that survives a restart', async () => {
      h = await harness();
      const welcome = await callAs<Welcome>(`${h.api.url}/`);
      assert.equal(welcome.status, 200);
      assert.equal(welcome.body.couchdb, 'Welcome');
      assert.equal(welcome.body.version, '3.3.3');
      assert.deepEqual(welcome.body.vendor, { name: 'booksync' });
      assert.match(welcome.body.uuid, /^[0-9a-f]{32}$/);
      assert.deepEqual((await call(`${h.api.url}/_all_dbs`)).body, ['books']);

      const info = await callAs<{ db_name: string; doc_count: number }>(h.db);
      assert.equal(info.status, 200);
      assert.equal(info.body.db_name, 'books');
      assert.equal(info.body.doc_count, 0);
      const head = await fetch(h.db, { method: 'HEAD', headers: { Authorization: BASIC } });
      assert.equal(head.status, 200);

      assert.equal((await call(h.db, { method: 'PUT' })).status, 412);
      const other = await call(`${h.api.url}/other`);
      assert.equal(other.status, 404);
      assert.deepEqual(other.body, { error: 'not_found', reason: 'Database does not exist.' });
      assert.equal((await call(`${h.api.url}/other/account:1010`)).status, 404);
      assert.equal((await call(h.db, { method: 'DELETE' })).status, 403);
      const notAllowed = await call(`${h.db}/_bulk_docs`);
      assert.equal(notAllowed.status, 405);
      assert.equal(notAllowed.headers.get('allow'), 'POST');
      assert.equal(
        (await callAs<{ uuids: string[] }>(`${h.api.url}/_uuids?count=3`)).body.uuids.length,
        3,
      );
      assert.deepEqual((await call(`${h.api.url}/_up`)).body, { status: 'ok' });
      assert.deepEqual((await callAs<AllDocs>(`${h.db}/_design_docs`)).body.rows, []);

      await h.api.stop(Date.now() + 1000);
      assert.equal(h.api.url, undefined);
      await h.api.start();
      assert.equal((await callAs<Welcome>(`${h.api.url}/`)).body.uuid, welcome.body.uuid);
      assert.deepEqual(await h.api.status(), {
        enabled: true,
        url: h.api.url,
        database: `${h.api.url}/books`,
        open_feeds: 0,
      });
    });

    it('given the API is disabled, when started, then nothing listens', async () => {
      h = await harness({ enabled: false });
      assert.equal(h.api.url, undefined);
      assert.deepEqual(await h.api.status(), {
        enabled: false,
        url: null,
        database: null,
        open_feeds: 0,
      });
    });

    it('given new credentials on reload, when old and new clients call, then only the new ones get in', async () => {
      h = await harness();
      const before = h.api.url;
      await h.api.reload({ ...h.config });
      assert.equal(h.api.url, before, 'an unchanged section keeps the listener');
      await h.api.reload({ ...h.config, password: 'rotated-password' });
      assert.equal((await call(h.api.databaseUrl!)).status, 401);
      const fresh = `Basic ${Buffer.from(`${USER}:rotated-password`).toString('base64')}`;
      assert.equal((await call(h.api.databaseUrl!, { auth: fresh })).status, 200);
      await h.api.reload({ ...h.config, enabled: false });
      assert.equal(h.api.url, undefined);
      assert.ok(!h.logs.text().includes('rotated-password'));
    });

    it('given a body over the size limit, when posted, then 413 too_large', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-local-api-'));
      const logger = winston.createLogger({ silent: true });
      const store = await BooksStore.open(path.join(dir, 'books'), { logger });
      const api = new LocalApi({ store, settings: config(), logger, maxBodyBytes: 1024 });
      await api.start();
      h = {
        dir,
        store,
        api,
        logs: new MemoryTransport(),
        logger,
        db: api.databaseUrl!,
        config: config(),
      };
      const res = await callAs<CouchError>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [account('1010', { name: 'x'.repeat(4096) })] },
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error, 'too_large');
      const bad = await callAs<CouchError>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: '{"docs": [',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'bad_request');
    });
  });

  describe('documents', () => {
    it('given a plain HTTP client, when it creates, reads, updates and deletes an account, then each answer is CouchDB-shaped and the store sees it', async () => {
      h = await harness();
      // curl -d sends a form Content-Type; CouchDB reads the body as JSON anyway.
      const created = await callAs<DocWrite>(`${h.db}/account:1010`, {
        method: 'PUT',
        body: account('1010'),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.ok, true);
      assert.equal(created.body.id, 'account:1010');
      assert.match(created.body.rev, /^1-/);

      const read = await callAs<CouchDoc>(`${h.db}/account:1010`);
      assert.equal(read.status, 200);
      const head = await fetch(`${h.db}/account:1010`, {
        method: 'HEAD',
        headers: { Authorization: BASIC },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('etag'), `"${created.body.rev}"`);
      assert.equal(read.body.name, 'Account 1010');
      assert.equal(read.body.updated_at, FROZEN.toISOString(), 'API writes are stamped');
      assert.equal(read.headers.get('etag'), `"${created.body.rev}"`);

      const updated = await callAs<DocWrite>(`${h.db}/account:1010?rev=${created.body.rev}`, {
        method: 'PUT',
        body: { ...read.body, _rev: undefined, name: 'Bank' },
      });
      assert.equal(updated.status, 201);
      assert.equal((await h.store.get<AccountDoc>('account:1010'))?.name, 'Bank');

      const stale = await call(`${h.db}/account:1010`, {
        method: 'PUT',
        body: { ...read.body, name: 'Stale' },
      });
      assert.equal(stale.status, 409);
      assert.deepEqual(stale.body, { error: 'conflict', reason: 'Document update conflict.' });

      const withRevs = await callAs<CouchDoc>(`${h.db}/account:1010?revs=true&conflicts=true`);
      assert.deepEqual(withRevs.body._revisions?.start, 2);
      const openRevs = await callAs<OpenRev[]>(
        `${h.db}/account:1010?open_revs=${encodeURIComponent(JSON.stringify([updated.body.rev, '9-abc']))}`,
      );
      assert.equal(openRevs.body.length, 2);
      assert.equal(openRevs.body[0].ok?._rev, updated.body.rev);
      assert.deepEqual(openRevs.body[1], { missing: '9-abc' });
      const all = await callAs<OpenRev[]>(`${h.db}/account:1010?open_revs=all`);
      assert.equal(all.body.length, 1);

      const gone = await callAs<DocWrite>(`${h.db}/account:1010?rev=${updated.body.rev}`, {
        method: 'DELETE',
      });
      assert.equal(gone.status, 200);
      assert.equal(gone.body.ok, true);
      const missing = await call(`${h.db}/account:1010`);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error: 'not_found', reason: 'deleted' });
      assert.equal(await h.store.get('account:1010'), undefined);
      assert.deepEqual((await call(`${h.db}/account:9999`)).body, {
        error: 'not_found',
        reason: 'missing',
      });
    });

    it('given POST /books, when the document names its type, then the server makes an id of the books\u2019 shape', async () => {
      h = await harness();
      const res = await callAs<DocWrite>(h.db, {
        method: 'POST',
        body: { type: 'account', code: '2000', name: 'Payables', kind: 'liability' },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.id, 'account:2000');
      const partner = await callAs<DocWrite>(h.db, {
        method: 'POST',
        body: { type: 'partner', name: 'ACME', bank_accounts: [] },
      });
      assert.equal(partner.status, 201);
      assert.match(partner.body.id, /^partner:[0-9a-f]{32}$/);
      const untyped = await callAs<CouchError>(h.db, { method: 'POST', body: { hello: 'world' } });
      assert.equal(untyped.status, 403);
      assert.equal(untyped.body.code, 'LEDGER_INVALID_DOC');
    });

    it('given an unbalanced move, when written by PUT, then 403 forbidden with the ledger code and nothing is stored', async () => {
      h = await harness();
      const res = await callAs<CouchError>(`${h.db}/move:BNK1:2024:0001`, {
        method: 'PUT',
        body: move('2024:0001', 'draft', 1000, 999),
      });
      assert.equal(res.status, 403);
      assert.equal(res.body.error, 'forbidden');
      assert.equal(res.body.code, 'LEDGER_UNBALANCED');
      assert.match(res.body.reason, /unbalanced in EUR/);
      assert.equal(await h.store.get('move:BNK1:2024:0001'), undefined);
      const refused = h.logs.entries.find((e) => e.event === 'local_api.refused');
      assert.equal(refused?.doc_id, 'move:BNK1:2024:0001');
      assert.equal(refused?.code, 'LEDGER_UNBALANCED');
    });

    it('given a posted move, when a client edits or deletes it, then 403 LEDGER_POSTED_IMMUTABLE and it stays as it was', async () => {
      h = await harness();
      const posted = await h.store.put(move('2024:0002', 'posted'));
      const edit = await callAs<CouchError>(`${h.db}/move:BNK1:2024:0002`, {
        method: 'PUT',
        body: { ...posted, ref: 'changed' },
      });
      assert.equal(edit.status, 403);
      assert.equal(edit.body.code, 'LEDGER_POSTED_IMMUTABLE');
      const del = await callAs<CouchError>(`${h.db}/move:BNK1:2024:0002?rev=${posted._rev}`, {
        method: 'DELETE',
      });
      assert.equal(del.status, 403);
      assert.equal(del.body.code, 'LEDGER_POSTED_IMMUTABLE');
      assert.equal((await h.store.get<MoveDoc>('move:BNK1:2024:0002'))?._rev, posted._rev);
    });

    it('given ids with slashes and reserved prefixes, when written and read, then _local is free, _design is refused and encoded ids round-trip', async () => {
      h = await harness();
      const slash = await callAs<DocWrite>(`${h.db}/${encodeURIComponent('partner:acme/eu')}`, {
        method: 'PUT',
        body: { type: 'partner', name: 'ACME EU', bank_accounts: [] },
      });
      assert.equal(slash.status, 201);
      assert.equal(slash.body.id, 'partner:acme/eu');
      assert.equal((await callAs<CouchDoc>(`${h.db}/partner%3Aacme%2Feu`)).body.name, 'ACME EU');

      const local = await callAs<DocWrite>(`${h.db}/_local/checkpoint-1`, {
        method: 'PUT',
        body: { last_seq: 7, anything: 'goes' },
      });
      assert.equal(local.status, 201);
      assert.equal(local.body.id, '_local/checkpoint-1');
      const localRead = await callAs<CouchDoc>(`${h.db}/_local/checkpoint-1`);
      assert.equal(localRead.body.anything, 'goes');
      const localUpdate = await callAs<DocWrite>(`${h.db}/_local/checkpoint-1`, {
        method: 'PUT',
        body: { ...localRead.body, last_seq: 8 },
      });
      assert.equal(localUpdate.status, 201);
      assert.equal(
        (
          await call(`${h.db}/_local/checkpoint-1?rev=${localUpdate.body.rev}`, {
            method: 'DELETE',
          })
        ).status,
        200,
      );
      assert.equal((await call(`${h.db}/_local/checkpoint-1`)).status, 404);

      const design = await callAs<CouchError>(`${h.db}/_design/views`, {
        method: 'PUT',
        body: { views: {} },
      });
      assert.equal(design.status, 403);
      assert.equal(design.body.error, 'forbidden');
      assert.equal((await call(`${h.db}/_bogus`, { method: 'PUT', body: {} })).status, 400);
    });

    it('given _bulk_docs with valid and invalid documents, when posted, then each gets its own result and only the valid ones land', async () => {
      h = await harness();
      const res = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: {
          docs: [
            account('1010'),
            move('2024:0003', 'draft', 500, 400),
            account('1020'),
            { _id: '_design/x' },
            { _id: 'account:1030', type: 'account' },
          ],
        },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.length, 5);
      assert.equal(res.body[0].ok, true);
      assert.deepEqual(
        { ...res.body[1], reason: undefined },
        {
          id: 'move:BNK1:2024:0003',
          error: 'forbidden',
          reason: undefined,
          code: 'LEDGER_UNBALANCED',
        },
      );
      assert.equal(res.body[2].ok, true);
      assert.equal(res.body[3].error, 'forbidden');
      assert.equal(res.body[4].error, 'forbidden');
      assert.equal(res.body[4].code, 'LEDGER_INVALID_DOC');
      assert.deepEqual(
        (await h.store.db.allDocs()).rows.map((r) => r.id),
        ['account:1010', 'account:1020'],
      );

      const conflict = await call(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [account('1010', { name: 'again' })] },
      });
      assert.deepEqual(conflict.body, [
        { id: 'account:1010', error: 'conflict', reason: 'Document update conflict.' },
      ]);
    });

    it('given _bulk_docs with new_edits false, when a revision breaks a rule, then it is refused and the others are stored verbatim', async () => {
      h = await harness();
      const good = { ...account('1010'), _rev: '1-aaaa', updated_at: '2020-01-01T00:00:00.000Z' };
      const bad = { ...move('2024:0004', 'posted', 10, 20), _rev: '1-bbbb' };
      const res = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [good, bad], new_edits: false },
      });
      assert.equal(res.status, 201);
      assert.deepEqual(
        res.body.map((r) => [r.id, r.error, r.code]),
        [['move:BNK1:2024:0004', 'forbidden', 'LEDGER_UNBALANCED']],
      );
      const stored = await h.store.get<AccountDoc>('account:1010');
      assert.equal(stored?._rev, '1-aaaa');
      assert.equal(
        stored?.updated_at,
        '2020-01-01T00:00:00.000Z',
        'replicated revisions keep their own timestamps',
      );

      const posted = await h.store.put(move('2024:0005', 'posted'));
      const [start, hash] = posted._rev.split('-');
      const edited = {
        ...posted,
        ref: 'sneaky',
        _rev: `${Number(start) + 1}-cccc`,
        _revisions: { start: Number(start) + 1, ids: ['cccc', hash] },
      };
      const refused = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [edited], new_edits: false },
      });
      assert.equal(refused.body[0].code, 'LEDGER_POSTED_IMMUTABLE');
      const branch = { ...posted, ref: 'sneaky', _rev: '1-dddd' };
      const refusedBranch = await callAs<DocWrite[]>(`${h.db}/_bulk_docs`, {
        method: 'POST',
        body: { docs: [branch], new_edits: false },
      });
      assert.equal(
        refusedBranch.body[0].code,
        'LEDGER_POSTED_IMMUTABLE',
        'a conflicting branch may not shadow a posted move either',
      );
    });

    it('given a draft move in conflict, when the losing branch is deleted, then no ledger rule stands in the way', async () => {
      h = await harness();
      const draft = await h.store.put(move('2024:0006', 'draft'));
      await h.store.db.bulkDocs(
        [{ ...draft, _rev: '1-0000', ref: 'other' } as PouchDB.Core.PutDocument<object>],
        { new_edits: false },
      );
      const withConflicts = await callAs<CouchDoc & { _conflicts: string[] }>(
        `${h.db}/move:BNK1:2024:0006?conflicts=true`,
      );
      const loser = withConflicts.body._conflicts[0];
      assert.ok(loser);
      await h.store.put({
        ...(await h.store.get<MoveDoc>('move:BNK1:2024:0006'))!,
        state: 'posted',
      });
      const del = await call(`${h.db}/move:BNK1:2024:0006?rev=${loser}`, { method: 'DELETE' });
      assert.equal(del.status, 200, JSON.stringify(del.body));
      assert.equal(
        (
          await callAs<CouchDoc & { _conflicts: string[] }>(
            `${h.db}/move:BNK1:2024:0006?conflicts=true`,
          )
        ).body._conflicts,
        undefined,
      );
    });

    it('given documents, when listed with _all_docs and fetched with _bulk_get and _revs_diff, then the answers are CouchDB-shaped', async () => {
      h = await harness();
      await h.store.putMany([
        account('1010'),
        account('1020'),
        account('1030'),
        move('2024:0007', 'draft'),
      ]);
      const range = await callAs<AllDocs>(
        `${h.db}/_all_docs?startkey=${encodeURIComponent('"account:"')}&endkey=${encodeURIComponent('"account:\uffff"')}&limit=2&skip=1&include_docs=true`,
      );
      assert.equal(range.status, 200);
      assert.equal(range.body.total_rows, 4);
      assert.deepEqual(
        range.body.rows.map((r: { id: string }) => r.id),
        ['account:1020', 'account:1030'],
      );
      assert.equal(range.body.rows[0].doc?.code, '1020');
      const desc = await callAs<AllDocs>(`${h.db}/_all_docs?descending=true&limit=1`);
      assert.equal(desc.body.rows[0].id, 'move:BNK1:2024:0007');
      const keys = await callAs<AllDocs>(`${h.db}/_all_docs`, {
        method: 'POST',
        body: { keys: ['account:1030', 'account:nope'] },
      });
      assert.equal(keys.body.rows[0].id, 'account:1030');
      assert.deepEqual(keys.body.rows[1], { key: 'account:nope', error: 'not_found' });
      assert.equal((await call(`${h.db}/_all_docs?startkey=notjson`)).status, 400);

      const rev = (await h.store.get('account:1010'))!._rev!;
      const bulk = await callAs<BulkGet>(`${h.db}/_bulk_get?revs=true`, {
        method: 'POST',
        body: { docs: [{ id: 'account:1010', rev }, { id: 'account:nope' }] },
      });
      assert.equal(bulk.status, 200);
      assert.equal(bulk.body.results[0].docs[0].ok?._id, 'account:1010');
      assert.equal(bulk.body.results[0].docs[0].ok?._revisions?.start, 1);
      assert.equal(bulk.body.results[1].docs[0].error?.error, 'not_found');

      const diff = await call(`${h.db}/_revs_diff`, {
        method: 'POST',
        body: { 'account:1010': [rev, '2-ffff'], 'account:new': ['1-abcd'] },
      });
      assert.deepEqual(diff.body, {
        'account:1010': { missing: ['2-ffff'] },
        'account:new': { missing: ['1-abcd'] },
      });
      assert.equal(
        (await call(`${h.db}/_ensure_full_commit`, { method: 'POST', body: {} })).status,
        201,
      );
    });
  });

  describe('changes feed', () => {
    it('given writes, when _changes is read normally, with doc_ids and with since, then it lists them like CouchDB', async () => {
      h = await harness();
      await h.store.putMany([account('1010'), account('1020')]);
      const all = await callAs<Changes>(`${h.db}/_changes?style=all_docs&include_docs=true`);
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.body.results.map((r: { id: string }) => r.id),
        ['account:1010', 'account:1020'],
      );
      assert.equal(all.body.results[0].doc?.code, '1010');
      assert.equal(typeof all.body.last_seq, 'number');
      const filtered = await callAs<Changes>(`${h.db}/_changes?filter=_doc_ids`, {
        method: 'POST',
        body: { doc_ids: ['account:1020'] },
      });
      assert.deepEqual(
        filtered.body.results.map((r: { id: string }) => r.id),
        ['account:1020'],
      );
      const after = await callAs<Changes>(`${h.db}/_changes?since=${all.body.results[0].seq}`);
      assert.deepEqual(
        after.body.results.map((r: { id: string }) => r.id),
        ['account:1020'],
      );
      const limited = await callAs<Changes>(`${h.db}/_changes?limit=1`);
      assert.equal(limited.body.results.length, 1);
      assert.equal((await call(`${h.db}/_changes?filter=app/by_type`)).status, 400);
    });

    it('given an open longpoll, when a document is written through the API, then the feed answers with it', async () => {
      h = await harness();
      await h.store.put(account('1010'));
      const { last_seq } = (await callAs<Changes>(`${h.db}/_changes`)).body;
      // fetch resolves once the headers are in: the server is then waiting for a change.
      const pending = await fetch(
        `${h.db}/_changes?feed=longpoll&since=${last_seq}&include_docs=true`,
        { headers: { Authorization: BASIC } },
      );
      assert.equal(pending.status, 200);
      assert.equal((await h.api.status()).open_feeds, 1);
      const put = await call(`${h.db}/account:1020`, { method: 'PUT', body: account('1020') });
      assert.equal(put.status, 201);
      const body = (await pending.json()) as {
        results: Array<{ id: string; doc: AccountDoc }>;
        last_seq: number;
      };
      assert.deepEqual(
        body.results.map((r) => r.id),
        ['account:1020'],
      );
      assert.equal(body.results[0].doc.name, 'Account 1020');
      assert.ok(body.last_seq > last_seq);
    });

    it('given a longpoll with a heartbeat, when it waits, then newlines keep it alive and the answer still parses', async () => {
      h = await harness();
      const res = await fetch(`${h.db}/_changes?feed=longpoll&since=now&heartbeat=5`, {
        headers: { Authorization: BASIC },
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('\n')) {
        const { value, done } = await reader.read();
        assert.equal(done, false);
        text += decoder.decode(value, { stream: true });
      }
      assert.match(text, /^\n+$/, 'only heartbeats before the change');
      await h.store.put(account('1010'));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.deepEqual(
        (JSON.parse(text) as Changes).results.map((r) => r.id),
        ['account:1010'],
      );
    });

    it('given a longpoll with a timeout and nothing to say, when the timeout passes, then it answers with no results', async () => {
      h = await harness();
      const res = await callAs<Changes>(`${h.db}/_changes?feed=longpoll&since=now&timeout=10`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.results, []);
    });

    it('given a continuous feed, when the limit is reached, then it ends with the last sequence', async () => {
      h = await harness();
      await h.store.putMany([account('1010'), account('1020'), account('1030')]);
      const res = await fetch(`${h.db}/_changes?feed=continuous&limit=2`, {
        headers: { Authorization: BASIC },
      });
      const lines = (await res.text())
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Partial<ChangeRow> & { last_seq?: number });
      assert.deepEqual(
        lines.slice(0, 2).map((l) => l.id),
        ['account:1010', 'account:1020'],
      );
      assert.equal(lines[2].last_seq, lines[1].seq);
    });

    it('given an open longpoll, when the API stops, then stop returns promptly and the feed gets an empty answer', async () => {
      h = await harness();
      const pending = await fetch(`${h.db}/_changes?feed=longpoll&since=now&heartbeat=10000`, {
        headers: { Authorization: BASIC },
      });
      assert.equal((await h.api.status()).open_feeds, 1);
      // The deadline lies beyond this suite's timeout: a stop that waited for the open feed
      // instead of answering it fails the test.
      await h.api.stop(Date.now() + 30_000);
      const body = (await pending.json()) as { results: unknown[] };
      assert.deepEqual(body.results, []);
      await assert.rejects(fetch(`${h.db}`, { headers: { Authorization: BASIC } }));
    });
  });

  describe('replication and sync', () => {
    it('given a write through the API, when the sync engine follows the books, then the change is in store.db.changes()', async () => {
      h = await harness();
      const { update_seq } = await h.store.db.info();
      const res = await callAs<DocWrite>(`${h.db}/account:1010`, {
        method: 'PUT',
        body: account('1010'),
      });
      const changes = await h.store.db.changes({ since: update_seq as number, include_docs: true });
      assert.deepEqual(
        changes.results.map((r) => [r.id, r.changes[0].rev]),
        [['account:1010', res.body.rev]],
      );
    });

    it('given books with documents, when a client PouchDB replicates from the API, then every document arrives', async () => {
      h = await harness();
      const posted = await h.store.put(move('2024:0010', 'posted'));
      await h.store.putMany([
        account('1010'),
        account('499'),
        { type: 'partner', _id: 'partner:acme/eu', name: 'ACME', bank_accounts: [] },
      ]);
      const gone = await h.store.put(account('9999'));
      await h.store.remove(gone._id);
      const client = clientPouch(h.dir, 'client-pull');
      try {
        const result = await PouchDB.replicate(remotePouch(h), client, { batch_size: 2 });
        assert.equal(result.ok, true);
        assert.equal(result.doc_write_failures, 0);
        const ids = (await client.allDocs()).rows.map((r) => r.id);
        assert.deepEqual(ids, [
          'account:1010',
          'account:499',
          'move:BNK1:2024:0010',
          'partner:acme/eu',
        ]);
        assert.equal(
          ((await client.get('move:BNK1:2024:0010')) as unknown as MoveDoc)._rev,
          posted._rev,
        );
        await assert.rejects(
          client.get('account:9999'),
          (e: { status?: number }) => e.status === 404,
        );

        // A second run starts from its checkpoint (a `_local` doc on the API) and finds nothing new.
        const again = await PouchDB.replicate(remotePouch(h), client);
        assert.equal(again.docs_read, 0);
      } finally {
        await client.close();
      }
    });

    it('given a live replication from the API, when the daemon writes to the books, then the client receives it over the longpoll feed', async () => {
      h = await harness();
      await h.store.put(account('1010'));
      const client = clientPouch(h.dir, 'client-live');
      const replication = PouchDB.replicate(remotePouch(h), client, { live: true, retry: false });
      try {
        const arrived = (id: string) =>
          new Promise<void>((resolve, reject) => {
            const onChange = (info: PouchDB.Replication.ReplicationResult<object>) => {
              if (info.docs.some((d) => d._id === id)) {
                void replication.removeListener('change', onChange);
                resolve();
              }
            };
            void replication.on('change', onChange);
            void replication.once('error', reject);
          });
        await arrived('account:1010');
        const later = arrived('account:1020');
        await h.store.put(account('1020'));
        await later;
        assert.equal(
          ((await client.get('account:1020')) as unknown as AccountDoc).name,
          'Account 1020',
        );
      } finally {
        const done = new Promise<void>((resolve) => {
          void replication.once('complete', () => resolve());
        });
        replication.cancel();
        await done;
        await client.close();
      }
    });

    it('given a client PouchDB with valid and invalid documents, when it replicates to the API, then the valid ones land and the invalid one is denied', async () => {
      h = await harness();
      const client = clientPouch(h.dir, 'client-push');
      try {
        await client.bulkDocs([
          account('1010'),
          account('1020'),
          move('2024:0020', 'draft'),
          move('2024:0021', 'draft', 700, 300),
        ] as unknown as PouchDB.Core.PutDocument<object>[]);
        const replication = PouchDB.replicate(client, remotePouch(h));
        const denied: Array<{ id?: string; name?: string }> = [];
        void replication.on('denied', (err) => denied.push(err));
        const result = await replication;
        assert.equal(result.docs_written, 3);
        assert.equal(result.doc_write_failures, 1);
        assert.deepEqual(
          denied.map((d) => [d.id, d.name]),
          [['move:BNK1:2024:0021', 'forbidden']],
        );
        const ids = (await h.store.db.allDocs()).rows.map((r) => r.id);
        assert.deepEqual(ids, ['account:1010', 'account:1020', 'move:BNK1:2024:0020']);
        const local = (await client.get('account:1010')) as { _rev: string };
        assert.equal(
          (await h.store.get('account:1010'))?._rev,
          local._rev,
          'the revision is stored as replicated',
        );

        // An edit on the client travels as a child revision; a second run only sends that.
        await client.put({ ...(await client.get('account:1020')), name: 'Renamed' });
        const second = await PouchDB.replicate(client, remotePouch(h));
        assert.equal(second.docs_written, 1);
        assert.equal((await h.store.get<AccountDoc>('account:1020'))?.name, 'Renamed');
      } finally {
        await client.close();
      }
    });
  });
});
