import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { type MoveDoc, bookContent, writeProblems } from '../../src/ledger';
import {
  BASIC,
  type Harness,
  account,
  harness,
  move,
  teardown,
} from '../helpers/local-api-harness';

/**
 * Hostile bodies and parameters for every endpoint of the local API. Each generated request must
 * get an answer below 500 and leave the books valid: a refused request (4xx) changes nothing, the
 * posted move never changes, and every revision written has a well-formed, readable history.
 * Seeds are fixed; `FUZZ_RUNS=2000 FUZZ_SEED=<n>` runs longer or elsewhere locally.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);

interface HostileRequest {
  method: string;
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** A body sent byte for byte (invalid JSON, deep nesting, a form). */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** `null` sends no credentials. */
  auth?: string | null;
}

// ---- value generators ------------------------------------------------------------------------

const hex = fc.stringMatching(/^[0-9a-f]{1,32}$/);
const oddValues = fc.constantFrom<unknown>(
  null,
  5,
  2.5,
  -1,
  0,
  1e300,
  '',
  'x',
  '[object Object]',
  {},
  [],
  { length: 3 },
  { x: 1 },
  ['1-abc'],
  true,
  '__proto__',
  'constructor',
);
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  oddValues,
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 20 }),
);
const revLike = fc.oneof(
  fc.constantFrom(
    '1-abc',
    '2-ffff',
    '0-1',
    '1-ABC',
    'x',
    '1.5-ab',
    '-1-ab',
    '1-',
    '1-[object Object]',
    '99999999999999999999-ab',
  ),
  fc.tuple(fc.integer({ min: 1, max: 6 }), hex).map(([n, h]) => `${n}-${h}`),
);
const rev: fc.Arbitrary<unknown> = fc.oneof(revLike, hostile);
const ids = [
  'account:1010',
  'account:499',
  'move:BNK1:2024:0001',
  'move:BNK1:2024:0002',
  'account:2000',
];
const id: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    ...ids,
    '_local/cp',
    '_design/x',
    '_foo',
    '',
    'account:',
    'move:BNK1:x',
    '__proto__',
    'constructor',
    '\ud800',
    'a/b',
  ),
  fc.string({ maxLength: 12 }),
  hostile,
);
const idString = id.filter((v): v is string => typeof v === 'string');
/** Mostly nearly-valid histories (one bad id, an odd start), sometimes anything. */
const revisions = fc.oneof(
  { weight: 1, arbitrary: hostile },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        start: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -1, max: 4 }) },
          { weight: 1, arbitrary: fc.constantFrom(2.5, 1e300, '2') },
          { weight: 1, arbitrary: hostile },
        ),
        ids: fc.oneof(
          {
            weight: 4,
            arbitrary: fc.array(
              fc.oneof({ weight: 4, arbitrary: hex }, { weight: 1, arbitrary: hostile }),
              { minLength: 1, maxLength: 3 },
            ),
          },
          { weight: 1, arbitrary: hostile },
        ),
      },
      { requiredKeys: ['start', 'ids'] },
    ),
  },
);
const attachment = fc.oneof(
  hostile,
  fc.record(
    {
      content_type: fc.oneof(fc.constant('text/plain'), hostile),
      data: fc.oneof(
        fc.constantFrom('aGk=', '!!!', 'aGk', 'a===', ''),
        fc.base64String({ maxLength: 12 }),
        hostile,
      ),
      stub: fc.oneof(fc.constant(true), hostile),
      follows: fc.constant(true),
    },
    { requiredKeys: [] },
  ),
);
const attachments = fc.oneof(
  hostile,
  fc.dictionary(
    fc.oneof(fc.constantFrom('a.txt', '_x', ''), fc.string({ maxLength: 6 })),
    attachment,
    { maxKeys: 2 },
  ),
);

