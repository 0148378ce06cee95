import {
  AnswerShapeError,
  BankAuthError,
  BankUnavailableError,
  ConsentExpiredError,
  RateLimitedError,
  unreadableAnswer,
} from '../../errors';
import { BankRequestRejectedError, readBaseUrl } from '../../http';
import { redactText } from '../../../shared/redact';
import type {
  BankAccountStatement,
  BankBalance,
  BankProvider,
  FetchContext,
  FetchResult,
} from '../../provider';
import { addDays, utcDate, type CalendarDate } from '../../../shared/dates';
import { DEFAULT_BASE_URL, GoCardlessClient } from './client';
import { readTransactionLists, toBalances, toTransactions } from './normalize';
import { isPlainObject } from '../../../shared/objects';

/**
 * GoCardless Bank Account Data (ex-Nordigen), API v2. The consent (requisition) is created
 * outside booksync; a run reads the requisition, its agreement (for the consent expiry), then per
 * linked account its metadata, transactions and balances. The bank allows about 4 calls a day
 * per account and scope, so a run makes exactly one transactions and one balances call per
 * account and never retries.
 *
 * Settings: `requisition_id` (required), `accounts` (optional subset of the requisition's account
 * ids), `base_url` (default https://bankaccountdata.gocardless.com/api/v2).
 * Secrets: `secret_id`, `secret_key`.
 *
 * @link https://bankaccountdata.gocardless.com/api/docs
 */

/** Requisition statuses (short codes); only LN means linked. */
const REQUISITION_STATUS: Readonly<Record<string, string>> = {
  CR: 'created: the account holder has not started the bank login',
  GC: 'giving consent: the account holder is on the consent page',
  UA: 'undergoing authentication at the bank',
  RJ: 'rejected: the account holder or the bank refused the consent',
  SA: 'selecting accounts',
  GA: 'granting access',
  ID: 'institution redirect done, not yet linked',
  ER: 'error during the bank login',
  SU: 'suspended after repeated failures',
  EX: 'expired',
  LN: 'linked',
};

interface Settings {
  requisitionId: string;
  accounts?: string[];
  baseUrl: string;
}

function readSettings(raw: Readonly<Record<string, unknown>>, connection: string): Settings {
  const invalid = (m: string): never => {
    throw new BankRequestRejectedError(
      'GOCARDLESS_SETTINGS',
      `${connection}: gocardless settings: ${m}`,
      { details: { connection } },
    );
  };
  const requisitionId = raw.requisition_id;
  if (typeof requisitionId !== 'string' || !/^[A-Za-z0-9-]+$/.test(requisitionId))
    invalid("'requisition_id' is required (the id of the requisition the account holder linked)");
  const baseUrl = readBaseUrl(raw.base_url, DEFAULT_BASE_URL, invalid);
  const accounts = raw.accounts;
  if (
    accounts !== undefined &&
    (!Array.isArray(accounts) ||
      accounts.some((a) => typeof a !== 'string' || !/^[A-Za-z0-9-]+$/.test(a)))
  ) {
    invalid("'accounts' must be a list of GoCardless account ids");
  }
  return {
    requisitionId: requisitionId as string,
    baseUrl,
    ...(accounts ? { accounts: accounts as string[] } : {}),
  };
}

type Obj = Record<string, unknown>;

/** The status short code: a string, or `{short, long, description}` in older answers. */
function statusCode(v: unknown): string {
  if (typeof v === 'string') return v.toUpperCase();
  if (isPlainObject(v) && typeof v.short === 'string') return v.short.toUpperCase();
  return '';
}

function requisitionError(status: string, requisition: Obj, connection: string): Error | undefined {
  if (status === 'LN') return undefined;
  const meaning = REQUISITION_STATUS[status] ?? `unknown status '${status}'`;
  const details = { connection, requisition_status: status };
  const link = typeof requisition.link === 'string' ? requisition.link : undefined;
  if (status === 'EX') {
    return new ConsentExpiredError(
      'GOCARDLESS_REQUISITION_EXPIRED',
      `${connection}: the GoCardless requisition has expired (EX); the account holder must consent again (a new requisition), then update requisition_id`,
      { details },
    );
  }
  const unfinished = ['CR', 'GC', 'UA', 'SA', 'GA', 'ID'].includes(status);
  const fix = unfinished
    ? `the account holder must finish the bank login${link ? ' at the requisition link' : ''}`
    : 'create a new requisition and update requisition_id';
  return new BankAuthError(
    unfinished ? 'GOCARDLESS_REQUISITION_PENDING' : 'GOCARDLESS_REQUISITION_FAILED',
    `${connection}: the GoCardless requisition is not linked (${status}: ${meaning}); ${fix}`,
    { details },
  );
}

