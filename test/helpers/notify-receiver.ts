import { spawn, type ChildProcess } from 'node:child_process';

/**
 * What a service manager sees of sd_notify: a unix datagram socket with SO_PASSCRED, each
 * datagram with the sender's pid from the kernel (SCM_CREDENTIALS, unix(7)), which is how systemd
 * attributes a message to the main process. Python's socket module has what Node lacks here.
 */
const RECEIVER = `
import json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"bound": path}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"pid": pid, "fields": data.decode("utf-8").split("\\n")}), flush=True)
`;

export interface NotifyMessage {
  pid: number | null;
  fields: string[];
}

/** A NOTIFY_SOCKET a test creates; `waitFor` waits on datagrams (events, not time). */
export class NotifyReceiver {
  readonly messages: NotifyMessage[] = [];
  readonly bound: Promise<void>;
  private readonly child: ChildProcess;
  private waiters: Array<{
    match: (m: NotifyMessage) => boolean;
    from: number;
    resolve: (m: NotifyMessage) => void;
  }> = [];
  private partial = '';
  private stderr = '';

  constructor(readonly path: string) {
    this.child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    let onBound!: () => void;
    this.bound = new Promise((resolve, reject) => {
      onBound = resolve;
      this.child.on('exit', (code) =>
        reject(new Error(`notify receiver exited (${code}): ${this.stderr}`)),
      );
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.partial += chunk;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = JSON.parse(this.partial.slice(0, nl)) as NotifyMessage & { bound?: string };
        this.partial = this.partial.slice(nl + 1);
        if (line.bound) onBound();
        else this.push(line);
      }
    });
  }

  private push(m: NotifyMessage): void {
    this.messages.push(m);
    const index = this.messages.length - 1;
    this.waiters = this.waiters.filter((w) =>
      index >= w.from && w.match(m) ? (w.resolve(m), false) : true,
    );
  }

  /** The first message at or after index `from` that has `field` (e.g. 'READY=1'), or whose fields satisfy `match`. */
  waitFor(match: string | ((m: NotifyMessage) => boolean), from = 0): Promise<NotifyMessage> {
    const fn = typeof match === 'string' ? (m: NotifyMessage) => m.fields.includes(match) : match;
    const seen = this.messages.slice(from).find(fn);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match: fn, from, resolve }));
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}