/** A document body: valid-looking books content with hostile special members. */
function docs(posted: MoveDoc): fc.Arbitrary<Record<string, unknown>> {
  const [, postedHash] = posted._rev!.split('-');
  const content = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .integer({ min: 1000, max: 1005 })
        .map((code) => account(String(code)) as unknown as Record<string, unknown>),
    },
    fc.constant(move('2024:0002', 'draft') as unknown as Record<string, unknown>),
    // The posted move, unchanged or edited, with a history that claims to extend it.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.boolean(), hex, fc.integer({ min: 1, max: 3 }))
        .map(([edit, h, n]) => ({
          ...posted,
          ...(edit ? { ref: 'sneaky' } : {}),
          _rev: `${n}-${h}`,
          _revisions: { start: n, ids: n === 1 ? [h] : [h, postedHash] },
        })),
    },
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  );
  // A special member is left out half the time (`_id` two times in three), so many documents reach the ledger and the store.
  const member = <T>(arb: fc.Arbitrary<T>, absent = 1) =>
    fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
  return fc
    .record({
      content,
      _id: member(id, 2),
      _rev: member(rev),
      _revisions: member(revisions),
      _attachments: member(attachments),
      _deleted: member(fc.oneof(fc.boolean(), hostile)),
      extra: member(
        fc.dictionary(
          fc.constantFrom(
            '_foo',
            '_conflicts',
            '_revs_info',
            '__proto__',
            'type',
            'lines',
            'state',
          ),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 2 },
        ),
      ),
    })
    .map(({ content: c, extra, ...special }) => {
      const doc: Record<string, unknown> = { ...c, ...(extra ?? {}) };
      for (const [k, v] of Object.entries(special)) if (v !== undefined) doc[k] = v;
      return doc;
    });
}

const bool = fc.oneof(fc.constantFrom('true', 'false'), fc.string({ maxLength: 5 }));
const anyParam: fc.Arbitrary<unknown> = fc.oneof(
  bool,
  hostile,
  fc.integer({ min: -5, max: 1e6 }).map(String),
);
const jsonParam = fc.oneof(
  hostile.map((v) => JSON.stringify(v) ?? 'undefined'),
  fc.string({ maxLength: 10 }),
);
const deepText = fc
  .tuple(
    fc.integer({ min: 50, max: 20_000 }),
    fc.constantFrom(
      '%',
      '{"docs":[{"_id":"account:1001","type":"account","code":"1001","name":"x","kind":"asset","x":%}]}',
      '{"_id":"account:1001","x":%}',
    ),
  )
  .map(([n, shape]) => shape.replace('%', `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`));
const rawBody = fc.oneof(
  deepText,
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '{"docs": [',
    '{"a":1}{"b":2}',
    '\u0000',
    'name=clerk&password=x',
    '{"__proto__":{"x":1}}',
  ),
);

// ---- request generators, one per endpoint family ---------------------------------------------

