import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OpsCodeOf } from './error-codes';
import { BooksyncError, describeError, type BooksyncErrorOptions } from '../shared/errors';
import type { Logger } from '../shared/logger';

/** The operations listener could not bind its address. */
export class OpsListenError extends BooksyncError {
  static readonly code = 'OPS_LISTEN' satisfies OpsCodeOf<'OpsListenError'>;
  declare readonly code: typeof OpsListenError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(OpsListenError.code, message, options);
  }
}

/** An answer of the operations listener. */
export interface OpsAnswer {
  status: number;
  contentType: string;
  body: string;
}

export type OpsRoutes = Readonly<Record<string, () => Promise<OpsAnswer>>>;

export function jsonAnswer(status: number, body: unknown): OpsAnswer {
  return {
    status,
    contentType: 'application/json; charset=utf-8',
    body: `${JSON.stringify(body)}\n`,
  };
}

/**
 * A plain HTTP server for GET routes (/metrics, /healthz, /readyz). No login: it serves no books
 * data, only counts and states; keep it on loopback or a monitoring network.
 */
export class OpsListener {
  private server: Server | undefined;
  private address = '';

  constructor(
    private readonly routes: OpsRoutes,
    private readonly logger: Logger,
  ) {}

  /** `http://host:port` while listening. */
  get url(): string | undefined {
    return this.server ? this.address : undefined;
  }

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(
          new OpsListenError(
            `the operations listener cannot listen on ${host}:${port}: ${err.code ?? err.message}`,
            { cause: err, details: { host, port } },
          ),
        );
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) =>
      this.logger.error(`operations listener error: ${err.message}`, {
        event: 'ops.error',
        ...describeError(err),
      }),
    );
    const bound = (server.address() as AddressInfo).port;
    this.address = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const route = Object.prototype.hasOwnProperty.call(this.routes, path)
      ? this.routes[path]
      : undefined;
    let answer: OpsAnswer;
    if (!route) answer = jsonAnswer(404, { error: 'not_found', paths: Object.keys(this.routes) });
    else if (req.method !== 'GET' && req.method !== 'HEAD')
      answer = jsonAnswer(405, { error: 'method_not_allowed', allowed: ['GET', 'HEAD'] });
    else {
      try {
        answer = await route();
      } catch (err) {
        this.logger.error(`operations endpoint ${path} failed: ${describeError(err).message}`, {
          event: 'ops.error',
          path,
          ...describeError(err),
        });
        answer = jsonAnswer(500, { error: 'internal', reason: 'see the booksync log' });
      }
    }
    const headers: Record<string, string | number> = {
      'content-type': answer.contentType,
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(answer.body),
    };
    if (answer.status === 405) headers.allow = 'GET, HEAD';
    res.writeHead(answer.status, headers);
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }
}
