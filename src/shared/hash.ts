import * as crypto from 'node:crypto';

/**
 * SHA-256 of a text: the one-shot `crypto.hash` where Node has it (20.12+), faster than a Hash
 * object (BENCHMARKS.md, Sync) for the ~1 KB texts the sync engine and the bank import hash per document.
 */
export const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer')
    : (text) => crypto.createHash('sha256').update(text).digest();

/** SHA-256 of a text, as 64 hex characters. */
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');
