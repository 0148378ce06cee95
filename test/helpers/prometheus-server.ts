import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A port nobody listens on right now (bound on 0 and released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

/**
 * A real Prometheus server (Debian's /usr/bin/prometheus) on 127.0.0.1 with temporary storage,
 * scraping `targets` every second and evaluating `ruleFiles` every second.
 */
export class PrometheusServer {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-prom-'));
  url = '';
  private child: ChildProcess | undefined;
  private output = '';
  private exited: Promise<number | null> | undefined;

  constructor(
    private readonly binary: string,
    private readonly targets: string[],
    private readonly ruleFiles: string[],
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      ...this.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
      'scrape_configs:',
      '  - job_name: booksync',
      '    static_configs:',
      `      - targets: [${this.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(this.dir, 'prometheus.yml'), config);
    this.url = `http://127.0.0.1:${port}`;
    const child = spawn(
      this.binary,
      [
        `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString('utf8');
        if (this.output.includes('Server is ready to receive web requests.')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void this.exited!.then((code) =>
        reject(new Error(`prometheus exited (${code}) before it was ready:\n${this.output}`)),
      );
    });
  }

  /** Prometheus's own log, for failure messages. */
  get log(): string {
    return this.output;
  }

  async api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${this.url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error}`);
    return body.data;
  }

  async query(expr: string): Promise<PromSample[]> {
    const data = await this.api<{ result: PromSample[] }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    return data.result;
  }

  async alerts(): Promise<PromAlert[]> {
    return (await this.api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
  }

  /**
   * Asks `probe` until it returns a value (Prometheus has no change feed to wait on: it scrapes and
   * evaluates every second). Gives up after `limitMs`, with the last probe's answer in the error.
   */
  async until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
    const deadline = Date.now() + limitMs;
    let last: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline)
        throw new Error(
          `prometheus: ${what} did not happen within ${limitMs} ms (last error: ${String(last)})\n${this.output.slice(-3000)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
