import { strict as assert } from 'node:assert';
import type { AlertWebhookConfig } from '../../src/config';
import { AlertNotifier, type ActiveAlert } from '../../src/ops';
import { captureLogger } from '../helpers/line-logger';
import { WebhookReceiver } from '../helpers/webhook-receiver';

/** The fields of a JSON webhook message these tests look at. */
interface AlertMessage {
  status: string;
  alert: string;
}

const alertMessage = (body: string) => JSON.parse(body) as AlertMessage;

const TOKEN = 'tk_s3cret_bearer';
const AUTH: ActiveAlert = {
  key: 'BooksyncBankAuthRequired/main',
  name: 'BooksyncBankAuthRequired',
  severity: 'critical',
  connection: 'main',
  summary: 'bank connection main: the bank rejected the credentials; no retry until they change',
};
const OFFLINE: ActiveAlert = {
  key: 'BooksyncSyncOffline',
  name: 'BooksyncSyncOffline',
  severity: 'critical',
  summary: 'sync has been offline since 2026-03-10T11:40:00.000Z',
};
const MISMATCH: ActiveAlert = {
  key: 'BooksyncBalanceMismatch/main',
  name: 'BooksyncBalanceMismatch',
  severity: 'warning',
  connection: 'main',
  summary: "bank connection main: the bank's EUR balance and the books differ",
};

describe('ops: alert webhooks against a local receiver', function () {
  this.timeout(20_000);
  let receiver: WebhookReceiver;
  let now: Date;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    receiver = new WebhookReceiver();
    await receiver.start();
    now = new Date('2026-03-10T12:00:00Z');
    log = captureLogger();
  });

  afterEach(() => receiver.close());

  function hook(
    name: string,
    format: AlertWebhookConfig['format'],
    over: Partial<AlertWebhookConfig> = {},
  ): AlertWebhookConfig {
    return {
      name,
      format,
      url: `${receiver.url}/${name}/Zq8wSecretPath`,
      token: null,
      timeout: '2s',
      timeout_ms: 2000,
      ...over,
    };
  }

  function notifier(
    webhooks: AlertWebhookConfig[],
    over: Partial<ConstructorParameters<typeof AlertNotifier>[0]> = {},
  ): AlertNotifier {
    return new AlertNotifier({
      webhooks,
      repeatMs: 6 * 3_600_000,
      maxPerHour: 20,
      sendResolved: true,
      logger: log.logger,
      clock: () => now,
      host: 'books1',
      ...over,
    });
  }

  const events = () => log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('sends generic JSON, ntfy and Slack-compatible messages, with the bearer token', async () => {
    const n = notifier([
      hook('json', 'json', { token: TOKEN }),
      hook('ntfy', 'ntfy'),
      hook('slack', 'slack'),
    ]);
    n.update([AUTH]);
    await n.idle();
    const by = new Map(receiver.received.map((r) => [r.path.split('/')[1], r]));
    assert.equal(receiver.received.length, 3);
    const json = by.get('json')!;
    assert.equal(json.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(json.body), {
      source: 'booksync',
      host: 'books1',
      status: 'firing',
      alert: 'BooksyncBankAuthRequired',
      severity: 'critical',
      connection: 'main',
      summary: AUTH.summary,
      at: now.toISOString(),
    });
    const ntfy = by.get('ntfy')!;
    assert.equal(ntfy.body, AUTH.summary);
    assert.equal(ntfy.headers.title, 'booksync on books1: BooksyncBankAuthRequired');
    assert.equal(ntfy.headers.priority, '5');
    assert.equal(ntfy.headers.tags, 'rotating_light');
    assert.equal(ntfy.headers.authorization, undefined);
    assert.deepEqual(JSON.parse(by.get('slack')!.body), {
      text: `:rotating_light: *booksync on books1: BooksyncBankAuthRequired*\n${AUTH.summary}`,
    });
  });

  it('sends an alert once, again after repeat_every, and a resolved message when it clears', async () => {
    const n = notifier([hook('json', 'json')]);
    n.update([AUTH]);
    await n.idle();
    now = new Date(now.getTime() + 3_600_000);
    n.update([AUTH]);
    await n.idle();
    assert.equal(receiver.received.length, 1, 'still firing within repeat_every: not sent again');
    now = new Date(now.getTime() + 5 * 3_600_000);
    n.update([AUTH]);
    await n.idle();
    assert.equal(receiver.received.length, 2);
    n.update([]);
    await n.idle();
    assert.equal(receiver.received.length, 3);
    assert.equal(alertMessage(receiver.received[2].body).status, 'resolved');
    n.update([]);
    await n.idle();
    assert.equal(receiver.received.length, 3, 'resolved once');
  });

  it('sends at most max_per_hour messages per webhook, logs the drop once, and sends the rest later', async () => {
    const outcomes: string[] = [];
    const n = notifier([hook('json', 'json')], {
      maxPerHour: 2,
      onDelivery: (_w, o) => outcomes.push(o),
    });
    n.update([AUTH, OFFLINE, MISMATCH]);
    n.update([AUTH, OFFLINE, MISMATCH]);
    await n.idle();
    assert.deepEqual(
      receiver.received.map((r) => alertMessage(r.body).alert),
      ['BooksyncBankAuthRequired', 'BooksyncSyncOffline'],
    );
    assert.deepEqual(outcomes.sort(), ['dropped', 'dropped', 'sent', 'sent']);
    assert.equal(events().filter((e) => e.event === 'alerts.dropped').length, 1);
    now = new Date(now.getTime() + 3_600_001);
    n.update([AUTH, OFFLINE, MISMATCH]);
    await n.idle();
    assert.deepEqual(receiver.received.map((r) => alertMessage(r.body).alert).slice(2), [
      'BooksyncBalanceMismatch',
    ]);
  });

  it('logs a refused delivery, never throws, and retries it at the next evaluation', async () => {
    receiver.answer = 500;
    const n = notifier([hook('json', 'json', { token: TOKEN })]);
    n.update([AUTH]);
    await n.idle();
    const failed = events().filter((e) => e.event === 'alerts.delivery_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].webhook, 'json');
    assert.match(String(failed[0].message), /HTTP 500/);
    receiver.answer = 200;
    n.update([AUTH]);
    await n.idle();
    assert.equal(receiver.received.length, 2);
    assert.equal(events().filter((e) => e.event === 'alerts.sent').length, 1);
    assert.ok(
      log.lines.every((l) => !l.includes(TOKEN) && !l.includes('Zq8wSecretPath')),
      'no URL or token in the log',
    );
  });

  it('does not wait for a webhook that never answers, nor for one that is down', async () => {
    receiver.answer = 'hang';
    const down = new WebhookReceiver();
    const downUrl = await down.start();
    await down.close();
    const n = notifier([
      hook('slow', 'json', { timeout: '300ms', timeout_ms: 300 }),
      hook('down', 'ntfy', { url: `${downUrl}/topic` }),
    ]);
    const arrived = receiver.next();
    n.update([AUTH]);
    const before = receiver.received.length;
    assert.equal(before, 0, 'update() returned before any delivery');
    await arrived;
    await n.idle();
    const failed = events()
      .filter((e) => e.event === 'alerts.delivery_failed')
      .map((e) => [String(e.webhook), String(e.message)]);
    assert.equal(failed.length, 2);
    assert.match(failed.find((f) => f[0] === 'slow')![1], /no answer within 300ms/);
    assert.match(failed.find((f) => f[0] === 'down')![1], /ECONNREFUSED/);
  });
});
