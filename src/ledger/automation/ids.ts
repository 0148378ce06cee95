import { createHash } from 'node:crypto';
import { moveId, paymentId, transferId } from '../model';

/**
 * Deterministic ids of everything the automation writes. The same input always names the same
 * document, so a re-run, a crash between two writes, or two sites automating the same books land on
 * the same `_id`: a race becomes a PouchDB conflict (or a no-op), never a second posting.
 */

/** First 96 bits of sha256, hex: short, `:`-free keys; a collision needs ~2^48 documents. */
export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

/** The move that books statement line `lineId` in `journal`: `move:<journal>:stl:<hash>`. */
export function postingMoveId(journal: string, lineId: string): string {
  return moveId(journal, `stl:${shortHash(lineId)}`);
}

/** Key shared by the payment document and payment move of a (line, invoice) pair, attempt `n` ≥ 1. */
export function paymentKey(lineId: string, invoiceId: string, n: number): string {
  return `${shortHash(lineId)}-${shortHash(invoiceId)}-${n}`;
}

/** `payment:<line hash>-<invoice hash>-<n>`: all payments of one line share the prefix. */
export function paymentDocId(lineId: string, invoiceId: string, n: number): string {
  return paymentId(paymentKey(lineId, invoiceId, n));
}

/** The id prefix of every payment of `lineId` (an `allDocs` range start). */
export function linePaymentPrefix(lineId: string): string {
  return `payment:${shortHash(lineId)}-`;
}

/**
 * One side of a credit note applied to the invoice it credits (credit-notes.ts):
 * `payment:apply-<credit note hash>-<invoice hash>-<side>`, `side` being the document it clears.
 */
export function creditApplicationId(
  creditNoteId: string,
  invoiceId: string,
  side: 'invoice' | 'credit_note',
): string {
  return paymentId(`apply-${shortHash(creditNoteId)}-${shortHash(invoiceId)}-${side}`);
}

/** The move booking a payment: `move:<journal>:pay:<key>`. */
export function paymentMoveId(
  journal: string,
  lineId: string,
  invoiceId: string,
  n: number,
): string {
  return moveId(journal, `pay:${paymentKey(lineId, invoiceId, n)}`);
}

/**
 * The move clearing a bank line against a hand-made entry that duplicates it (suggest.ts):
 * `move:<journal>:dup:<key>`, the key shared with its payment document.
 */
export function duplicateMoveId(
  journal: string,
  lineId: string,
  entryId: string,
  n: number,
): string {
  return moveId(journal, `dup:${paymentKey(lineId, entryId, n)}`);
}

/** The reversal of a posted move made by an undo: `<original key>:rev` in the same journal. */
export function reversalKey(originalMoveId: string): string {
  const key = originalMoveId.slice(originalMoveId.indexOf(':', 'move:'.length) + 1);
  return `${key}:rev`;
}

/** The opening-balance move of a connection: `move:<journal>:opening:<connection>`. */
export function openingMoveId(journal: string, connection: string): string {
  return moveId(journal, `opening:${connection}`);
}

/** Key shared by a transfer and its two moves: outgoing line, incoming line, attempt `n` ≥ 1. */
export function transferKey(fromLineId: string, toLineId: string, n: number): string {
  return `${shortHash(fromLineId)}-${shortHash(toLineId)}-${n}`;
}

/** `transfer:<from hash>-<to hash>-<n>`. */
export function transferDocId(fromLineId: string, toLineId: string, n: number): string {
  return transferId(transferKey(fromLineId, toLineId, n));
}

/**
 * The move clearing one side of a transfer: `move:<journal>:xfer-out:<key>` (outgoing line) or
 * `xfer-in` (incoming); the sides differ so two connections sharing a journal never collide.
 */
export function transferMoveId(
  journal: string,
  side: 'out' | 'in',
  fromLineId: string,
  toLineId: string,
  n: number,
): string {
  return moveId(journal, `xfer-${side}:${transferKey(fromLineId, toLineId, n)}`);
}
