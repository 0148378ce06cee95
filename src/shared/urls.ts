/**
 * URL facts every part needs the same way: whether a host is this machine, and a URL without its
 * credentials (for messages and logs, and for requests, where the credentials travel in a header).
 */

/**
 * True for this machine's loopback addresses, as `URL#hostname` spells them: `localhost`, any
 * address of 127.0.0.0/8 (also in its IPv4-mapped IPv6 form, `[::ffff:7f00:1]`) and `[::1]`
 * (RFC 6890 §2.2.2 and §2.2.3). Plain http is allowed only to these (simulators and local bridges
 * in tests), and a cloud here gets no compression. Names under `.localhost` are not included: the
 * system resolver may send them to DNS.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255);
  // The URL parser writes ::ffff:127.x.y.z as ::ffff:7fxx:yyzz.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
}

/** {@link isLoopbackHost} of a URL; false for text that is not a URL. */
export function isLoopbackUrl(url: URL | string): boolean {
  try {
    return isLoopbackHost(new URL(String(url)).hostname);
  } catch {
    return false;
  }
}

/** https, or plain http to a loopback address (simulators and local bridges in tests). */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** The user name and password a URL carried, percent-decoded (RFC 3986 §3.2.1). */
export interface UrlCredentials {
  username: string;
  password: string;
}

/**
 * Splits `https://user:pass@host/path` into a copy of the URL without userinfo and the
 * credentials it held (none when it held neither a user name nor a password).
 */
export function splitUrlCredentials(url: URL | string): {
  url: URL;
  credentials?: UrlCredentials;
} {
  const u = new URL(String(url));
  if (!u.username && !u.password) return { url: u };
  const credentials = {
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
  u.username = '';
  u.password = '';
  return { url: u, credentials };
}

/**
 * `url` without user name and password, safe for messages and logs: unchanged when it has none;
 * text that is not a URL loses anything between `//` and `@`.
 */
export function stripUrlCredentials(url: string): string {
  try {
    const { url: bare, credentials } = splitUrlCredentials(url);
    return credentials ? bare.toString() : url;
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
