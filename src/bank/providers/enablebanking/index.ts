import { AnswerShapeError, BankAuthError, unreadableAnswer } from '../../errors';
import { BankRequestRejectedError, readBaseUrl } from '../../http';
import { redactText } from '../../../shared/redact';
import type { BankAccountStatement, BankProvider, FetchContext, FetchResult } from '../../provider';
import { utcDate } from '../../../shared/dates';
import { DEFAULT_BASE_URL, EnableBankingClient } from './client';
import { readApplicationKey } from './jwt';
import { readSession } from './session';
import { isPlainObject } from '../../../shared/objects';
import { readTransactionPage, toBalances, toTransactions } from './normalize';

/**
 * Enable Banking: PSD2 account information through one aggregator API. The account holder
 * authorises a session outside the fetch run; a run reads the session (status, accounts, consent
 * validity), then per account its details, every page of its transactions (booked and, when
 * asked, pending) and its balances.
 *
 * Settings: `application_id` (required), `session_id` (required), `accounts` (optional subset of
 * the session's account uids), `base_url` (default https://api.enablebanking.com).
 * Secrets: `private_key` (the application's PEM key, given as a file).
 *
 * @link https://enablebanking.com/docs/api/reference/
 */

interface Settings {
  applicationId: string;
  sessionId: string;
  accounts?: string[];
  baseUrl: string;
}

const ID = /^[A-Za-z0-9-]+$/;
/** A server that keeps answering with a next page is stopped here rather than looping forever. */
const MAX_PAGES = 1000;

function readSettings(raw: Readonly<Record<string, unknown>>, connection: string): Settings {
  const invalid = (m: string): never => {
    throw new BankRequestRejectedError(
      'ENABLEBANKING_SETTINGS',
      `${connection}: enablebanking settings: ${m}`,
      { details: { connection } },
    );
  };
  const applicationId = raw.application_id;
  if (typeof applicationId !== 'string' || !ID.test(applicationId))
    invalid(
      "'application_id' is required (the application's id in the Enable Banking control panel)",
    );
  const sessionId = raw.session_id;
  if (typeof sessionId !== 'string' || !ID.test(sessionId))
    invalid("'session_id' is required (the id of the session the account holder authorised)");
  const baseUrl = readBaseUrl(raw.base_url, DEFAULT_BASE_URL, invalid);
  const accounts = raw.accounts;
  if (
    accounts !== undefined &&
    (!Array.isArray(accounts) || accounts.some((a) => typeof a !== 'string' || !ID.test(a)))
  )
    invalid("'accounts' must be a list of Enable Banking account uids");
  return {
    applicationId: applicationId as string,
    sessionId: sessionId as string,
    baseUrl,
    ...(accounts ? { accounts: accounts as string[] } : {}),
  };
}

/** Every page of one account's transactions in the window, following `continuation_key`. */
async function allTransactionItems(
  client: EnableBankingClient,
  uid: string,
  from: string,
  to: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let key: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query: Record<string, string> = { date_from: from, date_to: to };
    if (key) query.continuation_key = key;
    const body = readTransactionPage(await client.get(`/accounts/${uid}/transactions`, query));
    items.push(...body.items);
    if (!body.continuationKey) return items;
    if (seen.has(body.continuationKey))
      throw new AnswerShapeError(`account ${uid}: the continuation_key repeats (the pages loop)`);
    seen.add(body.continuationKey);
    key = body.continuationKey;
  }
  throw new AnswerShapeError(`account ${uid}: more than ${MAX_PAGES} pages of transactions`);
}

async function readAccount(
  client: EnableBankingClient,
  uid: string,
  ctx: FetchContext,
  warn: (m: string) => void,
): Promise<BankAccountStatement | undefined> {
  const details = await client.get(`/accounts/${uid}/details`);
  if (!isPlainObject(details))
    throw new AnswerShapeError(`account ${uid}: the details answer is not an object`);
  const { from, to } = ctx.window;
  const items = await allTransactionItems(client, uid, from, to);
  const transactions = toTransactions(items, uid, ctx.includePending, warn);
  const balances = toBalances(
    await client.get(`/accounts/${uid}/balances`),
    uid,
    utcDate(ctx.now()),
  );
  const currency =
    (typeof details.currency === 'string' && details.currency !== ''
      ? details.currency.toUpperCase()
      : undefined) ??
    balances[0]?.currency ??
    transactions[0]?.currency;
  if (!currency) {
    warn(
      `account ${uid} skipped: neither its details, a balance nor a transaction tells its currency`,
    );
    return undefined;
  }
  const accountId = isPlainObject(details.account_id) ? details.account_id : {};
  const iban = typeof accountId.iban === 'string' ? accountId.iban.replace(/\s+/g, '') : undefined;
  const servicer = isPlainObject(details.account_servicer) ? details.account_servicer : {};
  const statement: BankAccountStatement = {
    accountId: iban || uid,
    currency,
    from,
    to,
    transactions,
    balances,
  };
  if (typeof servicer.bic_fi === 'string' && servicer.bic_fi !== '')
    statement.bankId = servicer.bic_fi;
  return statement;
}

async function fetchEnableBanking(ctx: FetchContext): Promise<FetchResult> {
  const settings = readSettings(ctx.settings, ctx.connection);
  const pem = ctx.secrets.private_key;
  if (!pem) {
    throw new BankAuthError(
      'ENABLEBANKING_SECRETS_MISSING',
      `${ctx.connection}: the private_key secret is required (the application's .pem file)`,
      { details: { connection: ctx.connection } },
    );
  }
  const key = readApplicationKey(pem, ctx.connection);
  const client = new EnableBankingClient(ctx, settings.baseUrl, settings.applicationId, key);
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(redactText(m, client.secrets));
  try {
    const session = readSession(
      await client.get(`/sessions/${settings.sessionId}`),
      ctx.connection,
      ctx.now(),
    );
    const wanted = settings.accounts
      ? session.accounts.filter((a) => settings.accounts!.includes(a))
      : session.accounts;
    for (const missing of settings.accounts ?? [])
      if (!session.accounts.includes(missing))
        warn(`account ${missing} is not part of the session`);
    if (session.accounts.length === 0) warn('the session has no accounts');
    const statements: BankAccountStatement[] = [];
    for (const uid of wanted) {
      const statement = await readAccount(client, uid, ctx, warn);
      if (statement) statements.push(statement);
    }
    ctx.logger.debug('enablebanking accounts read', {
      event: 'bank.enablebanking',
      connection: ctx.connection,
      accounts: statements.length,
      transactions: statements.reduce((n, s) => n + s.transactions.length, 0),
    });
    const result: FetchResult = { statements, warnings };
    if (session.validUntil) result.consentExpiresAt = session.validUntil.toISOString();
    return result;
  } catch (err) {
    if (err instanceof AnswerShapeError)
      throw unreadableAnswer(
        err,
        'ENABLEBANKING_MALFORMED',
        'the Enable Banking answer',
        ctx.connection,
        client.secrets,
      );
    throw err;
  }
}

export const enablebanking = {
  id: 'enablebanking',
  description:
    'Enable Banking: PSD2 account information for European banks through an authorised session (JWT application auth)',
  fetch: fetchEnableBanking,
} satisfies BankProvider;