/** created/accepted + access_valid_for_days of the end-user agreement. */
function consentExpiry(agreement: Obj): Date | undefined {
  const start =
    typeof agreement.accepted === 'string' && agreement.accepted !== ''
      ? agreement.accepted
      : agreement.created;
  const days = Number(agreement.access_valid_for_days);
  if (typeof start !== 'string' || Number.isNaN(Date.parse(start)) || !Number.isFinite(days))
    return undefined;
  return new Date(Date.parse(start) + days * 86_400_000);
}

type Warn = (message: string) => void;

/** Reads the requisition and fails unless it is linked (LN). */
async function readLinkedRequisition(
  client: GoCardlessClient,
  requisitionId: string,
  connection: string,
): Promise<Obj> {
  const requisition = await client.get(`/requisitions/${requisitionId}/`);
  if (!isPlainObject(requisition))
    throw new AnswerShapeError('the requisition answer is not an object');
  const status = statusCode(requisition.status);
  const reqError = requisitionError(status, requisition, connection);
  if (reqError) throw reqError;
  return requisition;
}

interface Consent {
  expires?: Date;
  maxHistoricalDays?: number;
}

/**
 * Consent expiry: from the agreement when there is one; without, GoCardless applies its
 * default of 90 days from the requisition. Fails when the consent has already expired.
 */
async function readConsent(
  client: GoCardlessClient,
  requisition: Obj,
  connection: string,
  now: Date,
): Promise<Consent> {
  let expires: Date | undefined;
  let maxHistoricalDays: number | undefined;
  if (typeof requisition.agreement === 'string' && requisition.agreement !== '') {
    const agreement = await client.get(`/agreements/enduser/${requisition.agreement}/`);
    if (!isPlainObject(agreement))
      throw new AnswerShapeError('the agreement answer is not an object');
    expires = consentExpiry(agreement);
    const mh = Number(agreement.max_historical_days);
    if (Number.isFinite(mh) && mh > 0) maxHistoricalDays = mh;
  } else if (
    typeof requisition.created === 'string' &&
    !Number.isNaN(Date.parse(requisition.created))
  ) {
    expires = new Date(Date.parse(requisition.created) + 90 * 86_400_000);
  }
  if (expires && expires.getTime() <= now.getTime()) {
    throw new ConsentExpiredError(
      'GOCARDLESS_AGREEMENT_EXPIRED',
      `${connection}: the GoCardless end-user agreement expired at ${expires.toISOString()}; the account holder must consent again (a new requisition), then update requisition_id`,
      {
        details: { connection, expired_at: expires.toISOString() },
      },
    );
  }
  return { expires, maxHistoricalDays };
}

/** The linked accounts to read: all, or the configured subset (warning about unknown ids). */
function selectAccounts(requisition: Obj, settings: Settings, warn: Warn): string[] {
  const linked = Array.isArray(requisition.accounts)
    ? requisition.accounts.filter((a): a is string => typeof a === 'string')
    : [];
  const wanted = settings.accounts ? linked.filter((a) => settings.accounts!.includes(a)) : linked;
  for (const missing of settings.accounts ?? [])
    if (!linked.includes(missing)) warn(`account ${missing} is not part of the requisition`);
  if (linked.length === 0) warn('the requisition has no linked accounts');
  return wanted;
}

/** The bank keeps at most max_historical_days: asking for more is a 400. */
function clampWindowStart(
  from: CalendarDate,
  today: CalendarDate,
  maxHistoricalDays: number | undefined,
  warn: Warn,
): CalendarDate {
  if (maxHistoricalDays === undefined) return from;
  const earliest = addDays(today, -(maxHistoricalDays - 1));
  if (from >= earliest) return from;
  warn(
    `the window starts ${from}, but the agreement covers only ${maxHistoricalDays} days of history: fetching from ${earliest}`,
  );
  return earliest;
}

/** Fails unless the account's access is READY (or the status is absent). */
function checkAccountStatus(meta: Obj, id: string, connection: string): void {
  const accountStatus = typeof meta.status === 'string' ? meta.status.toUpperCase() : 'READY';
  if (accountStatus === 'EXPIRED') {
    throw new ConsentExpiredError(
      'GOCARDLESS_ACCOUNT_EXPIRED',
      `${connection}: access to account ${id} has expired; the account holder must consent again`,
      { details: { connection } },
    );
  }
  if (accountStatus === 'SUSPENDED') {
    throw new BankAuthError(
      'GOCARDLESS_ACCOUNT_SUSPENDED',
      `${connection}: account ${id} is suspended; link the bank again (a new requisition)`,
      { details: { connection } },
    );
  }
  if (
    accountStatus === 'PROCESSING' ||
    accountStatus === 'DISCOVERED' ||
    accountStatus === 'ERROR'
  ) {
    throw new BankUnavailableError(
      'GOCARDLESS_ACCOUNT_NOT_READY',
      `${connection}: account ${id} is ${accountStatus} at GoCardless; the next run retries`,
      { details: { connection } },
    );
  }
}

