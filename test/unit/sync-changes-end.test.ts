import assert from 'node:assert/strict';
import { changesEnd } from '../../src/sync/couchdb/changes-end';

describe('changesEnd (the end of a _changes answer, read before decoding it)', () => {
  it('reads an opaque CouchDB seq and the pending count from the closing members', () => {
    const text = `{"results":[{"seq":null,"id":"a","changes":[{"rev":"1-x"}]}],\n"last_seq":"3000-g1AAAAC5eJzLYWBg","pending":17000}\n`;
    assert.deepEqual(changesEnd(text), {
      lastSeq: '3000-g1AAAAC5eJzLYWBg',
      pending: 17000,
      bytes: text.length,
    });
  });

  it('reads an integer seq', () => {
    assert.deepEqual(changesEnd('{"results":[],"last_seq":42,"pending":0}'), {
      lastSeq: 42,
      pending: 0,
      bytes: 40,
    });
  });

  it('gives null when the answer does not close with last_seq and pending (the caller waits for the decode)', () => {
    assert.equal(changesEnd('{"results":[],"last_seq":42}'), null);
    assert.equal(changesEnd('{"results":[],"pending":0,"last_seq":42}'), null);
    assert.equal(changesEnd('{"results":[],"last_seq":"5-a","pending":0'), null, 'cut short');
  });

  it('is not fooled by a document whose text holds the same words', () => {
    const doc = JSON.stringify({ _id: 'x', note: '"last_seq":"9-z","pending":0}' });
    const text = `{"results":[{"seq":"1-a","id":"x","doc":${doc}}],"last_seq":"1-a","pending":3}`;
    assert.deepEqual(changesEnd(text), { lastSeq: '1-a', pending: 3, bytes: text.length });
  });

  it('keeps an escaped quote inside the seq', () => {
    const text = '{"results":[],"last_seq":"a\\"b","pending":1}';
    assert.equal(changesEnd(text)?.lastSeq, 'a"b');
  });
});
