/** `https://user:pw@host/db` → `https://host/db`: safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
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
