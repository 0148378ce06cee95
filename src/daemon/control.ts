import fs from 'node:fs';
import net from 'node:net';
import {
  type ControlContract,
  type ParamsOf,
  type ParamsReader,
  type ResultOf,
} from './control-contract';
import { ControlError, DaemonNotRunningError, RemoteMethodError } from './control-errors';
import {
  CONTROL_METHODS,
  CONTROL_STREAMS,
  type ControlMethodName,
  type ControlMethods,
  type ControlParams,
  type ControlResult,
  type ControlStreams,
} from './control-methods';
import { BooksyncError, describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { redactValue } from '../shared/redact';

/**
 * The control channel: a Unix socket in the state directory (mode 0600, so only the service
 * user and root can talk to the daemon) carrying one JSON object a line. A request is
 * `{ "id": 1, "method": "status", "params": {...} }`; the answer is `{ "id": 1, "ok": true,
 * "result": ... }` or `{ "id": 1, "ok": false, "error": { "code", "message" } }`.
 *
 * Every answer passes through the secret redaction (shared/redact.ts) on its way out: what the
 * CLI prints (`status`, `fetch`) may carry what a cloud or a bank said.
 */
export type ControlHandler = (params: Record<string, unknown>) => Promise<unknown>;

/**
 * A method whose answer is long (a backup): after `{ "id", "ok": true, "stream": true }` the
 * handler's lines follow as they are written, then `{ "id", "stream_end": true }`, or `{ "id",
 * "ok": false, "error" }` when it fails midway. Streamed lines must not start with `{"id":`.
 */
export type ControlStreamHandler = (
  params: Record<string, unknown>,
  write: (text: string) => Promise<void>,
) => Promise<void>;

export { ControlError, DaemonNotRunningError, RemoteMethodError };

/** Longest request line accepted; a control request is small. */
const MAX_LINE = 1 << 20;

/**
 * A control server for a contract (control-contract.ts): a handler gets its params checked and
 * typed by the contract's reader, and must return the contract's result type.
 */
export class ContractServer<Methods extends ControlContract, Streams extends ControlContract> {
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly streams = new Map<string, ControlStreamHandler>();
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly logger: Logger,
    /** The secrets to mask in every answer. */
    private readonly secrets: () => readonly string[],
    private readonly contract: { methods: Methods; streams: Streams },
  ) {}

  /** Registers the handler of a method of the contract. */
  handle<M extends keyof Methods & string>(
    method: M,
    handler: (params: ParamsOf<Methods[M]>) => Promise<ResultOf<Methods[M]>>,
  ): void {
    const read = this.contract.methods[method].params as ParamsReader<ParamsOf<Methods[M]>>;
    this.handlers.set(method, (params) => handler(read(params, method)));
  }

  /** Registers the handler of a streamed method of the contract. */
  handleStream<M extends keyof Streams & string>(
    method: M,
    handler: (
      params: ParamsOf<Streams[M]>,
      write: (text: string) => Promise<void>,
    ) => Promise<void>,
  ): void {
    const read = this.contract.streams[method].params as ParamsReader<ParamsOf<Streams[M]>>;
    this.streams.set(method, (params, write) => handler(read(params, method), write));
  }

  methods(): string[] {
    return [...this.handlers.keys(), ...this.streams.keys()].sort();
  }

  /**
   * Listens on the socket path. The caller holds the state directory's store lock, so a socket
   * file left behind by a killed daemon is stale and safe to remove.
   */
  async listen(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const server = net.createServer((socket) => this.serve(socket));
    this.server = server;
    // Create the socket with no group/other bits from the first moment, then make sure.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    fs.chmodSync(this.socketPath, 0o600);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE) {
        socket.end(
          JSON.stringify({
            id: null,
            ok: false,
            error: describeError(new ControlError('CONTROL_TOO_LARGE', 'request too large')),
          }) + '\n',
        );
        return;
      }
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) void this.answer(socket, line);
      }
    });
  }

  private async answer(socket: net.Socket, line: string): Promise<void> {
    let id: unknown = null;
    let reply: Record<string, unknown>;
    try {
      const parsed = parseLine(line);
      id = parsed.id ?? null;
      const request = checkRequest(parsed);
      // A streamed answer (a backup) is the books' own bytes, passed on as they are.
      const stream = this.streams.get(request.method);
      if (stream) return await this.answerStream(socket, id, stream, request.params);
      const handler = this.handlers.get(request.method);
      if (!handler) {
        throw new ControlError(
          'CONTROL_UNKNOWN_METHOD',
          `unknown control method '${request.method}' (known: ${this.methods().join(', ')})`,
        );
      }
      reply = { id, ok: true, result: await handler(request.params) };
    } catch (err) {
      if (err instanceof ControlError && err.code === 'CONTROL_BAD_REQUEST') {
        // A client's mistake, not the daemon's: one warn line saying what was wrong, no stack.
        this.logger.warn(`malformed control request: ${err.message}`, {
          event: 'control.bad_request',
          error: describeError(err),
        });
      } else if (!(err instanceof BooksyncError)) {
        this.logger.error('control request failed', { event: 'control.error', err });
      }
      reply = { id, ok: false, error: describeError(err) };
    }
    if (!socket.destroyed) socket.write(JSON.stringify(redactValue(reply, this.secrets())) + '\n');
  }

  private async answerStream(
    socket: net.Socket,
    id: unknown,
    handler: ControlStreamHandler,
    params: unknown,
  ): Promise<void> {
    const write = (text: string): Promise<void> => {
      if (socket.destroyed)
        return Promise.reject(
          new ControlError('CONTROL_CLOSED', 'the client closed the control connection'),
        );
      if (socket.write(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = (err?: Error) => {
          socket.off('drain', drained);
          socket.off('close', closed);
          if (err) reject(err);
          else resolve();
        };
        const drained = () => done();
        const closed = () =>
          done(new ControlError('CONTROL_CLOSED', 'the client closed the control connection'));
        socket.once('drain', drained);
        socket.once('close', closed);
      });
    };
    try {
      await write(JSON.stringify({ id, ok: true, stream: true }) + '\n');
      await handler(
        params && typeof params === 'object' ? (params as Record<string, unknown>) : {},
        write,
      );
      await write(JSON.stringify({ id, stream_end: true }) + '\n');
    } catch (err) {
      if (!(err instanceof BooksyncError))
        this.logger.error('control stream failed', { event: 'control.error', err });
      if (!socket.destroyed)
        socket.write(JSON.stringify({ id, ok: false, error: describeError(err) }) + '\n');
    }
    socket.end();
  }
}

