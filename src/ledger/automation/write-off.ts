import { formatAmount } from '../../shared/money';
import { accountId, type InvoiceDoc, type MoveDoc } from '../model';
import type { BooksStore } from '../store';
import { docsById } from './books';
import { AutomationError } from './errors';
import type { CompiledRule, WriteOff } from './rules';

/**
 * Write-offs (README, "Write-offs"): a rule with `write_off` pays a near match in full. The
 * payment move clears suspense by what the line paid and the receivable (payable) by the whole
 * residual; the difference goes to the write-off account on the side that balances the move:
 * with the suspense side for a short payment (a fee or discount), with the counterpart side for
 * an overpayment. The payment records the write-off, which is how undo restores the residual.
 */

type PaymentBatchDoc = { type: string; _id: string };

/** What a payment as booked knows of its write-off (kept on the payment document for the audit trail). */
export interface WriteOffMade extends WriteOff {
  currency: string;
}

/**
 * Throws `LEDGER_RULE_INVALID` naming the rule when a rule's write-off account is not in the
 * books: a configuration mistake, found before any line is touched.
 */
export async function checkWriteOffAccounts(
  store: BooksStore,
  rules: readonly CompiledRule[],
): Promise<void> {
  const wanted = rules.flatMap((r) => (r.write_off ? [r.write_off] : []));
  if (wanted.length === 0) return;
  const found = await docsById(
    store,
    wanted.map((w) => accountId(w.account)),
  );
  for (const { account, where } of wanted) {
    if (!found.has(accountId(account))) {
      throw new AutomationError(
        'LEDGER_RULE_INVALID',
        `${where}: write_off account ${account} does not exist in the books (add it to the chart, or name another account)`,
        { details: { where, account } },
      );
    }
  }
}

/**
 * Turns the single payment `paymentWrites` built into one that pays the invoice in full: the
 * suspense line clears `open` (all the line has left), the counterpart the invoice's residual, and
 * a third line books `writeOff.amount` to its account. Mutates `docs` and the `made` entry.
 */
export function applyWriteOff<M extends { payment: string; amount: number }>(
  docs: readonly PaymentBatchDoc[],
  made: M[],
  open: number,
  writeOff: WriteOff,
): void {
  const move = docs.find((d) => d.type === 'move') as MoveDoc | undefined;
  const payment = docs.find((d) => d.type === 'payment') as
    (PaymentBatchDoc & { amount: number; currency: string; write_off?: WriteOffMade }) | undefined;
  const invoice = docs.find((d) => d.type === 'invoice') as InvoiceDoc | undefined;
  const entry = made.find((m) => m.payment === payment?._id);
  if (!move || !payment || !invoice || !entry || move.lines.length !== 2) return;
  const [suspense, counterpart] = move.lines;
  const cleared = counterpart.debit + counterpart.credit;
  // The whole residual before this payment: what the counterpart cleared plus what is still owed.
  const residual = cleared + invoice.residual;
  if (residual - open !== writeOff.amount) return;
  const incoming = suspense.debit > 0;
  suspense.debit = incoming ? open : 0;
  suspense.credit = incoming ? 0 : open;
  counterpart.debit = incoming ? 0 : residual;
  counterpart.credit = incoming ? residual : 0;
  // Short: the fee sits with suspense (debit for money in); over: with the counterpart.
  const withSuspense = writeOff.amount > 0;
  const debit = withSuspense === incoming;
  const size = Math.abs(writeOff.amount);
  move.lines.push({
    account: writeOff.account,
    ...(counterpart.partner ? { partner: counterpart.partner } : {}),
    label: `Write-off of ${formatAmount(size, suspense.currency)} on ${move.ref ?? move._id}`,
    debit: debit ? size : 0,
    credit: debit ? 0 : size,
    currency: suspense.currency,
  });
  payment.amount = open;
  payment.write_off = { ...writeOff, currency: payment.currency };
  Object.assign(invoice, { residual: 0, state: 'paid' });
  Object.assign(entry, {
    amount: open,
    residual: 0,
    invoice_state: 'paid',
    write_off: payment.write_off,
  });
}
