export {
  Daemon,
  statePaths,
  StateDirInUseError,
  STOP_DEADLINE_MS,
  type DaemonOptions,
  type ServiceContext,
} from './daemon';
export { controlRequest, ControlServer, DaemonNotRunningError, ControlError } from './control';
export { createLogger } from './logging';
export { redactText, redactValue, REDACTED } from '../shared/redact';
export { readStatus, withDaemonOrStore } from './offline';
export { VERSION, type StatusReport } from './status';
export type { Service } from './service';
