import { formatAmount } from '../../shared/money';
import type { MoveDoc, MoveLine, StatementLineDoc, TransferDoc, TransferLeg } from '../model';
import type { BooksStore } from '../store';
import { checkAccountsExist, docsById } from './books';
import { companyPart } from './fx';
import { transferDocId, transferMoveId } from './ids';
import { accountRoles, postState, type AutomationOptions, type ConnectionMapping } from './options';

/**
 * Booking a transfer between own accounts (README, "Transfers between own accounts";
 * docs/CURRENCIES.md, "Transfers between own accounts"). Each line sits on its connection's
 * suspense account after posting. The outgoing side's move, in its journal, clears that suspense
 * against the liquidity-transfer account; the incoming side's move, in its journal, clears its
 * suspense from the transfer account. Both moves, the `transfer` document and both lines
 * (`reconciled`) are one atomic write.
 *
 * In company currency the transfer account gets the outgoing leg's value on both sides, so it
 * nets to zero per transfer; each suspense account is cleared at the value its posting booked.
 * When the two values differ (another currency, or the same foreign currency on two dates), the
 * difference goes to fx_gain / fx_loss in the incoming move, as a realised exchange difference.
 */

/** The pair as matched: `from` is the outgoing line, `to` the incoming one. */
export interface TransferPair {
  from: StatementLineDoc;
  to: StatementLineDoc;
  /** Cross-currency: the rate the pair matched at, and its date. */
  rate?: { rate: string; date: string };
  rule: string;
  reason: string;
}

/** What a transfer booked, for the run's result and the `ledger.transfer` log line. */
export interface TransferMade {
  transfer: string;
  from: string;
  to: string;
  moves: [string, string];
  from_amount: number;
  from_currency: string;
  to_amount: number;
  to_currency: string;
  rate?: string;
  exchange_difference?: TransferDoc['exchange_difference'];
  rule: string;
  reason: string;
}

type TransferBatchDoc = MoveDoc | TransferDoc | StatementLineDoc;

/** The company-currency value the line's posting move put on suspense; undefined when it has none. */
function postedValue(
  line: StatementLineDoc,
  posting: MoveDoc | undefined,
  company: string | undefined,
): number | undefined {
  if (company === undefined) return undefined;
  if (line.currency === company) return Math.abs(line.amount);
  const part = posting?.lines.find((l) => l.company?.currency === company)?.company;
  return part ? part.debit + part.credit : undefined;
}

function side(
  account: string,
  label: string,
  amount: number,
  currency: string,
  debit: boolean,
): MoveLine {
  return {
    account,
    label,
    debit: debit ? amount : 0,
    credit: debit ? 0 : amount,
    currency,
  };
}

/**
 * The documents of one transfer: attempt `n` of the pair (earlier attempts were undone). Reads the
 * two posting moves for their company-currency values.
 */
