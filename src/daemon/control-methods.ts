import type { DuplicatePair, RunOutcome } from '../bank';
import type { automateConnection, ledgerReport } from '../ledger/automation';
import type {
  acceptSuggestion,
  pendingSuggestions,
  reconcileLine,
  undoReconciliation,
} from '../ledger/automation';
import type { RatesRun } from '../rates';
import type { AuditRecord, ConflictChoice, SyncEngine } from '../sync';
import { field, fields, method, refuse, type ParamsOf, type ResultOf } from './control-contract';
import type { StatusReport } from './status';

type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

/** A conflict resolution: `{ take: 'local' | 'remote' }` or `{ doc }` (the engine checks the doc). */
const conflictChoice = (value: unknown, where: string): ConflictChoice => {
  const choice = field.object(value, where);
  if ('doc' in choice) return { doc: field.object(choice.doc, `${where}.doc`) };
  const take = field.string(choice.take, `${where}.take`);
  if (take === 'local' || take === 'remote') return { take };
  return refuse(`${where}.take`, "'local' or 'remote'", take);
};

/**
 * Every method of the control socket with its params and result: the daemon's services register
 * their handlers against this table and the CLI calls through it (`callDaemon`).
 */
export const CONTROL_METHODS = {
  status: method().returns<StatusReport>(),
  reload: method().returns<{ applied: boolean }>(),
  'bank.fetch': method(
    fields({ names: field.optional(field.strings), since: field.optional(field.string) }),
  ).returns<RunOutcome[]>(),
  'rates.fetch': method().returns<RatesRun>(),
  'rates.list': method(fields({ pair: field.optional(field.string) })).returns<
    Array<import('../ledger').RateDoc>
  >(),
  'bank.duplicates': method(fields({ days: field.optional(field.number) })).returns<
    DuplicatePair[]
  >(),
  'ledger.report': method(
    fields({ date: field.optional(field.string), include_draft: field.optional(field.boolean) }),
  ).returns<Result<typeof ledgerReport>>(),
  'ledger.pending': method().returns<Result<typeof pendingSuggestions>>(),
  'ledger.reconcile': method(
    fields({
      line: field.string,
      invoice: field.string,
      write_off: field.optional(field.string),
      write_off_limit: field.optional(field.string),
    }),
  ).returns<Result<typeof reconcileLine>>(),
  'ledger.accept': method(
    fields({ line: field.string, n: field.number, expect: field.optional(field.string) }),
  ).returns<Result<typeof acceptSuggestion>>(),
  'ledger.undo': method(fields({ line: field.string })).returns<
    Result<typeof undoReconciliation>
  >(),
  'ledger.automate': method(fields({ connection: field.string })).returns<
    Result<typeof automateConnection>
  >(),
  'conflicts.list': method().returns<Result<SyncEngine['listConflicts']>>(),
  'conflicts.resolved': method().returns<AuditRecord[]>(),
  'conflicts.resolve': method(
    fields({ id: field.string, choice: conflictChoice }),
  ).returns<AuditRecord>(),
  'sync.now': method().returns<Result<SyncEngine['syncOnce']>>(),
  'sync.strip_excluded': method().returns<Result<SyncEngine['stripExcluded']>>(),
};

/** The streamed methods (their lines go to the caller as they come). */
export const CONTROL_STREAMS = {
  backup: method().returns<void>(),
};

export type ControlMethods = typeof CONTROL_METHODS;
export type ControlStreams = typeof CONTROL_STREAMS;
export type ControlMethodName = keyof ControlMethods;
export type ControlParams<M extends ControlMethodName> = ParamsOf<ControlMethods[M]>;
export type ControlResult<M extends ControlMethodName> = ResultOf<ControlMethods[M]>;
