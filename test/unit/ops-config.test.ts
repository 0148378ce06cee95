import { strict as assert } from 'node:assert';
import { ConfigError, parseConfigText, secretValues, type LoadOptions } from '../../src/config';

const FILE = '/etc/booksync/booksync.yaml';
const REQUIRED = 'cloud: { url: embedded }\nledger: { company: { name: Demo, currency: EUR } }\n';

function load(text: string, opts: LoadOptions = { env: {} }) {
  return parseConfigText(`${text}\n${REQUIRED}`, FILE, opts);
}

function issues(text: string, opts: LoadOptions = { env: {} }): string[] {
  try {
    load(text, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`);
  }
  return assert.fail('the config loaded');
}

describe('config: ops and alerts', () => {
  it('listens on 127.0.0.1:9464 by default, with no webhooks', () => {
    const c = load('');
    assert.deepEqual(c.ops.listen, { host: '127.0.0.1', port: 9464 });
    assert.equal(c.ops.ready_offline_max_ms, 900_000);
    assert.deepEqual(c.alerts.webhooks, []);
    assert.equal(c.alerts.sync_offline_after_ms, 900_000);
    assert.equal(c.alerts.consent_warning_ms, 3 * 86_400_000);
    assert.equal(c.alerts.conflict_age_ms, 86_400_000);
  });

  it('reads none, an IPv6 address and a port', () => {
    assert.equal(load('ops: { listen: none }').ops.listen, null);
    assert.deepEqual(load('ops: { listen: "[::1]:9500", ready_offline_max: 2m }').ops, {
      listen: { host: '::1', port: 9500 },
      ready_offline_max: '2m',
      ready_offline_max_ms: 120_000,
    });
  });

  it('refuses a listen address without a port, or with a port above 65535, naming the place', () => {
    assert.match(issues('ops: { listen: "9464" }').join('\n'), /^1:16: ops\.listen: /);
    assert.deepEqual(issues('ops: { listen: "localhost:99999" }'), [
      '1:16: ops.listen: port 99999 is not a TCP port (0..65535)',
    ]);
  });

  it('takes webhook URLs and tokens only by reference, resolves them and masks them in logs', () => {
    const env = { HOOK_URL: 'https://ntfy.example/booksync-Zq8w', HOOK_TOKEN: 'tk_9f8e7d' };
    const c = load(
      'alerts:\n  webhooks:\n    - { name: phone, format: ntfy, url: { env: HOOK_URL }, token: { env: HOOK_TOKEN } }',
      { env },
    );
    assert.deepEqual(c.alerts.webhooks, [
      {
        name: 'phone',
        format: 'ntfy',
        url: env.HOOK_URL,
        token: env.HOOK_TOKEN,
        timeout: '10s',
        timeout_ms: 10_000,
      },
    ]);
    assert.ok(secretValues(c).includes(env.HOOK_URL) && secretValues(c).includes(env.HOOK_TOKEN));
    const inline = issues(
      'alerts:\n  webhooks:\n    - { name: phone, url: "https://hooks.example/T0/B0/xyz" }',
    );
    assert.equal(inline.length, 1);
    assert.match(inline[0], /^3:27: alerts\.webhooks\[0\]\.url: .*\{ env: NAME \}/);
    assert.doesNotMatch(inline.join('\n'), /xyz/);
    assert.match(
      issues('alerts:\n  webhooks:\n    - { name: phone, url: { env: NOPE } }').join('\n'),
      /alerts\.webhooks\[0\]\.url: environment variable NOPE is not set/,
    );
  });

  it('refuses two webhooks with one name and an unknown format', () => {
    const env = { U: 'http://127.0.0.1:1/' };
    assert.deepEqual(
      issues(
        'alerts:\n  webhooks:\n    - { name: a, url: { env: U } }\n    - { name: a, url: { env: U } }',
        { env },
      ),
      ["4:15: alerts.webhooks[1].name: duplicate webhook name 'a'"],
    );
    assert.match(
      issues('alerts:\n  webhooks:\n    - { name: a, format: teams, url: { env: U } }', {
        env,
      }).join('\n'),
      /alerts\.webhooks\[0\]\.format: .*json, ntfy, slack/,
    );
  });
});
