import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson, normalise, sameContent } from '../../src/shared/canonical-json';

/** The definition, written the plain way: keys sorted by Array#sort, undefined members dropped. */
function reference(value: unknown): unknown {
  if (value === null || typeof value !== 'object')
    return typeof value === 'number' && !Number.isFinite(value) ? null : value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : reference(v)));
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, reference((value as Record<string, unknown>)[k])]),
  );
}

describe('canonical JSON (unit)', () => {
  it('given any JSON-like value, when normalised, then it serialises exactly as the sorted-keys definition does', () => {
    const key = fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.constantFrom('a', 'B', 'é', '_id', '10', '9', 'Z', 'aa'),
    );
    const leaf = fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 80 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(JSON.stringify(normalise(v)), JSON.stringify(reference(v)));
      }),
      { numRuns: 400, seed: 20261126 },
    );
  });

  it('given a document with an own __proto__ field, when normalised, then the field is kept as data and the copy keeps Object.prototype', () => {
    const doc = JSON.parse('{"b":1,"__proto__":{"polluted":true},"a":2}') as Record<
      string,
      unknown
    >;
    const out = normalise(doc) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__', 'a', 'b']);
    assert.equal(canonicalJson(doc), '{"__proto__":{"polluted":true},"a":2,"b":1}');
    assert.equal(
      sameContent(doc, { a: 2, b: 1 }),
      false,
      'a document with the field differs from one without',
    );
  });
});
