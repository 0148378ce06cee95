import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { BankAuthError } from '../../errors';
import { httpRequest, splitCredentials, statusError, type HttpContext } from '../../http';
import { readPrivateFile, writePrivateFile } from '../../../shared/private-file';
import { isHttpsOrLoopback } from '../../../shared/urls';

/**
 * SimpleFIN access: a setup token (base64 of a claim URL) is claimed exactly once with an empty
 * POST and yields an access URL `https://user:pass@host/path` (SimpleFIN protocol, "Claim an Access
 * URL"). The access URL is kept in the connection's state folder, mode 0600, and reused; it is
 * never logged, never put in a message, and never handed to `fetch` with its userinfo.
 *
 * @link https://www.simplefin.org/protocol.html
 */

export const ACCESS_URL_FILE = 'simplefin-access-url';
/** SHA-256 of the setup token the stored access URL came from: a new token in the secrets is claimed again. */
export const TOKEN_HASH_FILE = 'simplefin-setup-token.sha256';

export interface Access {
  /** The access URL without userinfo, no trailing slash. */
  base: URL;
  authorization: string;
  /** Values that must never appear in a message. */
  secrets: string[];
  /** True when this run claimed the token (the access URL is new). */
  claimed: boolean;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token.trim()).digest('hex');
}

/** Decodes a setup token into its claim URL; throws a BankAuthError that names the fix. */
export function claimUrl(token: string, connection: string): URL {
  const invalid = (why: string): never => {
    throw new BankAuthError(
      'SIMPLEFIN_TOKEN_INVALID',
      `${connection}: the setup_token secret is not a SimpleFIN setup token (${why}); copy it again from SimpleFIN Bridge`,
      {
        details: { connection },
      },
    );
  };
  const compact = token.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return invalid('not base64');
  const decoded = Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString(
    'utf8',
  );
  let url: URL;
  try {
    url = new URL(decoded);
  } catch {
    return invalid('it does not decode to a URL');
  }
  if (!isHttpsOrLoopback(url)) return invalid('its claim URL is not https');
  return url;
}

/** Parses and checks a stored or claimed access URL. */
export function parseAccessUrl(text: string, connection: string, claimed: boolean): Access {
  const fail = (why: string): never => {
    throw new BankAuthError(
      'SIMPLEFIN_ACCESS_URL_INVALID',
      `${connection}: the SimpleFIN access URL ${claimed ? 'returned by the claim' : 'stored in the state folder'} is unusable (${why}); create a new setup token in SimpleFIN Bridge and set it as the setup_token secret`,
      {
        details: { connection },
      },
    );
  };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return fail('not a URL');
  }
  if (!url.username || !url.password) return fail('it has no credentials');
  if (!isHttpsOrLoopback(url)) return fail('not https');
  const { url: base, authorization, password } = splitCredentials(url);
  base.search = '';
  base.hash = '';
  base.pathname = base.pathname.replace(/\/+$/, '');
  return {
    base,
    authorization: authorization!,
    secrets: [password!, url.password, text.trim(), `${url.username}:${url.password}`],
    claimed,
  };
}

export interface AccessContext extends HttpContext {
  stateDir: string;
}

/**
 * Returns the access for this connection: the stored access URL when it came from the current
 * setup token, else the result of claiming the token (stored before it is used).
 */
export async function obtainAccess(
  ctx: AccessContext,
  setupToken: string | undefined,
): Promise<Access> {
  const file = path.join(ctx.stateDir, ACCESS_URL_FILE);
  const hashFile = path.join(ctx.stateDir, TOKEN_HASH_FILE);
  const stored = await readPrivateFile(file);
  const storedHash = (await readPrivateFile(hashFile))?.trim();
  if (stored && (!setupToken || !storedHash || storedHash === tokenHash(setupToken))) {
    return parseAccessUrl(stored, ctx.connection, false);
  }
  if (!setupToken) {
    throw new BankAuthError(
      'SIMPLEFIN_TOKEN_MISSING',
      `${ctx.connection}: no SimpleFIN access yet and the setup_token secret is not set; create a setup token in SimpleFIN Bridge`,
      {
        details: { connection: ctx.connection },
      },
    );
  }
  const claim = claimUrl(setupToken, ctx.connection);
  const lastSegment = claim.pathname.split('/').filter(Boolean).pop() ?? '';
  const tokenSecrets = [
    setupToken.trim(),
    claim.href,
    claim.pathname,
    ...(lastSegment.length >= 8 ? [lastSegment] : []),
  ];
  const res = await httpRequest(ctx, {
    url: claim,
    method: 'POST',
    headers: { 'Content-Length': '0' },
    body: '',
    what: 'SimpleFIN setup token claim',
    // The claim path is the token itself: show only the host.
    displayUrl: `${claim.protocol}//${claim.host}/…`,
    secrets: tokenSecrets,
    maxBytes: 64 * 1024,
  });
  if (res.status === 403) {
    throw new BankAuthError(
      'SIMPLEFIN_TOKEN_USED',
      `${ctx.connection}: SimpleFIN refused the setup token (HTTP 403): setup token already used; create a new one in SimpleFIN Bridge and set it as the setup_token secret. If this daemon did not claim it, treat the token as compromised and disable it in the Bridge`,
      {
        details: { connection: ctx.connection, status: 403 },
      },
    );
  }
  if (res.status !== 200)
    throw statusError(res, { connection: ctx.connection, now: ctx.now(), secrets: tokenSecrets });
  const text = res.text().trim();
  const access = parseAccessUrl(text, ctx.connection, true);
  // Store before first use: the token is spent now, and the access URL is the only way back in.
  try {
    await writePrivateFile(file, `${text}\n`);
    await writePrivateFile(hashFile, `${tokenHash(setupToken)}\n`);
  } catch (err) {
    throw new BankAuthError(
      'SIMPLEFIN_ACCESS_NOT_STORED',
      `${ctx.connection}: the setup token was claimed but the access URL could not be stored (${(err as Error).message}); fix the state directory, then create a new setup token in SimpleFIN Bridge`,
      {
        cause: err,
        details: { connection: ctx.connection },
      },
    );
  }
  ctx.logger?.info('SimpleFIN setup token claimed; access URL stored', {
    event: 'bank.simplefin.claimed',
    connection: ctx.connection,
    host: access.base.host,
  });
  return access;
}
