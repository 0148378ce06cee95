/**
 * Finds the first byte that is not valid UTF-8 (RFC 3629 §4: no overlong forms, no surrogates,
 * nothing above U+10FFFF), so a config in another encoding is reported at its place instead of
 * being read with replacement characters.
 */
export interface Utf8Problem {
  /** 1-based line and column (in characters) of the bad byte. */
  line: number;
  col: number;
  byte: number;
}

/** Length of the sequence a lead byte starts, and the allowed range of its second byte. */
function sequence(lead: number): [number, number, number] | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return [2, 0x80, 0xbf];
  if (lead === 0xe0) return [3, 0xa0, 0xbf];
  if (lead === 0xed) return [3, 0x80, 0x9f];
  if (lead >= 0xe1 && lead <= 0xef) return [3, 0x80, 0xbf];
  if (lead === 0xf0) return [4, 0x90, 0xbf];
  if (lead === 0xf4) return [4, 0x80, 0x8f];
  if (lead >= 0xf1 && lead <= 0xf3) return [4, 0x80, 0xbf];
  return undefined;
}

/** Offset of the first invalid byte, or -1 when `bytes` is valid UTF-8. */
export function firstInvalidUtf8(bytes: ArrayLike<number>): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const seq = sequence(lead);
    if (!seq) return i;
    const [length, lo, hi] = seq;
    if (i + 1 >= bytes.length || bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k < length; k += 1)
      if (i + k >= bytes.length || (bytes[i + k] & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/** Where the first invalid byte sits, or undefined when the text is valid UTF-8. */
export function utf8Problem(bytes: Buffer): Utf8Problem | undefined {
  const at = firstInvalidUtf8(bytes);
  if (at < 0) return undefined;
  const before = bytes.subarray(0, at);
  const lineStart = before.lastIndexOf(0x0a) + 1;
  const line = before.toString('latin1').split('\n').length;
  const col = [...bytes.subarray(lineStart, at).toString('utf8')].length + 1;
  return { line, col, byte: bytes[at] };
}
