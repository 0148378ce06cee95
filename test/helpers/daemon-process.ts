import { spawn, execFile, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The built CLI every integration test runs, as a user would. */
export const CLI = path.resolve(__dirname, '../../src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `booksync ARGS` to completion. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as unknown as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

export interface LogLine {
  ts: string;
  level: string;
  event: string;
  msg: string;
  [key: string]: unknown;
}

/**
 * A daemon running as a child process. Its stdout is parsed as JSON lines; tests wait for
 * events (never for time) with `waitFor`.
 */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  /** Everything the process wrote, raw, for leak checks. */
  rawStdout = '';
  rawStderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<{
    match: (l: LogLine) => boolean;
    from: number;
    resolve: (l: LogLine) => void;
  }> = [];
  private readonly child: ChildProcess;
  private partial = '';

  constructor(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}) {
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr!.on('data', (chunk: string) => (this.rawStderr += chunk));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onStdout(chunk: string): void {
    this.rawStdout += chunk;
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const text = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { ts: '', level: 'raw', event: 'non-json', msg: text };
      }
      this.lines.push(line);
      const index = this.lines.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (index >= w.from && w.match(line)) {
          w.resolve(line);
          return false;
        }
        return true;
      });
    }
  }

  /**
   * Resolves with the first line (at or after index `from`) matching; rejects if the process exits
   * first. The mocha timeout bounds the wait.
   */
  waitFor(match: string | ((l: LogLine) => boolean), from = 0): Promise<LogLine> {
    const fn = typeof match === 'string' ? (l: LogLine) => l.event === match : match;
    const seen = this.lines.slice(from).find(fn);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ match: fn, from, resolve });
      void this.exited.then(({ code, signal }) =>
        reject(
          new Error(
            `daemon exited (code ${code}, signal ${signal}) before the expected log line; stderr: ${this.rawStderr}\nstdout: ${this.rawStdout.slice(-2000)}`,
          ),
        ),
      );
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGKILL if still running (test cleanup). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
