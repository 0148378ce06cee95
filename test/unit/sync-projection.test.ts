import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../../src/shared/canonical-json';
import { TypeProjection, Projection, parsePath } from '../../src/sync/projection';
import { SyncConfigError } from '../../src/sync/errors';
import {
  strategyNamed,
  STRATEGY_NAMES,
  mergeWith,
  remoteWins,
  localWins,
  newestWins,
} from '../../src/sync/conflicts';
import { backoffNamed } from '../../src/sync/backoff';

const partner = new TypeProjection('partner', {
  direction: 'both',
  exclude: { push: ['internal_notes'], both: ['bank_accounts[].iban', 'meta.secret.pin'] },
});

describe('sync projection (unit)', () => {
  const doc = {
    _id: 'partner:1',
    _rev: '3-abc',
    _conflicts: ['3-def'],
    type: 'partner',
    name: 'ACME',
    internal_notes: 'n',
    bank_accounts: [{ iban: 'DE1', bic: 'B1' }, { iban: 'DE2' }],
    meta: { secret: { pin: 1234, hint: 'h' }, tag: 't' },
    gone: undefined,
  };

  it('given nested and array paths, when projecting for push, then excluded fields and store metadata are gone', () => {
    assert.deepEqual(partner.project(doc, 'push'), {
      _id: 'partner:1',
      bank_accounts: [{ bic: 'B1' }, {}],
      meta: { secret: { hint: 'h' }, tag: 't' },
      name: 'ACME',
      type: 'partner',
    });
  });

  it('given a push-only exclusion, when projecting for pull, then that field stays', () => {
    const p = partner.project(doc, 'pull') as Record<string, unknown>;
    assert.equal(p.internal_notes, 'n');
    assert.equal(JSON.stringify(p).includes('DE1'), false);
  });

  it('given direction push, when projecting for pull, then null (the type does not go that way)', () => {
    const t = new TypeProjection('statement_line', { direction: 'push' });
    assert.equal(t.project({ _id: 'stl:a:1' }, 'pull'), null);
    assert.notEqual(t.project({ _id: 'stl:a:1' }, 'push'), null);
  });

  it('given a cloud doc with its own excluded values, when composing a push, then the cloud keeps them (arrays by index)', () => {
    const cloud = {
      _id: 'partner:1',
      name: 'old',
      bank_accounts: [{ iban: 'CLOUD1', bic: 'x' }],
      meta: { secret: { pin: 9 } },
    };
    const out = partner.compose(
      partner.shared(doc),
      partner.remoteKeep(cloud) ?? null,
      doc,
      'push',
    );
    assert.deepEqual(out.bank_accounts, [{ iban: 'CLOUD1', bic: 'B1' }, {}]);
    assert.deepEqual(out.meta, { secret: { hint: 'h', pin: 9 }, tag: 't' });
    assert.equal(out.internal_notes, undefined);
    assert.equal(out.name, 'ACME');
  });

  it('given array items with an id, when composing, then items are matched by id, not by index', () => {
    const t = new TypeProjection('x', { direction: 'both', exclude: { both: ['lines[].secret'] } });
    const local = {
      _id: 'x:1',
      lines: [
        { id: 'b', v: 2, secret: 'lb' },
        { id: 'a', v: 1, secret: 'la' },
      ],
    };
    const cloudShared = {
      _id: 'x:1',
      lines: [
        { id: 'a', v: 10 },
        { id: 'b', v: 20 },
      ],
    };
    const out = t.compose(cloudShared, local, null, 'pull');
    assert.deepEqual(out.lines, [
      { id: 'a', v: 10, secret: 'la' },
      { id: 'b', v: 20, secret: 'lb' },
    ]);
  });

  it('given a pull, when the cloud lacks a push-only field, then the local value is kept', () => {
    const cloud = {
      _id: 'partner:1',
      type: 'partner',
      name: 'New',
      bank_accounts: [{ bic: 'B1' }],
    };
    const out = partner.compose(partner.shared(cloud), doc, cloud, 'pull');
    assert.equal(out.internal_notes, 'n');
    assert.deepEqual(out.bank_accounts, [{ iban: 'DE1', bic: 'B1' }]);
    assert.equal(out.name, 'New');
  });

  it('given a document new to the books, when composing a pull, then a push-only field the cloud has comes along and nothing excluded on pull does', () => {
    const cloud = {
      _id: 'partner:2',
      _rev: '3-c',
      type: 'partner',
      name: 'Cloud',
      internal_notes: 'from another site',
      bank_accounts: [{ iban: 'DE9', bic: 'B9' }],
    };
    const out = partner.compose(partner.shared(cloud), null, cloud, 'pull');
    assert.equal(out.internal_notes, 'from another site');
    assert.deepEqual(out.bank_accounts, [{ bic: 'B9' }]);
    const plain = { ...cloud, internal_notes: undefined };
    const bare = partner.compose(partner.shared(plain), null, plain, 'pull');
    assert.deepEqual(
      bare,
      { ...partner.shared(plain) },
      'nothing to carry: the shared content as it is',
    );
    assert.notEqual(bare, partner.shared(plain), 'a copy, not the memoised projection itself');
  });

  it('given a tombstone, when projecting, then it is the deleted form', () => {
    assert.deepEqual(partner.project({ _id: 'partner:1', _deleted: true }, 'push'), {
      _id: 'partner:1',
      _deleted: true,
    });
  });

  it('given bad paths or directions, when compiling, then SyncConfigError names the problem', () => {
    assert.throws(() => parsePath('a..b'), SyncConfigError);
    assert.throws(() => parsePath('a[0].b'), SyncConfigError);
    assert.throws(
      () => new TypeProjection('x', { direction: 'sideways' as never }),
      /direction 'sideways'/,
    );
  });

  it('given any document and exclusion rules, when a body is composed from its shared content alone, then that body has the same shared content and each way projecting to shared says so', () => {
    // The engine's pull fast path relies on this to skip stripping and hashing the written body again.
    const key = fc.constantFrom('a', 'b', 'c', 'id', 'n');
    const leaf = fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const path = fc
      .array(fc.tuple(key, fc.boolean()), { minLength: 1, maxLength: 3 })
      .map((segs) =>
        segs.map(([k, each], i) => (each && i < segs.length - 1 ? `${k}[]` : k)).join('.'),
      );
    const paths = fc.array(path, { maxLength: 3 });
    fc.assert(
      fc.property(
        fc.dictionary(key, value, { maxKeys: 5 }),
        paths,
        paths,
        paths,
        fc.constantFrom<'push' | 'pull'>('push', 'pull'),
        (body, push, pull, both, way) => {
          const tp = new TypeProjection('t', { direction: 'both', exclude: { push, pull, both } });
          const source = { ...body, _id: 't:1', _rev: '1-a' };
          const shared = tp.shared(source);
          const composed = tp.compose(shared, null, source, way);
          const body2 = composed as typeof source;
          assert.equal(canonicalJson(tp.shared(body2)), canonicalJson(shared));
          for (const w of ['push', 'pull'] as const) {
            if (tp.projectsToShared(w))
              assert.equal(canonicalJson(tp.project(body2, w)), canonicalJson(shared));
          }
        },
      ),
      { numRuns: 500, seed: 20261126 },
    );
  });

  it('given an id prefix alias, when typing a tombstone, then stl: is statement_line and _design is never synced', () => {
    const p = new Projection({ statement_line: { direction: 'push' } }, { direction: 'both' });
    assert.equal(p.forDoc(null, 'stl:bank:1').type, 'statement_line');
    assert.equal(p.forDoc(null, '_design/x').goes('push'), false);
    assert.equal(p.forDoc(null, 'audit:x').goes('push'), true);
  });
});

