import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A simulator of the ECB's euro foreign exchange reference rates on 127.0.0.1, written from the
 * published format (https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml): a
 * `gesmes:Envelope` with the ECB's two namespaces, a subject and sender, and one `Cube` holding a
 * `Cube time='YYYY-MM-DD'` per day with a `Cube currency='USD' rate='1.0830'/>` per currency, in
 * the single quotes and tab indentation the ECB writes. It serves the daily file and the 90-day
 * history at their ECB paths, and can answer with an error status, a cut body, or hang.
 */

export type EcbDays = Record<string, Record<string, string>>;

export type EcbMode = 'ok' | 'status500' | 'truncated' | 'hang';

export function ecbXml(days: EcbDays): string {
  const cubes = Object.keys(days)
    .sort()
    .reverse()
    .map((time) => {
      const rates = Object.entries(days[time])
        .map(([currency, rate]) => `\t\t\t<Cube currency='${currency}' rate='${rate}'/>`)
        .join('\n');
      return `\t\t<Cube time='${time}'>\n${rates}\n\t\t</Cube>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
${cubes}
\t</Cube>
</gesmes:Envelope>`;
}

export class EcbServer {
  /** Days published, newest served first; the daily file holds only the newest. */
  days: EcbDays = {};
  mode: EcbMode = 'ok';
  requests = 0;
  private server?: http.Server;
  private readonly hung: http.ServerResponse[] = [];
  url = '';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.requests += 1;
      const path = (req.url ?? '').split('?')[0];
      const newest = Object.keys(this.days).sort().pop();
      const body =
        path === '/stats/eurofxref/eurofxref-daily.xml'
          ? ecbXml(newest ? { [newest]: this.days[newest] } : {})
          : path === '/stats/eurofxref/eurofxref-hist-90d.xml'
            ? ecbXml(this.days)
            : undefined;
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not found</html>');
        return;
      }
      if (this.mode === 'hang') {
        this.hung.push(res);
        return;
      }
      if (this.mode === 'status500') {
        res.writeHead(500, { 'content-type': 'text/html' }).end('<html>Internal error</html>');
        return;
      }
      const text = this.mode === 'truncated' ? body.slice(0, Math.floor(body.length * 0.6)) : body;
      res.writeHead(200, { 'content-type': 'text/xml' }).end(text);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/stats/eurofxref/eurofxref-daily.xml`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
