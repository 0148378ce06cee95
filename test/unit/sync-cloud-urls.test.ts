import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config';
import { syncSetupFrom } from '../../src/daemon/sync-service';
import type { BooksStore } from '../../src/ledger';
import { memoryLogger } from '../helpers/cloud-server';

const LEDGER = 'ledger: { company: { name: Demo, currency: EUR } }';

describe('cloud.url as a list of cluster nodes (config)', () => {
  it('given a list of node URLs, when the config loads, then the first is the cloud URL and the sync gets all of them in order', () => {
    const config = parseConfigText(
      [
        'cloud:',
        '  url:',
        '    - http://127.0.0.1:15984/books',
        '    - http://127.0.0.1:25984/books',
        LEDGER,
      ].join('\n'),
      '/tmp/booksync.yaml',
      { env: {} },
    );
    assert.equal(config.cloud.url, 'http://127.0.0.1:15984/books');
    assert.deepEqual(config.cloud.urls, [
      'http://127.0.0.1:15984/books',
      'http://127.0.0.1:25984/books',
    ]);
    const { logger } = memoryLogger();
    const setup = syncSetupFrom(config, config.cloud.url, {} as BooksStore, logger);
    assert.deepEqual(setup.cloud.url, [
      'http://127.0.0.1:15984/books',
      'http://127.0.0.1:25984/books',
    ]);
  });

  it('given a list with a bad entry, when the config loads, then the error names the entry', () => {
    try {
      parseConfigText(
        [
          'cloud:',
          '  url:',
          '    - http://127.0.0.1:15984/books',
          '    - ftp://x/books',
          LEDGER,
        ].join('\n'),
        '/tmp/booksync.yaml',
        { env: {} },
      );
      assert.fail('loaded');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cloud\.url\[1\]: not an http\(s\) URL/);
    }
  });
});
