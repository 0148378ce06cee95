import { ALERT_WEBHOOK_FORMATS } from '../constants';
import {
  duration,
  integer,
  object,
  oneOfValues,
  secret,
  string,
  boolean,
  type Schema,
} from './common';

/** `ops` and `alerts`: what an admin's monitoring sees (docs: README, Operating booksync). */

/** `host:port` (an IPv6 host in brackets) or `none`. */
export const OPS_LISTEN_PATTERN =
  '^(none|\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}|[A-Za-z0-9.-]+:[0-9]{1,5})$';

export const opsSchema: Schema = object(
  'The operations listener: Prometheus metrics (/metrics), liveness (/healthz) and readiness (/readyz).',
  {
    listen: string(
      'Address of the operations listener as host:port (port 0 picks a free one, for tests), or none to switch it off. Keep it on loopback or a monitoring network: it has no login.',
      {
        pattern: OPS_LISTEN_PATTERN,
        default: '127.0.0.1:9464',
      },
    ),
    ready_offline_max: duration(
      '/readyz answers 503 once sync has been offline (cloud unreachable) this long.',
      '15m',
    ),
  },
  { default: {} },
);

const webhookSchema: Schema = object(
  'One webhook that receives alerts.',
  {
    name: string('Name of the webhook in logs and metrics.', {
      pattern: '^[A-Za-z0-9_.-]+$',
      maxLength: 64,
    }),
    format: oneOfValues(
      "json: a generic JSON object; ntfy: an ntfy topic URL (title, priority and tags as headers); slack: a Slack-compatible incoming webhook (also Mattermost, Rocket.Chat, Discord's /slack endpoint).",
      ALERT_WEBHOOK_FORMATS,
      { default: 'json' },
    ),
    url: secret(
      'URL the alert is POSTed to. A secret, since a webhook URL usually is the credential (Slack, ntfy topics).',
    ),
    token: secret(
      'Optional bearer token sent as Authorization: Bearer (ntfy access tokens, generic receivers).',
    ),
    timeout: duration('Timeout of one delivery.', '10s'),
  },
  { required: ['name', 'url'] },
);

export const alertsSchema: Schema = object(
  'Alerts sent by webhook, for admins without Prometheus: the same conditions as config/prometheus/booksync-alerts.yml.',
  {
    webhooks: {
      type: 'array',
      description: 'Where alerts go; none by default.',
      items: webhookSchema,
      default: [],
    },
    check_every: duration('How often the conditions are evaluated.', '1m'),
    repeat_every: duration('A condition still firing is sent again after this long.', '6h'),
    max_per_hour: integer(
      'At most this many deliveries per webhook in an hour; the rest are dropped and logged.',
      1,
      10000,
      { default: 20 },
    ),
    send_resolved: boolean('Also send a message when a condition clears.', true),
    sync_offline_after: duration(
      'Sync offline (or refused by the cloud) this long fires sync_offline.',
      '15m',
    ),
    consent_warning: duration('A bank consent ending within this fires consent_expiring.', '3d'),
    conflict_age: duration('An open sync conflict older than this fires conflicts_stale.', '1d'),
  },
  { default: {} },
);
