/** The CouchDB client's network helpers: what to ask for, how to name a cloud and a failure without leaking credentials. */
import { isLoopbackHost, stripUrlCredentials } from '../../shared/urls';

/** `auto`: gzip unless the server is on this machine; `gzip`: always; `none`: never. */
export type ResponseCompression = 'auto' | 'gzip' | 'none';

/**
 * The `Accept-Encoding` header for a cloud at `url`. Over a network, gzip shrinks `_changes`
 * answers about fivefold. On a loopback address (the embedded cloud, a local pouchdb-server) no
 * byte crosses a network, so compressing only burns CPU on the server, which is this machine, and
 * decompressing burns it here (BENCHMARKS.md, "Sync", has the measurements). Apache CouchDB
 * never compresses an answer itself, so the choice does not depend on the server's kind; a reverse
 * proxy in front of it may compress (docs/PROTOCOLS.md, "Response compression").
 * @link https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3
 */
export function acceptEncodingFor(
  url: string,
  compression: ResponseCompression = 'auto',
): 'gzip' | 'identity' {
  if (compression === 'none') return 'identity';
  if (compression === 'gzip') return 'gzip';
  return isLoopbackHost(new URL(url).hostname) ? 'identity' : 'gzip';
}

/** `https://user:pw@host/db` → `https://host/db`: safe for messages and logs. */
export function redactUrl(url: string): string {
  return stripUrlCredentials(url).replace(/\/$/, '');
}

/**
 * The database itself is missing: CouchDB answers 404 `{"error":"not_found","reason":"Database does
 * not exist."}` (PouchDB servers: reason `no_db_file` / `missing` on a database path), and a
 * database being deleted can answer 500 `no_db_file`. A missing document answers `missing` or `deleted`
 * on a document path, which callers accept as 404 themselves.
 */
export function isDatabaseGone(status: number, body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { error, reason } = body as { error?: unknown; reason?: unknown };
  if (error === 'no_db_file' || reason === 'no_db_file') return true;
  return (
    status === 404 &&
    error === 'not_found' &&
    typeof reason === 'string' &&
    /database does not exist/i.test(reason)
  );
}

export function describeNetError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as NodeJS.ErrnoException).code ?? err.name;
    return code ? String(code) : 'network error';
  }
  return 'network error';
}

/** Undici errors may carry the request URL; keep only name and code so no credential can leak through `cause`. */
export function scrub(err: unknown): Error {
  if (err instanceof Error) {
    const e = new Error(describeNetError(err));
    e.name = err.name;
    return e;
  }
  return new Error('network error');
}