function endpoints(posted: MoveDoc): Record<string, fc.Arbitrary<HostileRequest>> {
  const doc = docs(posted);
  const seg = (v: string) => enc(v);
  return {
    revs_diff: fc
      .oneof(
        hostile,
        fc.dictionary(
          fc.oneof(fc.constantFrom(...ids), fc.string({ maxLength: 8 })),
          fc.oneof(hostile, fc.array(rev, { maxLength: 3 })),
          { maxKeys: 3 },
        ),
      )
      .map((body) => ({ method: 'POST', path: '/books/_revs_diff', body })),
    bulk_docs: fc
      .oneof(
        { weight: 1, arbitrary: hostile },
        {
          weight: 6,
          arbitrary: fc.record(
            {
              docs: fc.oneof(
                { weight: 6, arbitrary: fc.array(doc, { minLength: 1, maxLength: 3 }) },
                { weight: 1, arbitrary: hostile },
              ),
              new_edits: fc.oneof(
                { weight: 3, arbitrary: fc.boolean() },
                { weight: 1, arbitrary: hostile },
              ),
            },
            { requiredKeys: ['docs'] },
          ),
        },
      )
      .map((body) => ({ method: 'POST', path: '/books/_bulk_docs', body })),
    // Replication writes (`new_edits: false`) whose history is nearly valid: one bad id, an odd start.
    replication: fc
      .record({
        content: fc.oneof(
          fc
            .integer({ min: 1000, max: 1002 })
            .map((code) => account(String(code)) as unknown as Record<string, unknown>),
          fc.boolean().map((edit) => ({ ...posted, ...(edit ? { ref: 'sneaky' } : {}) })),
        ),
        start: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) },
          { weight: 1, arbitrary: fc.constantFrom<unknown>(2.5, 0, -1, '2', null) },
        ),
        ids: fc.array(fc.oneof({ weight: 6, arbitrary: hex }, { weight: 1, arbitrary: hostile }), {
          minLength: 1,
          maxLength: 3,
        }),
        extendsStored: fc.boolean(),
        deleted: fc.boolean(),
      })
      .map(({ content, start, ids: hashes, extendsStored, deleted }) => {
        const history =
          extendsStored && content._id === posted._id
            ? [...hashes.slice(0, 1), posted._rev!.split('-')[1]]
            : hashes;
        const doc = {
          ...content,
          _rev: `${String(start)}-${String(history[0])}`,
          _revisions: { start, ids: history },
          ...(deleted ? { _deleted: true } : {}),
        };
        return {
          method: 'POST',
          path: '/books/_bulk_docs',
          body: { docs: [doc], new_edits: false },
        };
      }),
    bulk_get: fc
      .record({
        query: fc.record({ revs: bool, latest: bool, attachments: bool }, { requiredKeys: [] }),
        body: fc.oneof(
          { weight: 1, arbitrary: hostile },
          {
            weight: 4,
            arbitrary: fc.record({
              docs: fc.oneof(
                {
                  weight: 4,
                  arbitrary: fc.array(
                    fc.oneof(
                      { weight: 1, arbitrary: hostile },
                      {
                        weight: 4,
                        arbitrary: fc.record(
                          {
                            id: fc.oneof(fc.constantFrom(...ids), id),
                            rev,
                            atts_since: fc.oneof(fc.array(rev), hostile),
                          },
                          { requiredKeys: [] },
                        ),
                      },
                    ),
                    { maxLength: 4 },
                  ),
                },
                { weight: 1, arbitrary: hostile },
              ),
            }),
          },
        ),
      })
      .map(({ query, body }) => ({ method: 'POST', path: '/books/_bulk_get', query, body })),
    all_docs: fc
      .record({
        method: fc.constantFrom('GET', 'POST'),
        path: fc.constantFrom('/books/_all_docs', '/books/_design_docs'),
        query: fc.record(
          {
            keys: jsonParam,
            key: jsonParam,
            startkey: jsonParam,
            endkey: jsonParam,
            limit: anyParam,
            skip: anyParam,
            descending: bool,
            include_docs: bool,
            conflicts: bool,
            inclusive_end: bool,
          },
          { requiredKeys: [] },
        ),
        body: fc.oneof(
          hostile,
          fc.record({
            keys: fc.oneof(fc.array(fc.oneof(idString, hostile), { maxLength: 4 }), hostile),
          }),
        ),
      })
      .map((r) => (r.method === 'GET' ? { ...r, body: undefined } : r)),
    changes: fc
      .record({
        method: fc.constantFrom('GET', 'POST'),
        query: fc.record(
          {
            feed: fc.constantFrom('normal', 'longpoll', 'continuous', 'bogus', ''),
            since: fc.oneof(
              fc.constantFrom('0', 'now', '3', '"2-g1A"', '-1', '1e400'),
              fc.string({ maxLength: 6 }),
            ),
            limit: anyParam,
            style: fc.constantFrom('all_docs', 'main_only', 'x'),
            filter: fc.constantFrom('_doc_ids', '_selector', '_design', 'app/x'),
            doc_ids: jsonParam,
            include_docs: bool,
            descending: bool,
            conflicts: bool,
          },
          { requiredKeys: [] },
        ),
        body: fc.oneof(
          hostile,
          fc.record(
            {
              doc_ids: fc.oneof(fc.array(fc.oneof(idString, hostile), { maxLength: 3 }), hostile),
              selector: fc.oneof(
                hostile,
                fc.record({
                  type: fc.oneof(
                    hostile,
                    fc.record({
                      $regex: fc.oneof(fc.constantFrom('(', '^acc', '[', '*'), hostile),
                    }),
                    fc.record({ $eq: hostile }),
                  ),
                }),
                fc.record({ $and: hostile }),
                fc.record({ x: fc.record({ $foo: hostile }) }),
              ),
            },
            { requiredKeys: [] },
          ),
        ),
      })
      // A feed that waits ends after 1 ms: the test is about parameters, not about waiting.
      .map((r) => ({
        method: r.method,
        path: '/books/_changes',
        query: { ...r.query, timeout: '1' },
        body: r.method === 'POST' ? r.body : undefined,
      })),
    documents: fc
      .record({
        method: fc.constantFrom('GET', 'PUT', 'DELETE', 'HEAD'),
        id: idString,
        query: fc.record(
          {
            rev: fc.oneof(revLike, fc.string({ maxLength: 6 })),
            revs: bool,
            open_revs: fc.oneof(fc.constant('all'), jsonParam),
            new_edits: bool,
            conflicts: bool,
            meta: bool,
            latest: bool,
            attachments: bool,
            revs_info: bool,
          },
          { requiredKeys: [] },
        ),
        body: fc.oneof(doc, hostile),
      })
      .map((r) => ({
        method: r.method,
        path: `/books/${seg(r.id)}`,
        query: r.query,
        body: r.method === 'PUT' ? r.body : undefined,
      })),
    design_docs: fc
      .record({
        method: fc.constantFrom('GET', 'PUT', 'DELETE'),
        name: fc.string({ maxLength: 6 }),
        body: fc.oneof(doc, hostile),
      })
      .map((r) => ({
        method: r.method,
        path: `/books/_design/${seg(r.name)}`,
        body: r.method === 'PUT' ? r.body : undefined,
      })),
    local_docs: fc
      .record({
        method: fc.constantFrom('GET', 'PUT', 'DELETE'),
        name: fc.oneof(fc.constant('cp'), fc.string({ maxLength: 6 })),
        rev: fc.option(
          fc.oneof(
            fc.constantFrom('0-1', '0-2', '1-abc', '0-0', '0-x'),
            fc.string({ maxLength: 5 }),
          ),
          { nil: undefined },
        ),
        body: fc.oneof(doc, hostile),
      })
      .map((r) => ({
        method: r.method,
        path: `/books/_local/${seg(r.name)}`,
        query: r.rev === undefined ? {} : { rev: r.rev },
        body: r.method === 'PUT' ? r.body : undefined,
      })),
    attachments: fc
      .record({
        id: fc.oneof(fc.constant('account:2000'), idString),
        name: fc.oneof(fc.constantFrom('a.txt', 'x/y', '_a'), fc.string({ maxLength: 6 })),
        rev: fc.option(fc.oneof(revLike, fc.string({ maxLength: 6 })), { nil: undefined }),
      })
      .map((r) => ({
        method: 'GET',
        path: `/books/${seg(r.id)}/${r.name.split('/').map(seg).join('/')}`,
        query: r.rev === undefined ? {} : { rev: r.rev },
      })),
    database: fc
      .record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        body: fc.oneof(doc, hostile),
      })
      .map((r) => ({
        method: r.method,
        path: '/books',
        body: r.method === 'GET' ? undefined : r.body,
      })),
    session: fc
      .oneof(
        fc
          .record(
            { name: fc.oneof(fc.constant('clerk'), hostile), password: hostile, username: hostile },
            { requiredKeys: [] },
          )
          .map((body) => ({ body })),
        hostile.map((body) => ({ body })),
        fc
          .string({ maxLength: 30 })
          .map((raw) => ({ raw, contentType: 'application/x-www-form-urlencoded' })),
      )
      .map((r) => ({ method: 'POST', path: '/_session', auth: null, ...r })),
    server: fc
      .record({
        path: fc.constantFrom(
          '/',
          '/_all_dbs',
          '/_up',
          '/_uuids',
          '/_session',
          '/_foo',
          '/other',
          '/books/_ensure_full_commit',
        ),
        method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        count: anyParam,
      })
      .map((r) => ({ method: r.method, path: r.path, query: { count: r.count } })),
    raw: fc
      .record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        path: fc.oneof(
          fc.constantFrom(
            '/books/_bulk_docs',
            '/books/_revs_diff',
            '/books/_bulk_get',
            '/books/account:1010',
            '/books',
            '/books/_local/cp',
            '/books/%E0%A4%A',
            '/books/%ZZ',
            '/books/a/b/c',
          ),
          fc.string({ maxLength: 10 }).map((s) => `/books/${seg(s)}`),
        ),
        raw: rawBody,
        contentType: fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/json; charset=latin1',
        ),
      })
      .map((r) => (r.method === 'GET' ? { ...r, raw: undefined } : r)),
    auth: fc
      .oneof(
        fc.string({ maxLength: 20 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
        fc.constantFrom('Basic', 'Basic !!!', 'Bearer x', 'Basic Y2xlcms=', 'basic    '),
        fc.stringMatching(/^[ -~]{0,30}$/),
      )
      .map((auth) => ({ method: 'GET', path: '/books', auth })),
  };
}

