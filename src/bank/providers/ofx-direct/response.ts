import { child, children, leaf, type OfxDocument, type OfxElement } from './sgml';
import type { OfxStatus } from './status';

/**
 * The protocol envelope of an OFX response: the signon STATUS and each transaction wrapper
 * (STMTTRNRS / CCSTMTTRNRS) with its TRNUID, STATUS and whether it carries a statement. The
 * statement content itself is read by the drop folder's OFX parser, so a bank's lines come out
 * the same whether they arrive as a downloaded file or over Direct Connect.
 *
 * @link OFX 1.6 spec §2.4.5 (transaction wrappers), §3.1.5 (STATUS), §11.4.2.2 (STMTRS),
 *       §11.4.3.2 (CCSTMTRS)
 */

/** A line or field the reader cannot use; the caller turns it into a MalformedStatementError. */
export class OfxContentError extends Error {}

/** One `*TRNRS` wrapper of the response. */
export interface OfxStatementPart {
  kind: 'bank' | 'creditcard';
  trnUid?: string;
  status?: OfxStatus;
  /** STMTRS or CCSTMTRS; absent when the status failed or the bank had nothing to say. */
  body?: OfxElement;
}

export function readStatus(wrapper: OfxElement | undefined): OfxStatus | undefined {
  const status = child(wrapper, 'STATUS');
  if (!status) return undefined;
  const code = leaf(status, 'CODE');
  if (code === undefined || !/^\d+$/.test(code)) throw new OfxContentError(`STATUS has no numeric CODE (${code ?? 'missing'})`);
  return { code: Number(code), severity: leaf(status, 'SEVERITY') ?? 'ERROR', message: leaf(status, 'MESSAGE') };
}

export function signonStatus(doc: OfxDocument): OfxStatus | undefined {
  return readStatus(child(doc.root, 'SIGNONMSGSRSV1/SONRS'));
}

export function statementParts(doc: OfxDocument): OfxStatementPart[] {
  const parts: OfxStatementPart[] = [];
  for (const set of children(doc.root, 'BANKMSGSRSV1')) {
    for (const trn of children(set, 'STMTTRNRS')) {
      parts.push({ kind: 'bank', trnUid: leaf(trn, 'TRNUID'), status: readStatus(trn), body: child(trn, 'STMTRS') });
    }
  }
  for (const set of children(doc.root, 'CREDITCARDMSGSRSV1')) {
    for (const trn of children(set, 'CCSTMTTRNRS')) {
      parts.push({ kind: 'creditcard', trnUid: leaf(trn, 'TRNUID'), status: readStatus(trn), body: child(trn, 'CCSTMTRS') });
    }
  }
  return parts;
}
