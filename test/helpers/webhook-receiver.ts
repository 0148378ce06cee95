import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP server on 127.0.0.1 that records every request and answers with `answer` (a status code,
 * or `hang` to never answer). Tests wait for requests with `next()`, never for time.
 */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  answer: number | 'hang' = 200;
  url = '';
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private waiters: Array<(r: ReceivedHook) => void> = [];

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** The request after the `count` already received. */
  next(count = this.received.length): Promise<ReceivedHook> {
    if (this.received.length > count) return Promise.resolve(this.received[count]);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const hook = { path: req.url ?? '', headers: req.headers, body };
      this.received.push(hook);
      const waiters = this.waiters.splice(0);
      for (const w of waiters) w(hook);
      if (this.answer === 'hang') return;
      res.writeHead(this.answer, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  }
}
