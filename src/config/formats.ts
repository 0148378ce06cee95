import { CronExpressionParser } from 'cron-parser';
import { isDuration, parseDuration } from '../shared/duration';
import { describeError } from '../shared/errors';
import { isCurrency } from '../shared/money';
import { isLoopbackHost } from '../shared/urls';
import { EMBEDDED_CLOUD } from './constants';

/**
 * The string formats of the config schema. Each one is a function returning what is wrong with a
 * value (`undefined` when it is fine); ajv uses it as a format validator and the error formatter
 * uses the same text, so the reason a value fails is written once.
 *
 * Format names carry a `booksync-` prefix: editors (yaml-language-server) ignore formats they do
 * not know, so ours never clash with the standard `duration` (ISO 8601) or `uri` formats.
 */
export type FormatCheck = (value: string) => string | undefined;

const DURATION_HELP = 'a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w';

function duration(value: string): string | undefined {
  if (!isDuration(value)) return `'${value}' is not a duration (${DURATION_HELP})`;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    return `'${value}' is too long (${DURATION_HELP})`; // the shape is right, so only the size can be wrong
  }
  return ms > 0
    ? undefined
    : `'${value}' is zero (expected a duration longer than zero, ${DURATION_HELP})`;
}

const CRON_HELP = '5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first';

function cron(value: string): string | undefined {
  const fields = value.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    return `'${value}' has ${fields.length} field${fields.length === 1 ? '' : 's'} (expected a cron line of ${CRON_HELP})`;
  }
  // cron-parser 5 accepts Jenkins-style `H` hashes, whose value hangs on a seed the config does
  // not show: refused, so a schedule reads the same to a person as to the scheduler.
  if (fields.some((f) => /(^|[,/-])H(?![A-Za-z])/i.test(f)))
    return `'${value}' uses a hashed value H (expected plain cron fields, ${CRON_HELP})`;
  try {
    CronExpressionParser.parse(fields.join(' '));
  } catch (err) {
    return `'${value}' is not a valid cron line: ${describeError(err).message} (${CRON_HELP})`;
  }
  return undefined;
}

function currency(value: string): string | undefined {
  return isCurrency(value)
    ? undefined
    : `'${value}' is not an ISO 4217 currency code (expected upper case, e.g. EUR, USD, GBP)`;
}

const FIELD_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*(\[\])?$/;

/** `a.b`, `items[].x`: field names joined by dots, `[]` after a name that holds a list. */
function fieldPath(value: string): string | undefined {
  const help =
    "field names joined by '.', with [] after a list, e.g. internal_notes, bank_accounts[].iban";
  const segments = value.split('.');
  if (value === '' || !segments.every((s) => FIELD_SEGMENT.test(s)))
    return `'${value}' is not a field path (${help})`;
  const top = segments[0].replace('[]', '');
  if (top.startsWith('_'))
    return `'${value}' names a CouchDB field (fields starting with '_' always sync; expected a document field)`;
  if (top === 'type')
    return `'${value}' names the document type, which always syncs (expected another field)`;
  return undefined;
}

/**
 * An http(s) URL with no user name or password in it: secrets go under their own keys. The value
 * is never repeated in the message, because a URL may hold a password.
 */
function urlProblem(value: string, expected: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `not a URL (expected ${expected})`;
  }
  if (url.username || url.password) {
    return 'the URL contains a user name or password (secrets are never inline: put them under auth, the password as { env: NAME } or { file: PATH })';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `not an http(s) URL (expected ${expected})`;
  return undefined;
}

/** https, or http to a loopback address (simulators in tests): these servers get passwords and tokens. */
function secureUrl(value: string): string | undefined {
  const expected = 'https://..., or http:// to a loopback address';
  const problem = urlProblem(value, expected);
  if (problem) return problem;
  const url = new URL(value);
  return url.protocol === 'https:' || isLoopbackHost(url.hostname)
    ? undefined
    : `plain http to a remote host (expected ${expected}: credentials travel in the request)`;
}

function cloudUrl(value: string): string | undefined {
  return value === EMBEDDED_CLOUD
    ? undefined
    : urlProblem(value, `'${EMBEDDED_CLOUD}' or the http(s) URL of a CouchDB database`);
}

function timeZone(value: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return undefined;
  } catch {
    return `'${value}' is not an IANA time zone (expected e.g. UTC, Europe/Madrid, America/New_York)`;
  }
}

export const FORMATS: Readonly<Record<string, FormatCheck>> = Object.freeze({
  'booksync-duration': duration,
  'booksync-cron': cron,
  'booksync-currency': currency,
  'booksync-field-path': fieldPath,
  'booksync-secure-url': secureUrl,
  'booksync-cloud-url': cloudUrl,
  'booksync-public-url': (value: string) => urlProblem(value, 'an http(s) URL'),
  'booksync-timezone': timeZone,
});

export type FormatName = keyof typeof FORMATS;
