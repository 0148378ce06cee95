import { randomUUID } from 'node:crypto';
import {
  AnswerShapeError,
  BankAuthError,
  BankUnavailableError,
  MalformedStatementError,
  unreadableAnswer,
} from '../../errors';
import {
  parseOfxResponse,
  warningText,
  type OfxEnvelopePart,
  type OfxStatus,
  type ParsedStatementFile,
} from '../../formats';
import {
  bodySnippet,
  httpRequest,
  looksLikeHtml,
  statusError,
  type HttpResponse,
} from '../../http';
import { redactText } from '../../../shared/redact';
import type { BankAccountStatement, BankProvider, FetchContext, FetchResult } from '../../provider';
import { buildStatementRequest } from './request';
import { answeringPart, statusCode } from './response';
import { readSettings } from './settings';
import { ofxStatusError } from './status';

/**
 * OFX Direct Connect: one signed-on statement request per run, POSTed to the bank's OFX server.
 *
 * Settings (YAML `settings:`): `url`, `org`, `fid`, `bank_id`, `account_id`, `account_type`
 * (CHECKING | SAVINGS | MONEYMRKT | CREDITLINE | CD | CREDITCARD), `version` (102 | 103 | 151 | 160 |
 * 200 | 201 | 202 | 203 | 210 | 211 | 220, default 102), `app_id` (QWIN), `app_ver` (2700),
 * `client_uid`, `close_elements` (false), `language` (ENG). Secrets: `username`, `password`.
 *
 * @link OFX 1.6 spec §2 (structure), §11.4 (bank statement download); docs/FORMATS.md §OFX
 */

const SECRET_KEYS = ['username', 'password'] as const;

type ParsedResponse = ParsedStatementFile & { signon?: OfxStatus; parts?: OfxEnvelopePart[] };

/**
 * Reads the response once with the one OFX reader (the drop folder's): envelope, statuses and
 * statement lines together, so Direct Connect and downloaded files give the same lines and ids.
 */
function parseBody(
  res: HttpResponse,
  ctx: FetchContext,
  secrets: readonly string[],
): ParsedResponse {
  const text = res.text('latin1');
  if (!/<OFX[\s>]/i.test(text)) {
    if (looksLikeHtml(text)) {
      // Banks answer maintenance and firewall blocks with an HTML page on HTTP 200.
      throw new BankUnavailableError(
        'OFX_HTML_PAGE',
        `${ctx.connection}: the OFX server ${res.safeUrl} answered with an HTML page ("${bodySnippet(text, secrets)}") instead of OFX; the bank may be in maintenance, or the url setting is wrong`,
        {
          details: { connection: ctx.connection, status: res.status },
        },
      );
    }
    const what =
      text.trim() === ''
        ? 'an empty body'
        : `something that is not OFX ("${bodySnippet(text, secrets, 80)}")`;
    throw new MalformedStatementError(
      'OFX_NOT_OFX',
      `${ctx.connection}: the OFX server ${res.safeUrl} answered with ${what}`,
      {
        details: { connection: ctx.connection, status: res.status },
      },
    );
  }
  try {
    return parseOfxResponse(Buffer.from(res.body), {
      fileName: `${ctx.connection}: OFX response`,
      allowNoStatement: true,
    });
  } catch (err) {
    if (!(err instanceof MalformedStatementError)) throw err;
    const message = redactText(err.message, secrets);
    throw new MalformedStatementError('OFX_MALFORMED', message, {
      // The cause repeats the unredacted text: keep it only when there was nothing to mask.
      ...(message === err.message ? { cause: err } : {}),
      details: { connection: ctx.connection, ...err.details },
    });
  }
}

/** The statement the answering wrapper carries, filtered to what the connection wants. */
function pickStatement(
  parsed: ParsedResponse,
  part: OfxEnvelopePart,
  ctx: FetchContext,
  accountId: string,
  warn: (m: string) => void,
): BankAccountStatement {
  for (const w of parsed.warnings) warn(warningText(w));
  const statement = parsed.statements[part.statementIndex!];
  if (!statement)
    throw new AnswerShapeError('the statement wrapper holds no readable STMTRS/CCSTMTRS');
  if (statement.accountId !== accountId)
    warn(`the bank answered for account ${statement.accountId}, requested ${accountId}`);
  // OFX 2.1.1+ BANKTRANLISTP lines are pending; the connection decides whether it wants them.
  return ctx.includePending
    ? statement
    : { ...statement, transactions: statement.transactions.filter((t) => !t.pending) };
}

