import os from 'node:os';
import type { AlertWebhookConfig } from '../config';
import { fetchWithDeadline } from '../shared/fetch-deadline';
import { OPS_ERROR_CODES, type OpsCodeOf } from './error-codes';
import {
  BooksyncError,
  codesRaisedAs,
  describeError,
  type BooksyncErrorOptions,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { ActiveAlert } from './alerts';

/**
 * Alert delivery by webhook: generic JSON, ntfy and Slack-compatible payloads. A delivery runs in
 * the background under its own timeout; a failure is logged and retried at the next evaluation,
 * and nothing waits for it. Each webhook sends at most `maxPerHour` messages in any hour.
 */

export type AlertPhase = 'firing' | 'resolved';

/** A webhook did not take an alert. */
export class WebhookDeliveryError extends BooksyncError {
  static readonly codes = codesRaisedAs(OPS_ERROR_CODES, 'WebhookDeliveryError');
  declare readonly code: OpsCodeOf<'WebhookDeliveryError'>;

  constructor(
    code: OpsCodeOf<'WebhookDeliveryError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

/** The HTTP request for one alert in a webhook's format. */
export function webhookRequest(
  format: AlertWebhookConfig['format'],
  alert: ActiveAlert,
  phase: AlertPhase,
  at: Date,
  host: string,
): WebhookRequest {
  const title = `booksync on ${host}: ${alert.name}${phase === 'resolved' ? ' resolved' : ''}`;
  const text = phase === 'resolved' ? `resolved: ${alert.summary}` : alert.summary;
  if (format === 'ntfy') {
    // ntfy reads the message from the body and the rest from headers (ASCII only).
    // @link https://docs.ntfy.sh/publish/
    const priority = phase === 'resolved' ? '2' : alert.severity === 'critical' ? '5' : '4';
    const tags =
      phase === 'resolved'
        ? 'white_check_mark'
        : alert.severity === 'critical'
          ? 'rotating_light'
          : 'warning';
    return {
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        title: asciiHeader(title),
        priority,
        tags,
      },
      body: text,
    };
  }
  if (format === 'slack') {
    // Incoming webhooks take `text` (Slack, Mattermost, Rocket.Chat).
    // @link https://api.slack.com/messaging/webhooks
    const icon =
      phase === 'resolved'
        ? ':white_check_mark:'
        : alert.severity === 'critical'
          ? ':rotating_light:'
          : ':warning:';
    return {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `${icon} *${title}*\n${text}` }),
    };
  }
  const body = {
    source: 'booksync',
    host,
    status: phase,
    alert: alert.name,
    severity: alert.severity,
    ...(alert.connection ? { connection: alert.connection } : {}),
    summary: alert.summary,
    at: at.toISOString(),
  };
  return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function asciiHeader(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

export interface DeliveryListener {
  (webhook: string, outcome: 'sent' | 'failed' | 'dropped'): void;
}

export interface NotifierOptions {
  webhooks: readonly AlertWebhookConfig[];
  repeatMs: number;
  maxPerHour: number;
  sendResolved: boolean;
  logger: Logger;
  onDelivery?: DeliveryListener;
  clock?: () => Date;
  host?: string;
}

const HOUR_MS = 3_600_000;

/** One webhook's memory: what it was told and when, and its deliveries of the last hour. */
class WebhookState {
  readonly sent = new Map<string, { alert: ActiveAlert; at: number }>();
  readonly inflight = new Set<string>();
  window: number[] = [];
  droppedLogged = false;
  constructor(readonly config: AlertWebhookConfig) {}
}

export class AlertNotifier {
  private readonly hooks: WebhookState[];
  private readonly clock: () => Date;
  private readonly host: string;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: NotifierOptions) {
    this.hooks = options.webhooks.map((w) => new WebhookState(w));
    this.clock = options.clock ?? (() => new Date());
    this.host = options.host ?? os.hostname();
  }

  /**
   * Takes the alerts that hold now: sends the new ones and those last sent `repeatMs` ago, and a
   * resolved message for those that stopped. Returns at once.
   */
  update(active: readonly ActiveAlert[]): void {
    const now = this.clock().getTime();
    const keys = new Set(active.map((a) => a.key));
    for (const hook of this.hooks) {
      for (const alert of active) {
        const last = hook.sent.get(alert.key);
        if (hook.inflight.has(alert.key) || (last && now - last.at < this.options.repeatMs))
          continue;
        this.deliver(hook, alert, 'firing');
      }
      for (const [key, last] of hook.sent) {
        if (keys.has(key) || hook.inflight.has(key)) continue;
        hook.sent.delete(key);
        if (this.options.sendResolved) this.deliver(hook, last.alert, 'resolved');
      }
    }
  }

  /** Resolves once every delivery under way has ended (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private deliver(hook: WebhookState, alert: ActiveAlert, phase: AlertPhase): void {
    const now = this.clock();
    const name = hook.config.name;
    hook.window = hook.window.filter((t) => now.getTime() - t < HOUR_MS);
    if (hook.window.length >= this.options.maxPerHour) {
      this.options.onDelivery?.(name, 'dropped');
      if (!hook.droppedLogged) {
        hook.droppedLogged = true;
        this.options.logger.warn(
          `alert webhook ${name}: more than ${this.options.maxPerHour} messages in an hour; dropping until the hour has passed`,
          { event: 'alerts.dropped', webhook: name, alert: alert.name },
        );
      }
      return;
    }
    hook.droppedLogged = false;
    hook.window.push(now.getTime());
    hook.inflight.add(alert.key);
    const run = this.send(hook.config, alert, phase, now)
      .then(() => {
        if (phase === 'firing') hook.sent.set(alert.key, { alert, at: now.getTime() });
        this.options.onDelivery?.(name, 'sent');
        this.options.logger.info(`alert ${alert.name} (${phase}) sent to ${name}`, {
          event: 'alerts.sent',
          webhook: name,
          alert: alert.name,
          phase,
          ...(alert.connection ? { connection: alert.connection } : {}),
        });
      })
      .catch((err: unknown) => {
        this.options.onDelivery?.(name, 'failed');
        this.options.logger.warn(
          `alert ${alert.name} (${phase}) could not be sent to ${name}: ${describeError(err).message}`,
          {
            event: 'alerts.delivery_failed',
            webhook: name,
            alert: alert.name,
            phase,
            error: describeError(err),
          },
        );
      })
      .finally(() => {
        hook.inflight.delete(alert.key);
        this.pending.delete(run);
      });
    this.pending.add(run);
  }

  private async send(
    config: AlertWebhookConfig,
    alert: ActiveAlert,
    phase: AlertPhase,
    at: Date,
  ): Promise<void> {
    const req = webhookRequest(config.format, alert, phase, at, this.host);
    const headers = {
      ...req.headers,
      ...(config.token ? { authorization: `Bearer ${config.token}` } : {}),
    };
    const exchange = await fetchWithDeadline(
      config.url,
      { method: 'POST', headers, body: req.body, redirect: 'error' },
      { timeoutMs: config.timeout_ms },
      // The answer's body is read (and dropped) so the connection is released; it says nothing.
      (response, deadline) => deadline.race(response.arrayBuffer()).catch(() => undefined),
    );
    if (!exchange.ok) {
      // fetch's own message is "fetch failed"; the cause says why (refused, timed out, DNS).
      const err = exchange.error;
      const cause = (err as { cause?: unknown }).cause;
      const why = exchange.timedOut
        ? `no answer within ${config.timeout}`
        : describeError(cause ?? err).code;
      throw new WebhookDeliveryError(
        'ALERT_WEBHOOK_UNREACHABLE',
        `the webhook did not answer (${why})`,
      );
    }
    const res = exchange.response;
    if (!res.ok)
      throw new WebhookDeliveryError(
        'ALERT_WEBHOOK_REFUSED',
        `the webhook answered HTTP ${res.status}`,
      );
  }
}