/** The daemon's control server: the methods of control-methods.ts. */
export class ControlServer extends ContractServer<ControlMethods, ControlStreams> {
  constructor(socketPath: string, logger: Logger, secrets: () => readonly string[] = () => []) {
    super(socketPath, logger, secrets, { methods: CONTROL_METHODS, streams: CONTROL_STREAMS });
  }
}

interface ControlRequest {
  method: string;
  params: Record<string, unknown>;
}

/** One request line as JSON; anything but an object is `CONTROL_BAD_REQUEST`. */
function parseLine(line: string): Record<string, unknown> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (err) {
    throw new ControlError(
      'CONTROL_BAD_REQUEST',
      `the request is not JSON (${(err as Error).message})`,
    );
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new ControlError(
      'CONTROL_BAD_REQUEST',
      'the request must be a JSON object with a method',
    );
  }
  return request as Record<string, unknown>;
}

/** `{ "method": string, "params"?: object }`, else `CONTROL_BAD_REQUEST`. */
function checkRequest(request: Record<string, unknown>): ControlRequest {
  const { method, params = {} } = request;
  if (typeof method !== 'string' || method === '')
    throw new ControlError('CONTROL_BAD_REQUEST', "the request has no 'method' string");
  if (params === null || typeof params !== 'object' || Array.isArray(params))
    throw new ControlError('CONTROL_BAD_REQUEST', "'params' must be a JSON object");
  return { method, params: params as Record<string, unknown> };
}

/**
 * A method of the daemon's contract (control-methods.ts) over the socket: params and result are
 * typed by the table; errors as `controlRequest`.
 */
