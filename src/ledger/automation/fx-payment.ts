import { proportion } from '../../shared/rate';
import type { InvoiceDoc, MoveDoc, PaymentDoc, StatementLineDoc } from '../model';
import type { BooksStore } from '../store';
import { checkAccountsExist, docsById } from './books';
import { companyPart } from './fx';
import { accountRoles, type AutomationOptions } from './options';
import type { ExchangeDifference } from './payments';

/**
 * Realised exchange differences (docs/CURRENCIES.md, "Paying a foreign invoice"). A bank line in
 * a foreign currency sits on suspense at the company-currency amount of its own date; the invoice
 * it pays sits on receivable (payable) at the amount of the invoice's date. The payment move
 * clears both at those amounts, and what they differ by is booked to the configured gain or loss
 * account on a line that is 0 in the foreign currency: the move balances in both currencies.
 *
 * Partial amounts are shares of the converted totals (`proportion`), taken so that consecutive
 * shares telescope: the payments of an invoice clear exactly its company-currency total (each
 * takes the paid share less what the invoice's payments have cleared so far), and the payments of
 * a line exactly the line's.
 */

type PaymentBatchDoc = { type: string; _id: string };

/** The company-currency total a foreign line's posting move put on suspense, or undefined. */
async function lineCompanyTotal(
  store: BooksStore,
  line: StatementLineDoc,
  company: string,
): Promise<number | undefined> {
  if (line.move === undefined) return undefined;
  const move = await store.get<MoveDoc>(line.move);
  const part = move?.lines.find((l) => l.company?.currency === company)?.company;
  return part ? part.debit + part.credit : undefined;
}

/**
 * What the active payments of each of `invoiceIds` have cleared of its receivable (payable) in
 * company currency so far: the company amounts of their moves' counterpart lines. A payment clears
 * the paid share of the invoice's company total minus this, so the invoice's last payment leaves
 * exactly 0 even after an undo of an earlier payment took back a share rounded the other way.
 */
async function invoicesCompanyCleared(
  store: BooksStore,
  invoiceIds: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const cleared = new Map<string, number>();
  if (invoiceIds.size === 0) return cleared;
  const payments = (await store.allOfType<PaymentDoc & { state?: string }>('payment')).filter(
    (p) => invoiceIds.has(p.invoice) && p.state !== 'cancelled',
  );
  const moves = await docsById<MoveDoc>(
    store,
    payments.map((p) => p.move),
  );
  for (const p of payments) {
    const part = moves.get(p.move)?.lines[1]?.company;
    if (part) cleared.set(p.invoice, (cleared.get(p.invoice) ?? 0) + part.debit + part.credit);
  }
  return cleared;
}

/**
 * Adds the company-currency side to the payment moves among `docs` (as `paymentWrites` built them
 * for `line`, with `open` minor units of the line in suspense before them), and an exchange
 * difference line where the two rates differ, noted on the `made` entry of its move for the log.
 * Does nothing for a line in company currency.
 */
export async function applyExchange(
  store: BooksStore,
  line: StatementLineDoc,
  open: number,
  docs: readonly PaymentBatchDoc[],
  opts: AutomationOptions,
  made: ReadonlyArray<{ move: string; exchange_difference?: ExchangeDifference }> = [],
): Promise<void> {
  const company = opts.company_currency;
  if (company === undefined || line.currency === company) return;
  const lineTotal = await lineCompanyTotal(store, line, company);
  if (lineTotal === undefined) return;
  const roles = accountRoles(opts);
  await checkAccountsExist(store, { fx_gain: roles.fx_gain, fx_loss: roles.fx_loss });
  const whole = Math.abs(line.amount);
  let paid = whole - open;
  const invoices = new Map(
    docs.filter((d) => d.type === 'invoice').map((d) => [d._id, d as InvoiceDoc]),
  );
  const invoiceOfMove = new Map(
    docs
      .filter((d) => d.type === 'payment')
      .map((d) => d as unknown as { move: string; invoice: string })
      .map((p) => [p.move, p.invoice]),
  );
  // Read once for the batch: the loop below writes nothing.
  const companyCleared = await invoicesCompanyCleared(
    store,
    new Set(
      [...invoices.values()].filter((i) => i.company?.currency === company).map((i) => i._id),
    ),
  );
  for (const doc of docs) {
    if (doc.type !== 'move') continue;
    const move = doc as MoveDoc & { payment?: string };
    const [suspense, counterpart, ...writeOffs] = move.lines;
    const amount = suspense.debit + suspense.credit;
    // With a write-off the counterpart clears more (or less) of the invoice than the line paid.
    const cleared = counterpart.debit + counterpart.credit;
    const lineShare =
      proportion(lineTotal, paid + amount, whole) - proportion(lineTotal, paid, whole);
    paid += amount;
    const invoice = invoices.get(invoiceOfMove.get(move._id) ?? '');
    const invoiceShare =
      invoice?.company && invoice.company.currency === company
        ? Math.max(
            0,
            proportion(invoice.company.total, invoice.total - invoice.residual, invoice.total) -
              (companyCleared.get(invoice._id) ?? 0),
          )
        : cleared === amount
          ? lineShare
          : proportion(lineTotal, cleared, whole);
    suspense.company = companyPart(company, lineShare, suspense.debit > 0);
    counterpart.company = companyPart(company, invoiceShare, counterpart.debit > 0);
    let net =
      (suspense.debit > 0 ? lineShare : -lineShare) +
      (counterpart.debit > 0 ? invoiceShare : -invoiceShare);
    // A write-off is valued at the line's rate, like the money it stands in for.
    for (const w of writeOffs) {
      const share = proportion(lineTotal, w.debit + w.credit, whole);
      w.company = companyPart(company, share, w.debit > 0);
      net += w.debit > 0 ? share : -share;
    }
    if (net === 0) continue;
    const entry = made.find((m) => m.move === move._id);
    if (entry)
      entry.exchange_difference = {
        account: net > 0 ? roles.fx_gain : roles.fx_loss,
        amount: net,
        currency: company,
      };
    move.lines.push({
      account: net > 0 ? roles.fx_gain : roles.fx_loss,
      ...(counterpart.partner ? { partner: counterpart.partner } : {}),
      label: `Exchange difference on ${move.ref ?? move._id}`,
      debit: 0,
      credit: 0,
      currency: line.currency,
      company: companyPart(company, Math.abs(net), net < 0),
    });
  }
}
