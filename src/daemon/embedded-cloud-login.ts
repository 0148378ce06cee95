import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import type express from 'express';
import type { DaemonCodeOf } from './error-codes';
import { BooksyncError, type BooksyncErrorOptions } from '../shared/errors';
import { readPrivateFile, writePrivateFile } from '../shared/private-file';

/**
 * The embedded cloud's login: one user with a random password generated at first start and kept
 * in `STATE_DIR/cloud-credentials` (mode 0600, one line `user:password`, the form `curl -u`
 * takes), and an HTTP Basic check in front of every request (RFC 7617).
 */

export const EMBEDDED_CLOUD_USER = 'booksync';

/** Where the embedded cloud keeps its data and its login inside the state directory. */
export function embeddedCloudPaths(stateDir: string) {
  return {
    data: path.join(stateDir, 'cloud'),
    credentials: path.join(stateDir, 'cloud-credentials'),
  };
}

export interface CloudLogin {
  username: string;
  password: string;
}

/** The credentials file is there but unreadable as `user:password`: never overwritten silently. */
export class CloudCredentialsError extends BooksyncError {
  static readonly code =
    'CLOUD_CREDENTIALS_INVALID' satisfies DaemonCodeOf<'CloudCredentialsError'>;
  declare readonly code: typeof CloudCredentialsError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(CloudCredentialsError.code, message, options);
  }
}

/** Reads the login, or generates and stores one (24 random bytes, base64url: no `:` to split on). */
export async function loadOrCreateLogin(file: string): Promise<CloudLogin> {
  const stored = await readPrivateFile(file);
  if (stored === undefined) {
    const login = {
      username: EMBEDDED_CLOUD_USER,
      password: randomBytes(24).toString('base64url'),
    };
    await writePrivateFile(file, `${login.username}:${login.password}\n`);
    return login;
  }
  const line = stored.trim();
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1 || /\s/.test(line)) {
    throw new CloudCredentialsError(
      `the embedded cloud's credentials file ${file} is not one line 'user:password'; fix it, or delete it to have a new password generated at the next start`,
      {
        details: { file },
      },
    );
  }
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

const digest = (text: string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(text, 'utf8').digest());

/**
 * Lets a request through only with `Authorization: Basic` for the login; anything else gets 401
 * in CouchDB's error shape, with a `WWW-Authenticate` challenge so a browser asks for the login.
 * The comparison is over fixed-length digests, in constant time.
 */
export function requireLogin(login: CloudLogin): express.Handler {
  const expected = digest(`${login.username}:${login.password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
    const given = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    if (match && timingSafeEqual(digest(given), expected)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Basic realm="booksync embedded cloud", charset="UTF-8"')
      .json({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
  };
}
