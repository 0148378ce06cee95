/** `auto`: gzip unless the server is on this machine; `gzip`: always; `none`: never. */
export type ResponseCompression = 'auto' | 'gzip' | 'none';

/**
 * The `Accept-Encoding` header for a cloud at `url`. Over a network, gzip shrinks `_changes`
 * answers about fivefold. On a loopback address (the embedded cloud, a local pouchdb-server) no
 * byte crosses a network, so compressing only burns CPU on the server, which is this machine, and
 * decompressing burns it here (BENCHMARKS.md, "Sync", has the measurements). Apache CouchDB
 * never compresses an answer itself, so the choice does not depend on the server's kind; a reverse
 * proxy in front of it may compress (docs/PROTOCOLS.md, "Response compression").
 * @link https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3
 */
export function acceptEncodingFor(
  url: string,
  compression: ResponseCompression = 'auto',
): 'gzip' | 'identity' {
  if (compression === 'none') return 'identity';
  if (compression === 'gzip') return 'gzip';
  return isLoopbackHost(new URL(url).hostname) ? 'identity' : 'gzip';
}

/** `localhost`, 127.0.0.0/8 and ::1 (as `URL#hostname` spells them, IPv6 in brackets). */
function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    h === '::1' ||
    /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(h)
  );
}
