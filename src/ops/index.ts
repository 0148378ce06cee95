/**
 * Operations: Prometheus metrics, liveness and readiness endpoints, and webhook alerts
 * (README, Operating booksync).
 */
export { OpsService, type LocalApiObserver, type OpsOptions } from './service';
export { BooksyncMetrics, codeLabel } from './metrics';
export {
  activeAlerts,
  ALERT_NAMES,
  type ActiveAlert,
  type AlertName,
  type AlertThresholds,
} from './alerts';
export { AlertNotifier, webhookRequest, WebhookDeliveryError, type AlertPhase } from './webhooks';
export { Health, type HealthProbe, type Phase } from './health';
export { OpsListener, OpsListenError } from './http';
export { SnapshotBuilder, schedulePeriodMs, syncDownSince, type OpsSnapshot } from './snapshot';
