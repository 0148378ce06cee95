import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy shows a hook of one request it is about to forward. */
export interface HookedRequest {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  body: string;
}

/**
 * An HTTP proxy on 127.0.0.1 port 0 in front of `targetPort` that runs `hook` on every request
 * before forwarding it: a test can make something happen in the cloud exactly between a client's
 * read and its write (another writer's change landing in that window), with no timing involved.
 */
export class HttpHookProxy {
  private server: http.Server | null = null;
  port = 0;
  hook: (req: HookedRequest) => Promise<void> | void = () => undefined;

  private constructor(private readonly targetPort: number) {}

  static async start(targetPort: number): Promise<HttpHookProxy> {
    const p = new HttpHookProxy(targetPort);
    const server = http.createServer((req, res) => {
      p.handle(req, res).catch((err: unknown) => {
        res.statusCode = 502;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    p.server = server;
    p.port = (server.address() as AddressInfo).port;
    return p;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // booksync's requests are plain JSON (only answers may be compressed).
    req.setEncoding('utf8');
    let body = '';
    for await (const chunk of req) body += chunk as string;
    await this.hook({ method: req.method ?? 'GET', url: req.url ?? '/', body });
    await new Promise<void>((resolve, reject) => {
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: this.targetPort,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', resolve);
          answer.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