/** Percent-encodes a path segment; a lone surrogate (which encodeURIComponent refuses) goes as raw UTF-8 bytes. */
function enc(segment: string): string {
  try {
    return encodeURIComponent(segment);
  } catch {
    return [...Buffer.from(segment, 'utf8')]
      .map((b) => `%${b.toString(16).padStart(2, '0')}`)
      .join('');
  }
}

// ---- the property ------------------------------------------------------------------------------

describe('local API fuzz (component: fast-check, fixed seed, real books on LevelDB)', function () {
  this.timeout(300_000);
  let h: Harness;
  let posted: MoveDoc;

  before(async () => {
    // Hostile Authorization headers are part of the fuzz: lockouts would hide every later request.
    h = await harness({}, { throttle: { maxFailures: Number.MAX_SAFE_INTEGER } });
    posted = await h.store.put(move('2024:0001', 'posted'));
    await h.store.putMany([account('1010'), account('499'), move('2024:0002', 'draft')]);
    await h.store.db.put({
      ...account('2000'),
      _attachments: { 'a.txt': { content_type: 'text/plain', data: 'aGk=' } },
    } as never);
    await h.store.db.put({ _id: '_local/cp', last_seq: 1 });
  });

  after(async () => {
    await teardown(h);
  });

  async function send(r: HostileRequest): Promise<{ status: number; text: string }> {
    const url = new URL(`${h.api.url}${r.path}`);
    for (const [k, v] of Object.entries(r.query ?? {}))
      if (v !== undefined)
        url.searchParams.set(k, typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
    const headers: Record<string, string> = { Accept: 'application/json', ...(r.headers ?? {}) };
    if (r.auth !== null) headers.Authorization = r.auth ?? BASIC;
    let body: string | undefined;
    if (r.raw !== undefined) body = r.raw;
    else if (r.body !== undefined) body = JSON.stringify(r.body);
    if (body !== undefined) headers['Content-Type'] = r.contentType ?? 'application/json';
    // A request that gets no answer is a failure of its own, not a hung test run.
    const signal = AbortSignal.timeout(15_000);
    const res = await fetch(url.href, {
      method: r.method,
      headers,
      body: r.method === 'GET' || r.method === 'HEAD' ? undefined : body,
      signal,
    });
    return { status: res.status, text: await res.text() };
  }

  /** Every revision written since `since` is well formed and readable, and every live document valid. */
  async function assertBooksValid(since: number): Promise<void> {
    const changes = await h.store.db.changes({ since, style: 'all_docs' });
    for (const change of changes.results) {
      for (const { rev: r } of change.changes)
        assert.match(r, /^[1-9]\d*-[0-9a-f]+$/, `${change.id} got revision ${r}`);
      if (change.id.startsWith('_local/')) continue;
      const leaves = (await h.store.db.get(change.id, {
        revs: true,
        open_revs: 'all',
      })) as unknown as Array<{
        ok?: Record<string, unknown> & { _revisions: { start: number; ids: string[] } };
      }>;
      for (const leaf of leaves) {
        if (!leaf.ok) continue;
        const { start, ids: hashes } = leaf.ok._revisions;
        assert.ok(
          Number.isSafeInteger(start) && start >= hashes.length,
          `${change.id}: history ${JSON.stringify(leaf.ok._revisions)}`,
        );
        if (leaf.ok._deleted) continue;
        const { problems } = writeProblems(leaf.ok as never, undefined);
        assert.deepEqual(problems, [], `${change.id} is not a valid books document`);
      }
    }
  }

  async function check(r: HostileRequest): Promise<void> {
    const before = (await h.store.db.info()).update_seq as number;
    const { status, text } = await send(r);
    const what = `${r.method} ${r.path} ${JSON.stringify(r.query ?? {})} ${r.raw ?? JSON.stringify(r.body)?.slice(0, 300)} → ${status} ${text.slice(0, 300)}`;
    assert.ok(status >= 200 && status < 500, what);
    if (status >= 400)
      assert.equal(
        (await h.store.db.info()).update_seq,
        before,
        `a refused request changed the books: ${what}`,
      );
    const now = await h.store.get<MoveDoc>(posted._id);
    assert.deepEqual(
      now && bookContent(now),
      bookContent(posted),
      `the posted move changed: ${what}`,
    );
    await assertBooksValid(before);
    assert.equal(
      (await fetch(`${h.api.url}/_up`, { headers: { Authorization: BASIC } })).status,
      200,
      `the API stopped answering after ${what}`,
    );
  }

  for (const name of [
    'revs_diff',
    'bulk_docs',
    'replication',
    'bulk_get',
    'all_docs',
    'changes',
    'documents',
    'design_docs',
    'local_docs',
    'attachments',
    'database',
    'session',
    'server',
    'raw',
    'auth',
  ]) {
    it(`given hostile ${name} requests, when sent, then no 5xx, the API keeps answering and the books change only by valid writes`, async () => {
      const arb = endpoints(posted)[name];
      const logged = h.logs.entries.length;
      await fc.assert(fc.asyncProperty(arb, check), {
        numRuns: RUNS,
        seed: SEED,
        endOnFailure: true,
      });
      const errors = h.logs.entries.slice(logged).filter((e) => e.level === 'error');
      assert.deepEqual(
        errors.map((e) => `${String(e.message)} ${String(e.stack)}`),
        [],
      );
    });
  }
});
