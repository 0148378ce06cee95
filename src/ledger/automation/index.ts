/**
 * Ledger automation (docs/ARCHITECTURE.md, "A statement line's way from provider to cloud"):
 * statement lines become balanced moves, rules reconcile them with open invoices and bills, opening balances and balance checks, and the trial-balance report.
 * Everything is idempotent with deterministic ids; see each module for its contract.
 */
export { AutomationError, RateMissingError, type AutomationErrorCode } from './errors';
export { RATE_LOOKBACK_DAYS, RateBook, type CompanyConversion } from './fx';
export {
  RateWatch,
  automateForeignConnections,
  type RateReaction,
  type RateWatchOptions,
} from './rate-watch';
export {
  DEFAULT_ACCOUNT_ROLES,
  type AccountRoles,
  type AutomationOptions,
  type ConnectionMapping,
  type PostState,
} from './options';
export {
  lineLabel,
  postStatementLines,
  postingMove,
  type PostingResult,
  type SkipReason,
} from './posting';
export {
  belgianCheck,
  findStructuredReferences,
  formatBelgian,
  isValidBelgian,
  isValidRf,
  makeBelgian,
  makeRf,
  mentionsInvoiceNumber,
  mod97,
  parseStructuredReference,
  withoutStructuredReferences,
  type FoundReference,
  type ReferenceKind,
} from './references';
export {
  RULE_KINDS,
  compileRule,
  compileRules,
  ruleKind,
  type CompiledRule,
  type MatchContext,
  type RuleKind,
  type RuleMatch,
  type RuleSpec,
  type WriteOff,
} from './rules';
export { type WriteOffMade } from './write-off';
export { reconcile, type ReconcileResult } from './reconcile';
export { openItems, type OpenItem, type OpenItems, type OpenTotal } from './open-items';
export { type CreditApplication } from './credit-notes';
export {
  DEFAULT_WRITE_OFF_LIMIT,
  reconcileLine,
  type ManualReconciliation,
  type ManualWriteOff,
} from './manual';
export {
  MAX_SUGGESTIONS,
  acceptSuggestion,
  pendingSuggestions,
  suggestionsFor,
  type AcceptedSuggestion,
  type SuggestOptions,
  type SuggestedLine,
  type Suggestion,
} from './suggest';
export {
  CANDIDATE_SOURCES,
  DUPLICATE_DAYS,
  manualEntries,
  openInvoices,
  type Candidate,
  type CandidateKind,
  type CandidateSource,
  type SuggestionContext,
} from './suggest-sources';
export { type Reason } from './suggest-score';
export { matchDuplicate, type EntryMatch } from './duplicate';
export { undoReconciliation, type UndoResult } from './undo';
export { pendingLines, type SuspenseLine } from './pending';
export { type AutomationPaymentDoc, type PaymentMade, type ReconcileOptions } from './payments';
export {
  accountBalance,
  checkBalance,
  lastBalanceChecks,
  openingBalance,
  recordBalanceCheck,
  type BalanceCheck,
  type BankBalance,
  type OpeningResult,
} from './balances';
export { automateConnection, type AutomationConfig, type ConnectionRunResult } from './automate';
export {
  ledgerReport,
  trialBalance,
  unreconciledLines,
  type LedgerReport,
  type TrialBalance,
  type TrialBalanceOptions,
  type TrialBalanceRow,
  type TrialBalanceTotal,
  type UnreconciledLine,
  type UnreconciledStatus,
} from './report';
export {
  demoCompanyFile,
  ensureChart,
  ensureCompany,
  invoiceMove,
  loadCompanyFile,
  parseCompany,
  type Chart,
  type ChartAccount,
  type ChartJournal,
  type CompanyData,
  type CompanyRoles,
  type EnsureResult,
} from './chart';
export { openingMoveId, paymentDocId, paymentMoveId, postingMoveId } from './ids';
