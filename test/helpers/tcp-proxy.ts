import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ProxyFaults {
  /** Cut a connection once it has carried this many response bytes (server → client)... */
  dropResponseAfterBytes?: number;
  /** ...or this many request bytes (client → server). */
  dropRequestAfterBytes?: number;
  /** How many connections to cut that way before behaving again. */
  drops?: number;
}

/**
 * A TCP proxy on 127.0.0.1 port 0 in front of `targetPort`, for fault injection: it can add a
 * delay to every chunk in both directions (a WAN-like round trip) and cut connections in the
 * middle of a request or a response (a write the server did but whose answer never arrives).
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  faults: ProxyFaults = {};
  /** Added to every request (client → server chunks), in ms. */
  delayMs = 0;
  dropped = 0;
  connections = 0;

  constructor(private readonly targetPort: number) {}

  static async start(
    targetPort: number,
    options: { delayMs?: number; faults?: ProxyFaults } = {},
  ): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
    p.delayMs = options.delayMs ?? 0;
    p.faults = options.faults ?? {};
    await p.listen();
    return p;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async listen(): Promise<void> {
    this.server = net.createServer((client) => this.handle(client));
    await new Promise<void>((resolve) =>
      (this.server as net.Server).listen(0, '127.0.0.1', resolve),
    );
    this.port = (this.server.address() as AddressInfo).port;
  }

  private handle(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    let up = 0;
    let down = 0;
    const cut = () => {
      this.dropped++;
      if (this.faults.drops !== undefined) this.faults.drops--;
      client.destroy();
      upstream.destroy();
    };
    const armed = () => this.faults.drops === undefined || this.faults.drops > 0;
    const pipe = (from: net.Socket, to: net.Socket, isRequest: boolean) => {
      from.on('data', (chunk: Uint8Array) => {
        if (isRequest) up += chunk.length;
        else down += chunk.length;
        const limit = isRequest
          ? this.faults.dropRequestAfterBytes
          : this.faults.dropResponseAfterBytes;
        if (limit !== undefined && armed() && (isRequest ? up : down) > limit) {
          // forward part of it, then cut: the peer sees a truncated message
          to.write(
            chunk.subarray(0, Math.max(0, chunk.length - ((isRequest ? up : down) - limit))),
          );
          cut();
          return;
        }
        if (this.delayMs > 0 && isRequest) {
          // Every chunk waits the same time, so order is kept and throughput is not throttled:
          // each request arrives `delayMs` later (the round trip of a distant server).
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
          }, this.delayMs);
        } else if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () =>
        this.delayMs > 0 && isRequest ? setTimeout(() => to.end(), this.delayMs) : to.end(),
      );
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    };
    pipe(client, upstream, true);
    pipe(upstream, client, false);
  }

  /** Cuts every open connection now. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
