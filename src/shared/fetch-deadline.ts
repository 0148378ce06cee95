import { Deadline } from './deadline';

/** The bound of one exchange: a timeout and, optionally, the caller's signal. */
export interface DeadlineFetchOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The fetch to use (a test's stand-in); Node's global fetch when absent. */
  fetchFn?: (request: Request) => Promise<Response>;
}

/** How one exchange ended; the caller turns a failure into its own error. */
export type Exchange<T> =
  | { ok: true; response: Response; body: T }
  | {
      ok: false;
      /** What fetch or the body reader threw (the deadline's abort reason when it passed). */
      error: unknown;
      /** The timeout passed. */
      timedOut: boolean;
      /** The caller's signal aborted. */
      cancelled: boolean;
    };

/**
 * One HTTP exchange, the request and the reading of its body, under one {@link Deadline}: an
 * abort that always lands, whatever undici does with the Request's signal (see shared/deadline.ts).
 * `readBody` reads the response, racing each read against the deadline it is given.
 */
export async function fetchWithDeadline<T>(
  url: URL | string,
  init: Omit<RequestInit, 'signal'>,
  options: DeadlineFetchOptions,
  readBody: (response: Response, deadline: Deadline) => Promise<T>,
): Promise<Exchange<T>> {
  const fetchFn = options.fetchFn ?? fetch;
  const deadline = new Deadline(options.timeoutMs, options.signal);
  try {
    const request = deadline.hold(new Request(url, { ...init, signal: deadline.signal }));
    const response = await deadline.race(fetchFn(request));
    const body = await readBody(response, deadline);
    return { ok: true, response, body };
  } catch (error) {
    return { ok: false, error, timedOut: deadline.timedOut, cancelled: deadline.cancelled };
  } finally {
    deadline.clear();
  }
}

/** A `readBody` for {@link fetchWithDeadline}: the whole body as text. */
export function readText(response: Response, deadline: Deadline): Promise<string> {
  return deadline.race(response.text());
}
