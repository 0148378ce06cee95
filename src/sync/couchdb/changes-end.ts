import type { ChangesEnd } from '../remote-store';

/**
 * The members that close a CouchDB `_changes` answer, `"last_seq":…,"pending":N}`: after the
 * `results` array, so nothing inside a document can end the text. A seq is a JSON string (CouchDB
 * 2+) or integer; a long cluster seq still fits the tail read.
 * @link https://docs.couchdb.org/en/stable/api/database/changes.html
 */
const END = /"last_seq"\s*:\s*("(?:[^"\\]|\\.)*"|\d+)\s*,\s*"pending"\s*:\s*(\d+)\s*\}\s*$/;

/** Longest tail looked at: far more than a seq of a 64-shard database. */
const TAIL_CHARS = 16_384;

/**
 * The `last_seq` and `pending` of a `_changes` answer read from its last characters, without
 * decoding the rest; null when the answer does not end that way (the caller waits for the decode).
 */
export function changesEnd(text: string): ChangesEnd | null {
  const match = END.exec(text.length > TAIL_CHARS ? text.slice(-TAIL_CHARS) : text);
  if (!match) return null;
  return {
    lastSeq: JSON.parse(match[1]) as unknown,
    pending: Number(match[2]),
    bytes: text.length,
  };
}