async function fetchStatement(ctx: FetchContext): Promise<FetchResult> {
  const settings = readSettings(ctx.settings, ctx.connection);
  for (const key of SECRET_KEYS) {
    if (!ctx.secrets[key]) {
      throw new BankAuthError(
        'OFX_CREDENTIALS_MISSING',
        `${ctx.connection}: the '${key}' secret is not set (ofx-direct needs username and password)`,
        {
          details: { connection: ctx.connection },
        },
      );
    }
  }
  const secrets = [ctx.secrets.password, ctx.secrets.username];
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(redactText(m, secrets));
  const trnUid = randomUUID();
  const text = buildStatementRequest({
    settings,
    username: ctx.secrets.username,
    password: ctx.secrets.password,
    window: ctx.window,
    now: ctx.now(),
    trnUid,
    fileUid: randomUUID(),
  });
  const res = await httpRequest(ctx, {
    url: settings.url,
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-ofx',
      // Quicken's headers: some FIs (AmEx) refuse requests without application/xml in Accept.
      Accept: '*/*, application/x-ofx, application/xml;q=0.9',
      'User-Agent': 'InetClntApp/3.0',
    },
    // v1 declares CHARSET:1252; v2 declares UTF-8.
    body: settings.version >= 200 ? text : new Uint8Array(Buffer.from(text, 'latin1')),
    what: 'OFX statement request',
    secrets,
  });

  const isOfx = /<OFX>/i.test(res.text('latin1'));
  if ((res.status < 200 || res.status >= 300) && !isOfx) {
    throw statusError(res, {
      connection: ctx.connection,
      now: ctx.now(),
      secrets,
      // OFX has no HTTP-level semantics: any status but a rate limit or a redirect (a moved
      // server: fix the url setting) means "try again later".
      map: (r) =>
        r.status === 429 ||
        (r.status === 503 && r.headers.has('retry-after')) ||
        (r.status >= 300 && r.status < 400)
          ? undefined
          : new BankUnavailableError(
              'OFX_HTTP_STATUS',
              `${ctx.connection}: the OFX server ${r.safeUrl} answered HTTP ${r.status}${r.body.length ? ` ("${bodySnippet(r.text('latin1'), secrets)}")` : ''}`,
              {
                details: { connection: ctx.connection, status: r.status },
              },
            ),
    });
  }
  const parsed = parseBody(res, ctx, secrets);
  try {
    const signon = statusCode(parsed.signon);
    if (!signon) throw new AnswerShapeError('the response has no SIGNONMSGSRSV1/SONRS/STATUS');
    const signonError = ofxStatusError(signon, 'signon', ctx.connection, secrets, warn);
    if (signonError) throw signonError;
    const parts = parsed.parts ?? [];
    const part = answeringPart(parts, trnUid);
    if (!part)
      throw new AnswerShapeError(
        parts.length === 0
          ? 'the response has no statement (STMTTRNRS/CCSTMTTRNRS)'
          : "no statement in the response answers this request's TRNUID",
      );
    if (part.trnUid !== trnUid)
      warn(`the statement's TRNUID ${part.trnUid ?? '(none)'} differs from the request's`);
    const partStatus = statusCode(part.status);
    if (partStatus) {
      const stmtError = ofxStatusError(partStatus, 'statement', ctx.connection, secrets, warn);
      if (stmtError) throw stmtError;
    }
    if (part.statementIndex === undefined) {
      // Some banks send no STMTRS when the range is empty (protocols.md §1 "History and windows").
      warn('the bank sent no statement body for this window; read as no transactions');
      return { statements: [], warnings };
    }
    const statement = pickStatement(parsed, part, ctx, settings.accountId, warn);
    ctx.logger.debug('ofx statement read', {
      event: 'bank.ofx',
      connection: ctx.connection,
      transactions: statement.transactions.length,
      ofx_version: parsed.format,
    });
    return { statements: [statement], warnings };
  } catch (err) {
    if (err instanceof AnswerShapeError)
      throw unreadableAnswer(err, 'OFX_MALFORMED', 'the OFX response', ctx.connection, secrets);
    throw err;
  }
}

export const ofxDirect = {
  id: 'ofx-direct',
  description:
    "OFX Direct Connect: statement download from the bank's OFX server (OFX 1.x SGML / 2.x XML)",
  fetch: fetchStatement,
} satisfies BankProvider;