describe('sync conflict strategies (unit)', () => {
  const base = { _id: 'p:1', a: 1, b: 1, c: 1, updated_at: '2024-01-01T00:00:00.000Z' };
  const local = { ...base, a: 2, c: 5, updated_at: '2024-01-02T00:00:00.000Z' };
  const remote = { ...base, b: 3, c: 6, updated_at: '2024-01-03T00:00:00.000Z' };

  it('given an unknown name, when looking up, then the error lists the known strategies', () => {
    assert.throws(
      () => strategyNamed('coin-flip'),
      (e: Error) => STRATEGY_NAMES.every((n) => e.message.includes(n)),
    );
    assert.throws(() => strategyNamed('merge', 'merge'), /tie_breaker/);
  });

  it('given fields changed on one side each, when merging, then each side keeps its change and ties go to the tie-breaker', () => {
    const r = mergeWith(localWins).resolve({ id: 'p:1', local, remote, base });
    assert.equal(r.kind, 'resolved');
    if (r.kind !== 'resolved') return;
    assert.deepEqual({ a: r.result?.a, b: r.result?.b, c: r.result?.c }, { a: 2, b: 3, c: 5 });
    assert.equal(r.taken, 'merged');
    const r2 = mergeWith(remoteWins).resolve({ id: 'p:1', local, remote, base });
    assert.equal(r2.kind === 'resolved' && r2.result?.c, 6);
  });

  it('given a deletion against an unchanged side, when merging, then the deletion wins; against an edit, the tie-breaker decides', () => {
    const del = mergeWith(remoteWins).resolve({ id: 'p:1', local: null, remote: base, base });
    assert.deepEqual(del, { kind: 'resolved', result: null, taken: 'local' });
    const edit = mergeWith(remoteWins).resolve({ id: 'p:1', local: null, remote, base });
    assert.equal(edit.kind === 'resolved' && edit.result, remote);
  });

  it('given equal timestamps, when newest-wins decides, then both argument orders pick the same content', () => {
    const x = { _id: 'p:1', v: 'x', updated_at: 't' };
    const y = { _id: 'p:1', v: 'y', updated_at: 't' };
    const r1 = newestWins.resolve({ id: 'p:1', local: x, remote: y, base: null });
    const r2 = newestWins.resolve({ id: 'p:1', local: y, remote: x, base: null });
    assert.ok(r1.kind === 'resolved' && r2.kind === 'resolved');
    if (r1.kind === 'resolved' && r2.kind === 'resolved') assert.deepEqual(r1.result, r2.result);
    const r3 = newestWins.resolve({ id: 'p:1', local, remote: null, base });
    assert.ok(
      r3.kind === 'resolved' && r3.taken === 'local',
      'an edit beats a deletion (no timestamp)',
    );
  });

  it('given backoff names, when computing delays, then exponential-jitter doubles within the cap and fixed stays', () => {
    const b = backoffNamed('exponential-jitter', { baseMs: 100, maxMs: 1000, random: () => 1 });
    assert.equal(b(0), 100);
    assert.equal(b(100), 200);
    assert.equal(b(800), 1000);
    assert.equal(backoffNamed('fixed', { baseMs: 50, maxMs: 1000 })(999), 50);
    assert.throws(() => backoffNamed('linear', { maxMs: 1 }), /exponential-jitter, fixed/);
  });
});
