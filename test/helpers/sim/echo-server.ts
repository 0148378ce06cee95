import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Hostile servers on 127.0.0.1 that put what they receive into their error answers, each in the
 * shape its protocol uses for errors: a CouchDB `reason`, an OFX signon `MESSAGE` (SGML-escaped)
 * or a plain-text 500, a SimpleFIN error body, a GoCardless `{summary, detail}`. A leak test
 * points the daemon at them and greps everything it writes.
 */

export interface EchoedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface EchoAnswer {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/**
 * What a server that echoes says back: the request line, every header, the body, and the
 * forms a careless server re-encodes them in (percent-encoded, base64, the decoded Basic login).
 */
export function echoText(req: EchoedRequest): string {
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('; ');
  const basic = /^Basic\s+(\S+)/i.exec(String(req.headers.authorization ?? ''))?.[1];
  const login = basic ? `login=${Buffer.from(basic, 'base64').toString('utf8')} ` : '';
  // Credentials first: error answers are cut short on the way to a message, and a leak must not hide behind the cut.
  const body = req.body
    ? `body=${credentialsFirst(req.body)} urlencoded=${encodeURIComponent(req.body)} base64=${Buffer.from(req.body).toString('base64')} `
    : '';
  return `${login}${body}${req.method} ${req.url} ${headers}`;
}

/** An OFX request from its USERPASS on (the signon's credentials come after a long header). */
function credentialsFirst(body: string): string {
  const at = body.search(/<USERID>/);
  return at > 0 ? body.slice(at) : body;
}

export class EchoServer {
  readonly requests: EchoedRequest[] = [];
  private server?: http.Server;
  url = '';

  constructor(
    private readonly answer: (req: EchoedRequest, index: number, server: EchoServer) => EchoAnswer,
  ) {}

  async start(path = '/'): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const echoed = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        this.requests.push(echoed);
        const a = this.answer(echoed, this.requests.length - 1, this);
        res.writeHead(a.status, { 'content-type': a.contentType, ...(a.headers ?? {}) });
        res.end(a.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** CouchDB: `{ error, reason }`, first a 400, then 401s (the two ways the sync engine reports a cloud failure). */
export function couchEcho(req: EchoedRequest, index: number): EchoAnswer {
  return {
    status: index === 0 ? 400 : 401,
    contentType: 'application/json',
    body: JSON.stringify({
      error: index === 0 ? 'bad_request' : 'unauthorized',
      reason: echoText(req),
    }),
  };
}

const sgml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** OFX: a signon refusal (15500) whose MESSAGE is the echo, then a plain-text HTTP 500 echo, in turn. */
export function ofxEcho(req: EchoedRequest, index: number): EchoAnswer {
  const echo = echoText(req).replace(/[\r\n]+/g, ' ');
  if (index % 2 === 1)
    return { status: 500, contentType: 'text/plain', body: `Server error: ${echo}` };
  const head =
    'OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n';
  const body = `<OFX>\r\n<SIGNONMSGSRSV1>\r\n<SONRS>\r\n<STATUS>\r\n<CODE>15500\r\n<SEVERITY>ERROR\r\n<MESSAGE>${sgml(`Invalid login: ${echo}`)}\r\n</STATUS>\r\n<DTSERVER>20240401120000\r\n<LANGUAGE>ENG\r\n</SONRS>\r\n</SIGNONMSGSRSV1>\r\n</OFX>\r\n`;
  return { status: 200, contentType: 'application/x-ofx', body: head + body };
}

/** SimpleFIN: the claim hands out an access URL with `accessPassword`; every /accounts read answers 400 with the echo. */
export function simplefinEcho(accessPassword: string) {
  return (req: EchoedRequest, _index: number, server: EchoServer): EchoAnswer => {
    if (req.method === 'POST' && req.url.startsWith('/claim/')) {
      const base = new URL(server.url);
      return {
        status: 200,
        contentType: 'text/plain',
        body: `http://sfuser:${encodeURIComponent(accessPassword)}@${base.host}/simplefin`,
      };
    }
    return { status: 400, contentType: 'text/plain', body: `Bad request: ${echoText(req)}` };
  };
}

/** GoCardless: `{ summary, detail, status_code }` with the echo in `detail`. */
export function gocardlessEcho(req: EchoedRequest): EchoAnswer {
  return {
    status: 400,
    contentType: 'application/json',
    body: JSON.stringify({ summary: 'Invalid request', detail: echoText(req), status_code: 400 }),
  };
}

/** Enable Banking: `{ code, message, error }` with the echo (the signed token among it) in `message`. */
export function enablebankingEcho(req: EchoedRequest): EchoAnswer {
  return {
    status: 400,
    contentType: 'application/json',
    body: JSON.stringify({ code: 400, message: echoText(req), error: 'WRONG_REQUEST_PARAMETERS' }),
  };
}