export async function transferWrites(
  store: BooksStore,
  pair: TransferPair,
  mappings: { from: ConnectionMapping; to: ConnectionMapping },
  n: number,
  opts: AutomationOptions,
): Promise<{ docs: TransferBatchDoc[]; made: TransferMade }> {
  const { from, to } = pair;
  const roles = accountRoles(opts);
  const company = opts.company_currency;
  const postings = await docsById<MoveDoc>(store, [from.move!, to.move!]);
  const fromValue = postedValue(from, postings.get(from.move!), company);
  const toValue = postedValue(to, postings.get(to.move!), company);
  const valued = company !== undefined && fromValue !== undefined && toValue !== undefined;
  const id = transferDocId(from._id, to._id, n);
  const outId = transferMoveId(mappings.from.journal, 'out', from._id, to._id, n);
  const inId = transferMoveId(mappings.to.journal, 'in', from._id, to._id, n);
  const label = `Transfer ${from.connection} → ${to.connection}`;
  const outAmount = Math.abs(from.amount);
  const inAmount = to.amount;

  const outLines = [
    side(mappings.from.suspense_account, label, outAmount, from.currency, false),
    side(roles.transfer, label, outAmount, from.currency, true),
  ];
  if (valued && from.currency !== company) {
    outLines[0].company = companyPart(company, fromValue, false);
    outLines[1].company = companyPart(company, fromValue, true);
  }

  const inLines = [side(mappings.to.suspense_account, label, inAmount, to.currency, true)];
  let difference = 0;
  if (valued && to.currency === company) {
    // The transfer account takes the outgoing value; the difference is a company-currency line.
    inLines.push(side(roles.transfer, label, fromValue, to.currency, false));
    difference = toValue - fromValue;
  } else {
    inLines.push(side(roles.transfer, label, inAmount, to.currency, false));
    if (valued) {
      inLines[0].company = companyPart(company, toValue, true);
      inLines[1].company = companyPart(company, fromValue, false);
      difference = toValue - fromValue;
    }
  }
  let exchange: TransferDoc['exchange_difference'];
  if (difference !== 0 && company !== undefined) {
    const account = difference > 0 ? roles.fx_gain : roles.fx_loss;
    await checkAccountsExist(store, difference > 0 ? { fx_gain: account } : { fx_loss: account });
    const fx: MoveLine =
      to.currency === company
        ? side(
            account,
            `Exchange difference on ${label}`,
            Math.abs(difference),
            company,
            difference < 0,
          )
        : {
            ...side(account, `Exchange difference on ${label}`, 0, to.currency, false),
            company: companyPart(company, Math.abs(difference), difference < 0),
          };
    inLines.push(fx);
    exchange = { account, amount: difference, currency: company };
  }

  const move = (
    moveId: string,
    journal: string,
    line: StatementLineDoc,
    lines: MoveLine[],
  ): MoveDoc & { transfer: string } => ({
    _id: moveId,
    type: 'move',
    journal,
    date: line.date,
    ref: label,
    state: postState(opts),
    lines,
    transfer: id,
  });
  const leg = (line: StatementLineDoc, moveId: string, value?: number): TransferLeg => ({
    line: line._id,
    connection: line.connection,
    move: moveId,
    date: line.date,
    amount: Math.abs(line.amount),
    currency: line.currency,
    ...(valued && value !== undefined ? { company_amount: value } : {}),
  });
  const transfer: TransferDoc = {
    _id: id,
    type: 'transfer',
    state: 'posted',
    account: roles.transfer,
    from: leg(from, outId, fromValue),
    to: leg(to, inId, toValue),
    ...(pair.rate ? { rate: pair.rate.rate, rate_date: pair.rate.date } : {}),
    ...(exchange ? { exchange_difference: exchange } : {}),
    rule: pair.rule,
    reason: pair.reason,
  };
  const docs: TransferBatchDoc[] = [
    move(outId, mappings.from.journal, from, outLines),
    move(inId, mappings.to.journal, to, inLines),
    transfer,
    { ...from, state: 'reconciled' },
    { ...to, state: 'reconciled' },
  ];
  const made: TransferMade = {
    transfer: id,
    from: from._id,
    to: to._id,
    moves: [outId, inId],
    from_amount: outAmount,
    from_currency: from.currency,
    to_amount: inAmount,
    to_currency: to.currency,
    ...(pair.rate ? { rate: pair.rate.rate } : {}),
    ...(exchange ? { exchange_difference: exchange } : {}),
    rule: pair.rule,
    reason: pair.reason,
  };
  return { docs, made };
}

export function logTransfer(opts: AutomationOptions, m: TransferMade): void {
  const amounts =
    m.from_currency === m.to_currency
      ? `${formatAmount(m.from_amount, m.from_currency)} ${m.from_currency}`
      : `${formatAmount(m.from_amount, m.from_currency)} ${m.from_currency} → ${formatAmount(m.to_amount, m.to_currency)} ${m.to_currency} at ${m.rate ?? '?'}`;
  opts.logger?.info(`${m.from} → ${m.to}: transfer of ${amounts} (${m.rule}: ${m.reason})`, {
    event: 'ledger.transfer',
    transfer: m.transfer,
    from: m.from,
    to: m.to,
    moves: m.moves,
    from_amount: m.from_amount,
    from_currency: m.from_currency,
    to_amount: m.to_amount,
    to_currency: m.to_currency,
    ...(m.rate ? { rate: m.rate } : {}),
    ...(m.exchange_difference ? { exchange_difference: m.exchange_difference } : {}),
    rule: m.rule,
  });
}