export async function callDaemon<M extends ControlMethodName>(
  socketPath: string,
  method: M,
  params: ControlParams<M>,
  timeoutMs?: number,
): Promise<ControlResult<M>> {
  // The daemon answers with the contract's result type: it is the other side of this table.
  return (await controlRequest(socketPath, method, params, timeoutMs)) as ControlResult<M>;
}

/** How long a control request waits for its answer unless the caller says otherwise. */
export const CONTROL_TIMEOUT_MS = 30_000;

/**
 * One request over the control socket. Rejects with DaemonNotRunningError when nothing listens
 * (no socket, or a stale one), and with a BooksyncError carrying the daemon's code on a failed call.
 */
export function controlRequest(
  socketPath: string,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = CONTROL_TIMEOUT_MS,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffer = '';
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ControlError(
          'CONTROL_TIMEOUT',
          `the daemon did not answer '${method}' within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      socket.write(JSON.stringify({ id: 1, method, params }) + '\n');
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        const reply = JSON.parse(buffer.slice(0, nl)) as {
          ok: boolean;
          result?: unknown;
          error?: { code: string; message: string };
        };
        if (reply.ok) resolve(reply.result);
        else reject(new RemoteMethodError(reply.error));
      } catch (err) {
        reject(
          new ControlError('CONTROL_BAD_REPLY', 'the daemon sent an unreadable reply', {
            cause: err,
          }),
        );
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (
        !connected &&
        (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK')
      ) {
        reject(
          new DaemonNotRunningError('no booksync daemon is running on this state directory', {
            cause: err,
          }),
        );
      } else {
        reject(
          new ControlError('CONTROL_FAILED', `control socket error: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
  });
}

/**
 * A streamed request (see ControlStreamHandler): `onLine` gets each streamed line, and the socket
 * waits while the promise it returns is pending. Resolves at the stream's end; rejects with the
 * daemon's error, DaemonNotRunningError, or CONTROL_TIMEOUT after `idleMs` without a byte.
 */
export function controlStream(
  socketPath: string,
  method: string,
  params: Record<string, unknown>,
  onLine: (line: string) => Promise<void> | void,
  idleMs = 120_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffer = '';
    let connected = false;
    let started = false;
    let ended = false;
    let settled = false;
    let queue: Promise<void> = Promise.resolve();
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(idleMs, () =>
      settle(
        new ControlError(
          'CONTROL_TIMEOUT',
          `the daemon sent nothing for '${method}' within ${idleMs} ms`,
        ),
      ),
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      socket.write(JSON.stringify({ id: 1, method, params }) + '\n');
    });
    const control = (line: string): boolean => {
      if (started && !line.startsWith('{"id":')) return false;
      let reply: {
        ok?: boolean;
        stream?: boolean;
        stream_end?: boolean;
        error?: { code: string; message: string };
      };
      try {
        reply = JSON.parse(line) as typeof reply;
      } catch (err) {
        settle(
          new ControlError('CONTROL_BAD_REPLY', 'the daemon sent an unreadable reply', {
            cause: err,
          }),
        );
        return true;
      }
      if (reply.ok === false) settle(new RemoteMethodError(reply.error));
      else if (reply.stream_end) {
        ended = true;
        queue.then(() => settle(), settle);
      } else if (reply.stream) started = true;
      else settle(new ControlError('CONTROL_BAD_REPLY', `the daemon did not stream '${method}'`));
      return true;
    };
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0 && !settled) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (control(line)) continue;
        let step: Promise<void> | void;
        try {
          step = onLine(line);
        } catch (err) {
          settle(err as Error);
          return;
        }
        if (step) {
          socket.pause();
          queue = queue.then(() => step).then(() => void socket.resume());
          queue.catch(settle);
        }
      }
    });
    socket.on(
      'end',
      () =>
        ended ||
        settle(
          new ControlError(
            'CONTROL_CLOSED',
            `the daemon closed the connection before '${method}' ended`,
          ),
        ),
    );
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (
        !connected &&
        (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK')
      ) {
        settle(
          new DaemonNotRunningError('no booksync daemon is running on this state directory', {
            cause: err,
          }),
        );
      } else {
        settle(
          new ControlError('CONTROL_FAILED', `control socket error: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
  });
}
