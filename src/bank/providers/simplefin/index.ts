import { AnswerShapeError, BankUnavailableError, unreadableAnswer } from '../../errors';
import { BankRequestRejectedError, httpRequest, readJson } from '../../http';
import { redactText } from '../../../shared/redact';
import type { BankAccountStatement, BankProvider, FetchContext, FetchResult } from '../../provider';
import { obtainAccess, type Access } from './access';
import { accountsHttpError, errlistError, readErrlist } from './errors';
import { mergeAccount, readAccounts, toStatement, type RawAccount } from './normalize';
import { chunks, dateAt, isTimeZone } from './zone';
import { valueText } from '../../../shared/text';

/**
 * SimpleFIN (protocol v1 and v2): claims the setup token once, then GETs /accounts in ranges of at
 * most 90 days across the window.
 *
 * Settings: `accounts` (optional list of SimpleFIN account ids to import; default all),
 * `timezone` (IANA zone the bank books in, for epoch → calendar day; default UTC).
 * Secrets: `setup_token`.
 *
 * @link https://www.simplefin.org/protocol.html
 */

interface SimplefinSettings {
  accounts?: string[];
  timeZone: string;
}

function readSettings(
  raw: Readonly<Record<string, unknown>>,
  connection: string,
): SimplefinSettings {
  const invalid = (m: string): never => {
    throw new BankRequestRejectedError(
      'SIMPLEFIN_SETTINGS',
      `${connection}: simplefin settings: ${m}`,
      { details: { connection } },
    );
  };
  const timeZone = raw.timezone === undefined ? 'UTC' : raw.timezone;
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
    invalid(`'timezone' ${valueText(timeZone)} is not an IANA time zone (e.g. Europe/Madrid)`);
  const accounts = raw.accounts;
  if (
    accounts !== undefined &&
    (!Array.isArray(accounts) || accounts.some((a) => typeof a !== 'string' || a === ''))
  ) {
    invalid("'accounts' must be a list of SimpleFIN account ids");
  }
  return { timeZone: timeZone as string, ...(accounts ? { accounts: accounts as string[] } : {}) };
}

async function getAccounts(
  ctx: FetchContext,
  access: Access,
  settings: SimplefinSettings,
  range: { start: number; end: number },
): Promise<unknown> {
  const url = new URL(`${access.base.href.replace(/\/+$/, '')}/accounts`);
  url.searchParams.set('start-date', String(range.start));
  url.searchParams.set('end-date', String(range.end));
  // To exclude pending, the parameter is left out, not sent as 0 (protocol "GET /accounts").
  if (ctx.includePending) url.searchParams.set('pending', '1');
  for (const id of settings.accounts ?? []) url.searchParams.append('account', id);
  const res = await httpRequest(ctx, {
    url,
    headers: { Authorization: access.authorization, Accept: 'application/json' },
    what: 'SimpleFIN GET /accounts',
    secrets: access.secrets,
  });
  if (res.status !== 200) throw accountsHttpError(res, ctx.connection, ctx.now(), access.secrets);
  return readJson(res, ctx.connection, access.secrets);
}

async function fetchSimplefin(ctx: FetchContext): Promise<FetchResult> {
  const settings = readSettings(ctx.settings, ctx.connection);
  const access = await obtainAccess(ctx, ctx.secrets.setup_token);
  const secrets = [
    ...access.secrets,
    ...(ctx.secrets.setup_token ? [ctx.secrets.setup_token] : []),
  ];
  const warnings: string[] = [];
  const warned = new Set<string>();
  const warn = (m: string) => {
    const safe = redactText(m, secrets);
    if (!warned.has(safe)) {
      warned.add(safe);
      warnings.push(safe);
    }
  };
  const selected = settings.accounts ? new Set(settings.accounts) : undefined;
  const merged = new Map<string, RawAccount>();
  try {
    for (const range of chunks(ctx.window, settings.timeZone)) {
      const body = await getAccounts(ctx, access, settings, range);
      const accounts = readAccounts(body);
      const record = body as Record<string, unknown>;
      const relevantConns = new Set(
        accounts
          .filter((a) => !selected || selected.has(a.id))
          .map((a) => a.connId)
          .filter(Boolean),
      );
      for (const item of readErrlist(record.errlist)) {
        const relevant =
          !selected ||
          (item.accountId !== undefined && selected.has(item.accountId)) ||
          (item.connId !== undefined && relevantConns.has(item.connId)) ||
          (item.accountId === undefined && item.connId === undefined);
        const err = errlistError(item, ctx.connection, secrets, relevant);
        if (err) throw err;
        warn(
          `SimpleFIN ${item.code || 'error'}${item.accountId ? ` (account ${item.accountId})` : item.connId ? ` (connection ${item.connId})` : ''}: ${item.msg}`,
        );
      }
      // v1 `errors`: free text meant for the user ("Connection to X may need attention"). One of
      // them matters: a capped range means lines are missing, and a partial result must not pass.
      if (Array.isArray(record.errors)) {
        for (const e of record.errors) {
          const text = redactText(String(e), secrets);
          if (/date range.*(capped|exceeds)/i.test(text)) {
            throw new BankUnavailableError(
              'SIMPLEFIN_RANGE_CAPPED',
              `${ctx.connection}: SimpleFIN shortened the requested date range ("${text.slice(0, 200)}"), so lines would be missing`,
              {
                details: { connection: ctx.connection },
              },
            );
          }
          warn(`SimpleFIN: ${text}`);
        }
      }
      for (const a of accounts) {
        if (selected && !selected.has(a.id)) continue;
        merged.set(a.id, mergeAccount(merged.get(a.id), a));
      }
    }
    if (selected)
      for (const id of selected) if (!merged.has(id)) warn(`SimpleFIN returned no account ${id}`);
    const today = dateAt(Math.floor(ctx.now().getTime() / 1000), settings.timeZone);
    const statements: BankAccountStatement[] = [];
    for (const account of merged.values()) {
      const s = toStatement(account, {
        timeZone: settings.timeZone,
        includePending: ctx.includePending,
        today,
        window: ctx.window,
        warn,
      });
      if (s) statements.push(s);
    }
    ctx.logger.debug('simplefin accounts read', {
      event: 'bank.simplefin',
      connection: ctx.connection,
      accounts: statements.length,
      transactions: statements.reduce((n, s) => n + s.transactions.length, 0),
    });
    return { statements, warnings };
  } catch (err) {
    if (err instanceof AnswerShapeError)
      throw unreadableAnswer(
        err,
        'SIMPLEFIN_MALFORMED',
        'the SimpleFIN answer',
        ctx.connection,
        secrets,
      );
    throw err;
  }
}

export const simplefin = {
  id: 'simplefin',
  description:
    'SimpleFIN Bridge (and other SimpleFIN servers): accounts and transactions through a claimed access URL',
  fetch: fetchSimplefin,
} satisfies BankProvider;
