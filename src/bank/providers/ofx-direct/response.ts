import { AnswerShapeError } from '../../errors';
import type { OfxEnvelopePart, OfxStatus } from '../../formats';
import type { OfxStatusCode } from './status';

/**
 * The protocol envelope of an OFX response as the one OFX reader (src/bank/formats/ofx.ts) gives
 * it: the signon STATUS and each transaction wrapper (STMTTRNRS / CCSTMTTRNRS) with its TRNUID,
 * STATUS and the statement it carries. The statement content is read in the same pass, so a
 * bank's lines come out the same whether they arrive as a downloaded file or over Direct Connect.
 *
 * @link OFX 1.6 spec §2.4.5 (transaction wrappers), §3.1.5 (STATUS), §11.4.2.2 (STMTRS),
 *       §11.4.3.2 (CCSTMTRS); docs/FORMATS.md §OFX
 */

/** A STATUS as written, with its CODE checked to be a number. */
export function statusCode(status: OfxStatus | undefined): OfxStatusCode | undefined {
  if (!status) return undefined;
  const code = status.code;
  if (code === undefined || !/^\d+$/.test(code))
    throw new AnswerShapeError(`STATUS has no numeric CODE (${code || 'missing'})`);
  return { code: Number(code), severity: status.severity || 'ERROR', message: status.message };
}

/** The wrapper answering `trnUid`, or the only one when the bank did not echo it. */
export function answeringPart(
  parts: readonly OfxEnvelopePart[],
  trnUid: string,
): OfxEnvelopePart | undefined {
  return parts.find((p) => p.trnUid === trnUid) ?? (parts.length === 1 ? parts[0] : undefined);
}
