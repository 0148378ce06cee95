import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { BankAuthError } from '../../errors';

/**
 * The application's JSON Web Token: Enable Banking authenticates every API call by a JWT that
 * the application signs itself with its private key (RS256), with the application id as `kid`,
 * `iss: enablebanking.com`, `aud: api.enablebanking.com`, and a lifetime of at most 24 hours.
 * There is no token endpoint: nothing is stored between runs.
 *
 * @link https://enablebanking.com/docs/api/reference/ ("Authentication")
 */

/** How long a signed token is valid; one run needs minutes, the API allows up to a day. */
const TOKEN_TTL_SECONDS = 3600;

const base64url = (data: string | Buffer): string =>
  Buffer.from(data).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** Reads the PEM private key (PKCS#1 or PKCS#8); a key that is not an RSA private key is refused. */
export function readApplicationKey(pem: string, connection: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new BankAuthError(
      'ENABLEBANKING_KEY_INVALID',
      `${connection}: the private_key secret is not a PEM private key; give the .pem file the Enable Banking control panel downloaded for the application`,
      { details: { connection } },
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new BankAuthError(
      'ENABLEBANKING_KEY_INVALID',
      `${connection}: the private_key secret is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Enable Banking signs with RS256 and needs the application's RSA key`,
      { details: { connection } },
    );
  }
  return key;
}

/** A signed application token, valid from `now` for {@link TOKEN_TTL_SECONDS}. */
export function applicationToken(applicationId: string, key: KeyObject, now: Date): string {
  const iat = Math.floor(now.getTime() / 1000);
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: applicationId }));
  const payload = base64url(
    JSON.stringify({
      iss: 'enablebanking.com',
      aud: 'api.enablebanking.com',
      iat,
      exp: iat + TOKEN_TTL_SECONDS,
    }),
  );
  const signature = sign('sha256', new TextEncoder().encode(`${header}.${payload}`), key);
  return `${header}.${payload}.${base64url(signature)}`;
}
