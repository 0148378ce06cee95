import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/** The stable codes of the operations endpoints and alerts; listed in docs/ERRORS.md. */
export const OPS_ERROR_CODES = {
  OPS_LISTEN: {
    raisedAs: 'OpsListenError',
    meaning: 'the metrics/health listener cannot listen on its host and port',
  },
  ALERT_WEBHOOK_UNREACHABLE: {
    raisedAs: 'WebhookDeliveryError',
    meaning: 'an alert webhook did not answer (network, timeout); the delivery is retried',
  },
  ALERT_WEBHOOK_REFUSED: {
    raisedAs: 'WebhookDeliveryError',
    meaning: 'an alert webhook answered an HTTP error status',
  },
} as const satisfies ErrorCatalog;

/** The ops codes that the class named `Raiser` raises. */
export type OpsCodeOf<Raiser extends string> = CodesRaisedAs<typeof OPS_ERROR_CODES, Raiser>;
