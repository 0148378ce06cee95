import { DAEMON_ERROR_CODES, type DaemonCodeOf } from '../error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../../shared/errors';

/** A datagram to the service manager could not be sent (bad NOTIFY_SOCKET, libc refused). */
export class SystemdNotifyError extends BooksyncError {
  static readonly codes = codesRaisedAs(DAEMON_ERROR_CODES, 'SystemdNotifyError');
  declare readonly code: DaemonCodeOf<'SystemdNotifyError'>;

  constructor(
    code: DaemonCodeOf<'SystemdNotifyError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** What sends one notification datagram; the daemon's notifier only needs this. */
export interface NotifyTransport {
  send(message: string): void;
  close(): void;
}

// Linux constants (socket(2), sendto(2), unix(7)).
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EAGAIN = 11;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) then sun_path[108]. */
const SUN_PATH_MAX = 108;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
    addr: Buffer,
    addrlen: number,
  ): number;
  close(fd: number): number;
  errno(): number;
}

let libc: Libc | undefined;

/**
 * libc's socket/sendto/close through koffi. Node has no unix datagram sockets, and the
 * systemd-notify tool cannot stand in for them: a message from a process that exits at once may
 * not be attributed to the unit (sd_notify(3), "NOTES"), and its --pid= needs privileges a
 * DynamicUser service lacks. koffi's prebuilt binary comes inside its npm package, loaded only
 * when NOTIFY_SOCKET is set.
 */
function loadLibc(): Libc {
  if (libc) return libc;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the native module is loaded lazily, on first use
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int domain, int type, int protocol)');
  const sendto = lib.func(
    'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
  );
  const close = lib.func('int close(int fd)');
  libc = {
    socket: (d, t, p) => socket(d, t, p) as number,
    sendto: (fd, buf, len, flags, addr, addrlen) =>
      Number(sendto(fd, buf, len, flags, addr, addrlen)),
    close: (fd) => close(fd) as number,
    errno: () => koffi.errno(),
  };
  return libc;
}

/**
 * The address NOTIFY_SOCKET names: a path, or '@name' for the abstract namespace (unix(7)).
 * Throws SystemdNotifyError for anything else.
 */
export function notifySocketAddress(value: string): Buffer {
  if (!value.startsWith('/') && !value.startsWith('@')) {
    throw new SystemdNotifyError(
      'SYSTEMD_NOTIFY_SOCKET_INVALID',
      `NOTIFY_SOCKET must be an absolute path or an @abstract name, got '${value}'`,
    );
  }
  const abstract = value.startsWith('@');
  const name = Buffer.from(abstract ? `\0${value.slice(1)}` : value, 'utf8');
  if (name.length >= SUN_PATH_MAX) {
    throw new SystemdNotifyError(
      'SYSTEMD_NOTIFY_SOCKET_INVALID',
      `NOTIFY_SOCKET is longer than ${SUN_PATH_MAX - 1} bytes: '${value}'`,
    );
  }
  // A path is NUL-terminated; an abstract name is exactly its bytes (the length says where it ends).
  const addr = Buffer.alloc(2 + name.length + (abstract ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

/** One unix datagram socket to the service manager, opened once and kept for the daemon's life. */
export class UnixDatagramNotifier implements NotifyTransport {
  private readonly addr: Buffer;
  private fd: number;
  private readonly c: Libc;

  constructor(socketPath: string) {
    this.addr = notifySocketAddress(socketPath);
    this.c = loadLibc();
    this.fd = this.c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (this.fd < 0) {
      throw new SystemdNotifyError(
        'SYSTEMD_NOTIFY_FAILED',
        `socket(AF_UNIX, SOCK_DGRAM) failed (errno ${this.c.errno()})`,
      );
    }
  }

  /**
   * Sends one datagram without blocking the event loop: a full receive queue (EAGAIN) drops the
   * message, which for a status or watchdog ping is the right trade.
   */
  send(message: string): void {
    if (this.fd < 0)
      throw new SystemdNotifyError('SYSTEMD_NOTIFY_FAILED', 'the notify socket is closed');
    const buf = Buffer.from(message, 'utf8');
    const sent = this.c.sendto(
      this.fd,
      buf,
      buf.length,
      MSG_DONTWAIT | MSG_NOSIGNAL,
      this.addr,
      this.addr.length,
    );
    if (sent < 0) {
      const errno = this.c.errno();
      throw new SystemdNotifyError(
        'SYSTEMD_NOTIFY_FAILED',
        `sendto NOTIFY_SOCKET failed (errno ${errno}${errno === EAGAIN ? ', the service manager is not reading' : ''})`,
        { details: { errno } },
      );
    }
  }

  close(): void {
    if (this.fd >= 0) this.c.close(this.fd);
    this.fd = -1;
  }
}
