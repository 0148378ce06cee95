import assert from 'node:assert/strict';
import { acceptEncodingFor } from '../../src/sync';

describe('sync: which answers the daemon asks the cloud to compress (cloud.compression)', () => {
  it('auto: asks a cloud on this machine for plain answers, whatever the loopback spelling', () => {
    for (const url of [
      'http://127.0.0.1:5984/books',
      'http://127.8.9.10/books',
      'http://localhost:5984/books',
      'http://LOCALHOST/books',
      'http://[::1]:5984/books',
      'http://[::ffff:127.0.0.1]/books',
    ]) {
      assert.equal(acceptEncodingFor(url, 'auto'), 'identity', url);
    }
  });

  it('auto: asks a cloud across a network for gzip', () => {
    for (const url of [
      'https://couch.example.com/books',
      'http://192.168.1.20:5984/books',
      'http://10.0.0.5/books',
      'http://[2001:db8::1]/books',
      'http://127.example.com/books',
      'http://localhost.example.com/books',
      // Not loopback by the one definition (shared/urls.ts): the resolver may ask DNS for it.
      'http://couch.localhost/books',
    ]) {
      assert.equal(acceptEncodingFor(url, 'auto'), 'gzip', url);
    }
  });

  it('auto is the default; gzip and none override the address', () => {
    assert.equal(acceptEncodingFor('https://couch.example.com/books'), 'gzip');
    assert.equal(acceptEncodingFor('http://127.0.0.1/books'), 'identity');
    assert.equal(acceptEncodingFor('http://127.0.0.1/books', 'gzip'), 'gzip');
    assert.equal(acceptEncodingFor('https://couch.example.com/books', 'none'), 'identity');
  });
});
