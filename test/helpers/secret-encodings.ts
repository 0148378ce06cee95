/** Every encoding a server that echoes a request can hand a secret back in. */
export function secretEncodings(secret: string, username = 'booksync'): Record<string, string> {
  const xmlNamed = (s: string) =>
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;');
  const xmlDecimal = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const xmlHex = (s: string) =>
    s.replace(/[&<>"']/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
  const jsonAscii = (s: string) =>
    JSON.stringify(s)
      .slice(1, -1)
      .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return {
    raw: secret,
    url: encodeURIComponent(secret),
    urlLowerHex: encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    form: new URLSearchParams({ x: secret }).toString().slice(2),
    json: JSON.stringify(secret).slice(1, -1),
    jsonAscii: jsonAscii(secret),
    jsonSlashes: JSON.stringify(secret).slice(1, -1).replace(/\//g, '\\/'),
    xmlNamed: xmlNamed(secret),
    xmlDecimal: xmlDecimal(secret),
    xmlHex: xmlHex(secret),
    xmlTwice: xmlNamed(xmlNamed(secret)),
    base64: Buffer.from(secret).toString('base64'),
    base64url: Buffer.from(secret).toString('base64url'),
    basicAuth: Buffer.from(`${username}:${secret}`).toString('base64'),
    urlOfJson: encodeURIComponent(JSON.stringify(secret).slice(1, -1)),
    xmlOfJson: xmlNamed(JSON.stringify(secret).slice(1, -1)),
    urlOfXml: encodeURIComponent(xmlNamed(secret)),
    base64OfJson: Buffer.from(JSON.stringify(secret).slice(1, -1)).toString('base64'),
  };
}
