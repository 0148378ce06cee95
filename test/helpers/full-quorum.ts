/**
 * Writes that wait for every copy, on a 3-node CouchDB cluster (n=3). CouchDB answers a write once
 * a quorum of copies has it (2 of 3; there is no server setting for it, only the request's `w`),
 * and a read right after, through any node, may meet the third copy still without it
 * (docs.couchdb.org, "Theory: Quorum"). A test that syncs and then compares must not race that:
 * writes through a port marked here ask for all three copies (`w=3`). With a node down the answer
 * is 202 instead of 201, after every live copy has it.
 */
const ports = new Set<string>();

/** Writes through `port` (a cluster node, or a relay in front of one) wait for every copy. */
export function markFullQuorum(port: number): void {
  ports.add(String(port));
}

function writesAllCopies(req: Request): boolean {
  const url = new URL(req.url);
  if (!ports.has(url.port)) return false;
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST') return parts[parts.length - 1] === '_bulk_docs';
  // A document (not a database: PUT /db takes no `w`).
  return (req.method === 'PUT' || req.method === 'DELETE') && parts.length >= 2;
}

/** `fetch` that adds `w=3` to the writes through marked ports; any other request goes as it is. */
export const fullQuorumFetch: typeof fetch = async (input, init) => {
  const req = new Request(input, init);
  if (!writesAllCopies(req)) return fetch(req);
  const url = new URL(req.url);
  url.searchParams.set('w', '3');
  const body = req.body === null ? undefined : await req.arrayBuffer();
  return fetch(url, { method: req.method, headers: req.headers, body, signal: req.signal });
};

/** True when `url` (or any of a list) goes through a marked port. */
export function needsFullQuorum(url: string | readonly string[]): boolean {
  return (typeof url === 'string' ? [url] : url).some((u) => ports.has(new URL(u).port));
}