interface AccountWindow {
  from: CalendarDate;
  to: CalendarDate;
  today: CalendarDate;
}

/**
 * One account: metadata, then one transactions and one balances call. Undefined (with a
 * warning) when nothing tells the account's currency.
 */
async function readAccount(
  client: GoCardlessClient,
  ctx: FetchContext,
  id: string,
  window: AccountWindow,
  warn: Warn,
): Promise<BankAccountStatement | undefined> {
  const { from, to, today } = window;
  // Account metadata is GoCardless' own data: it does not count against the bank's daily limit.
  const meta = await client.get(`/accounts/${id}/`);
  if (!isPlainObject(meta))
    throw new AnswerShapeError(`account ${id}: the metadata answer is not an object`);
  checkAccountStatus(meta, id, ctx.connection);
  const iban =
    typeof meta.iban === 'string' && meta.iban !== '' ? meta.iban.replace(/\s+/g, '') : undefined;
  const query: Record<string, string> = { date_from: from, date_to: to };
  const lists = readTransactionLists(await client.get(`/accounts/${id}/transactions/`, query));
  const transactions = toTransactions(lists.booked, false, id, warn);
  if (ctx.includePending) transactions.push(...toTransactions(lists.pending, true, id, warn));
  // Balances are a separate daily quota: when only they are rate limited, the lines already
  // fetched (which spent a transactions call) are kept, and the missing balance is a warning.
  let balances: BankBalance[] = [];
  try {
    balances = toBalances(await client.get(`/accounts/${id}/balances/`), id, today);
  } catch (err) {
    if (!(err instanceof RateLimitedError)) throw err;
    warn(`account ${id}: balances not read, rate limited until ${err.retryAt.toISOString()}`);
  }
  const currency = balances[0]?.currency ?? transactions[0]?.currency;
  if (!currency) {
    warn(`account ${id} skipped: no balance and no transaction tells its currency`);
    return undefined;
  }
  const statement: BankAccountStatement = {
    accountId: iban ?? id,
    currency,
    from,
    to,
    transactions,
    balances,
  };
  if (typeof meta.institution_id === 'string') statement.bankId = meta.institution_id;
  return statement;
}

async function fetchGocardless(ctx: FetchContext): Promise<FetchResult> {
  const settings = readSettings(ctx.settings, ctx.connection);
  const { secret_id: secretId, secret_key: secretKey } = ctx.secrets;
  if (!secretId || !secretKey) {
    throw new BankAuthError(
      'GOCARDLESS_SECRETS_MISSING',
      `${ctx.connection}: the secret_id and secret_key secrets are required (GoCardless user secrets)`,
      { details: { connection: ctx.connection } },
    );
  }
  const client = new GoCardlessClient(ctx, settings.baseUrl, secretId, secretKey);
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(redactText(m, client.secrets));
  const now = ctx.now();
  const today = utcDate(now);
  try {
    const requisition = await readLinkedRequisition(client, settings.requisitionId, ctx.connection);
    const { expires, maxHistoricalDays } = await readConsent(
      client,
      requisition,
      ctx.connection,
      now,
    );
    const wanted = selectAccounts(requisition, settings, warn);
    const from = clampWindowStart(ctx.window.from, today, maxHistoricalDays, warn);
    const window: AccountWindow = { from, to: ctx.window.to, today };

    const statements: BankAccountStatement[] = [];
    for (const id of wanted) {
      const statement = await readAccount(client, ctx, id, window, warn);
      if (statement) statements.push(statement);
    }
    ctx.logger.debug('gocardless accounts read', {
      event: 'bank.gocardless',
      connection: ctx.connection,
      accounts: statements.length,
      transactions: statements.reduce((n, s) => n + s.transactions.length, 0),
    });
    const result: FetchResult = { statements, warnings };
    if (expires) result.consentExpiresAt = expires.toISOString();
    return result;
  } catch (err) {
    if (err instanceof AnswerShapeError)
      throw unreadableAnswer(
        err,
        'GOCARDLESS_MALFORMED',
        'the GoCardless answer',
        ctx.connection,
        client.secrets,
      );
    throw err;
  }
}

export const gocardless = {
  id: 'gocardless',
  description:
    'GoCardless Bank Account Data (ex-Nordigen) API v2: PSD2 access through a linked requisition (legacy: no new signups)',
  fetch: fetchGocardless,
} satisfies BankProvider;
