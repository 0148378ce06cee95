import { addDays, daysBetween } from '../../shared/dates';
import { formatAmount } from '../../shared/money';
import { parseRate } from '../../shared/rate';
import type { StatementLineDoc, TransferDoc } from '../model';
import type { BooksStore } from '../store';
import { checkAccountsExist } from './books';
import { RateMissingError } from './errors';
import { RateBook } from './fx';
import { accountRoles } from './options';
import { mappingFor, type ReconcileOptions } from './payments';
import { normalIban, type CompiledRule, type MatchContext, type TransferSettings } from './rules';
import { logTransfer, transferWrites, type TransferMade } from './transfer-book';

/**
 * Pairing the two lines of a transfer between own accounts (README, "Transfers between own
 * accounts"). A line's partner is a line of another mapped connection, of the other direction,
 * dated within `days`, whose amount equals the line's (another currency: the outgoing amount
 * converted at the rate of the outgoing line's date, within `tolerance` percent). Candidates are
 * ranked by date distance, then amount difference; a pair is made only when each line is the
 * other's single best candidate. Two equally good candidates are not guessed at: the lines stay in
 * suspense and `ledger.transfer_ambiguous` says why. A missing rate leaves them waiting the same
 * way (`ledger.rate_missing`), and the run after the rate arrives makes the transfer.
 *
 * A line whose counterparty IBAN is the account of another own connection is a transfer to or
 * from that connection: only lines of that connection are its candidates, and the run tries it
 * before any invoice rule (`ownCounterparty`).
 */

/** A candidate partner, ranked. */
interface Scored {
  line: StatementLineDoc;
  days: number;
  /** Minor units of the incoming currency between the converted and the incoming amount. */
  diff: number;
  rate?: { rate: string; date: string };
}

type Candidates = { scored: Scored[] } | { missing: RateMissingError };

/** Whether a line may be a transfer partner right now (no rule before `transfer` claims it). */
export type PartnerCheck = (line: StatementLineDoc) => boolean;

export class TransferMatcher {
  private readonly settings: TransferSettings;
  private readonly label: string;
  private readonly rates: RateBook;
  /** Own accounts (normalised IBAN / account id) → the connections reporting them. */
  private readonly own = new Map<string, Set<string>>();
  private readonly taken = new Set<string>();
  private readonly reported = new Set<string>();
  readonly made: TransferMade[] = [];

  /** Lines of the pool by date, for the date window. */
  private readonly byDate: readonly StatementLineDoc[];
  private readonly inPool: ReadonlySet<string>;

  /**
   * `pool`: the posted lines nothing has cleared yet (no active payment or transfer), of the
   * mapped connections; `own`: every line of the mapped connections, whose `account_id` names
   * the company's own accounts; `transfers`: every transfer document, to count attempts.
   */
  constructor(
    private readonly store: BooksStore,
    rule: CompiledRule,
    pool: readonly StatementLineDoc[],
    own: readonly StatementLineDoc[],
    private readonly transfers: TransferDoc[],
    private readonly opts: ReconcileOptions,
  ) {
    this.settings = rule.transfer!;
    this.label = rule.label;
    this.rates = new RateBook(store);
    this.byDate = [...pool].sort((a, b) => a.date.localeCompare(b.date));
    this.inPool = new Set(pool.map((l) => l._id));
    for (const l of own) {
      const account = normalIban(l.account_id);
      if (account !== '')
        this.own.set(account, (this.own.get(account) ?? new Set()).add(l.connection));
    }
  }

  /**
   * The other own connection whose account the line's counterparty IBAN names, if any. An account
   * two connections report (sub-accounts of one IBAN in two currencies) names neither.
   */
  ownCounterparty(line: StatementLineDoc): string | undefined {
    const conns = this.own.get(normalIban(line.counterparty_iban));
    if (conns?.size !== 1) return undefined;
    const [conn] = conns;
    return conn !== line.connection ? conn : undefined;
  }

  isTaken(lineId: string): boolean {
    return this.taken.has(lineId);
  }

  /** First pass of a run: the lines naming another own account as counterparty pair first. */
  async pairOwnAccountLines(lines: readonly StatementLineDoc[]): Promise<void> {
    for (const line of lines) if (this.ownCounterparty(line)) await this.tryLine(line, () => true);
  }

  /** The line was cleared otherwise in this run (an invoice rule paid it). */
  take(lineId: string): void {
    this.taken.add(lineId);
  }

  /**
   * Pairs `line` with its partner and books the transfer, when the pair is unambiguous. Returns
   * true when booked. `partnerFree` tells whether a candidate is free for a transfer.
   */
  async tryLine(line: StatementLineDoc, partnerFree: PartnerCheck): Promise<boolean> {
    if (this.taken.has(line._id) || !this.inPool.has(line._id)) return false;
    const mine = await this.candidates(line, partnerFree);
    if ('missing' in mine) return this.waitForRate(line, mine.missing);
    const best = this.unique(line, mine.scored);
    if (!best) return false;
    const theirs = await this.candidates(best.line, (l) => l._id === line._id || partnerFree(l));
    if ('missing' in theirs) return this.waitForRate(best.line, theirs.missing);
    const back = this.unique(best.line, theirs.scored);
    if (back?.line._id !== line._id) return false;
    await this.book(line, best);
    return true;
  }

  /** The best candidate when it is better than the second; logs an ambiguity. */
  private unique(line: StatementLineDoc, scored: Scored[]): Scored | undefined {
    if (scored.length === 0) return undefined;
    const [first, second] = scored;
    if (second && second.days === first.days && second.diff === first.diff) {
      const tied = scored.filter((s) => s.days === first.days && s.diff === first.diff);
      const key = [line._id, ...tied.map((s) => s.line._id)].sort().join(' ');
      if (!this.reported.has(key)) {
        this.reported.add(key);
        this.opts.logger?.info(
          `${line._id}: ${tied.length} lines are equally good transfer partners (${tied.map((s) => s.line._id).join(', ')}); not guessing, all stay in suspense`,
          {
            event: 'ledger.transfer_ambiguous',
            line: line._id,
            candidates: tied.map((s) => s.line._id),
            days: first.days,
          },
        );
      }
      return undefined;
    }
    return first;
  }

  private waitForRate(line: StatementLineDoc, err: RateMissingError): false {
    const key = `rate ${line._id}`;
    if (!this.reported.has(key)) {
      this.reported.add(key);
      this.opts.logger?.warn(
        `${line._id}: ${err.message}; a possible transfer waits in suspense for it`,
        {
          event: 'ledger.rate_missing',
          code: err.code,
          line: line._id,
          from: err.from,
          to: err.to,
          date: err.date,
        },
      );
    }
    return false;
  }

  private async candidates(line: StatementLineDoc, partnerFree: PartnerCheck): Promise<Candidates> {
    const scored: Scored[] = [];
    const target = this.ownCounterparty(line);
    for (const other of this.window(line.date)) {
      if (!this.fits(line, other, target) || !partnerFree(other)) continue;
      const [from, to] = line.amount < 0 ? [line, other] : [other, line];
      try {
        const s = await this.compare(from, to);
        if (s)
          scored.push({ ...s, line: other, days: Math.abs(daysBetween(line.date, other.date)) });
      } catch (err) {
        if (err instanceof RateMissingError) return { missing: err };
        throw err;
      }
    }
    scored.sort((a, b) => a.days - b.days || a.diff - b.diff || (a.line._id < b.line._id ? -1 : 1));
    return { scored };
  }

  /** The pool's lines dated within `days` of `date`. */
  private window(date: string): StatementLineDoc[] {
    const first = addDays(date, -this.settings.days);
    const last = addDays(date, this.settings.days);
    let lo = 0;
    let hi = this.byDate.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.byDate[mid].date < first) lo = mid + 1;
      else hi = mid;
    }
    const out: StatementLineDoc[] = [];
    for (let i = lo; i < this.byDate.length && this.byDate[i].date <= last; i++)
      out.push(this.byDate[i]);
    return out;
  }

  /** Direction, connection, date window and own-IBAN hints; amounts are `compare`'s. */
  private fits(line: StatementLineDoc, other: StatementLineDoc, target?: string): boolean {
    if (other._id === line._id || this.taken.has(other._id)) return false;
    if (other.connection === line.connection || Math.sign(other.amount) === Math.sign(line.amount))
      return false;
    if (target !== undefined && other.connection !== target) return false;
    const back = this.ownCounterparty(other);
    if (back !== undefined && back !== line.connection) return false;
    return Math.abs(daysBetween(line.date, other.date)) <= this.settings.days;
  }

  /** Same currency: equal amounts. Otherwise the outgoing amount at its date's rate, within tolerance. */
  private async compare(
    from: StatementLineDoc,
    to: StatementLineDoc,
  ): Promise<Omit<Scored, 'line' | 'days'> | undefined> {
    const sent = Math.abs(from.amount);
    if (from.currency === to.currency) return sent === to.amount ? { diff: 0 } : undefined;
    const converted = await this.rates.convert(sent, from.currency, to.currency, from.date);
    const diff = Math.abs(converted.amount - to.amount);
    if (!withinPercent(diff, converted.amount, this.settings.tolerance_percent)) return undefined;
    return { diff, rate: { rate: converted.rate, date: from.date } };
  }

  private async book(line: StatementLineDoc, partner: Scored): Promise<void> {
    const [from, to] = line.amount < 0 ? [line, partner.line] : [partner.line, line];
    const n =
      this.transfers.filter((t) => t.from.line === from._id && t.to.line === to._id).length + 1;
    const reason =
      from.currency === to.currency
        ? `${formatAmount(to.amount, to.currency)} ${to.currency} out of ${from.connection} and into ${to.connection}, ${partner.days} day(s) apart`
        : `${formatAmount(Math.abs(from.amount), from.currency)} ${from.currency} at ${partner.rate!.rate} is ${formatAmount(to.amount, to.currency)} ${to.currency} within ${this.settings.tolerance_percent}% (${formatAmount(partner.diff, to.currency)} off), ${partner.days} day(s) apart`;
    const { docs, made } = await transferWrites(
      this.store,
      { from, to, ...(partner.rate ? { rate: partner.rate } : {}), rule: this.label, reason },
      { from: mappingFor(this.opts, from.connection)!, to: mappingFor(this.opts, to.connection)! },
      n,
      this.opts,
    );
    await this.store.putMany(docs);
    for (const d of docs) if (d.type === 'transfer') this.transfers.push(d);
    this.taken.add(from._id);
    this.taken.add(to._id);
    this.made.push(made);
    logTransfer(this.opts, made);
  }
}

/**
 * The run's matcher when `rules` has a transfer rule: over `lines` (posted, of mapped
 * connections) that nothing has cleared yet; `own` are all lines of the mapped connections (their
 * accounts). Throws `LEDGER_MAPPING_INVALID` when the transfer account is not in the books: a
 * configuration mistake, found before any line is touched.
 */
export async function transferMatcher(
  store: BooksStore,
  rules: readonly CompiledRule[],
  lines: readonly StatementLineDoc[],
  own: readonly StatementLineDoc[],
  paymentsOf: (line: StatementLineDoc) => ReadonlyArray<{ state?: string }>,
  opts: ReconcileOptions,
): Promise<TransferMatcher | undefined> {
  const rule = rules.find((r) => r.transfer);
  if (!rule) return undefined;
  await checkAccountsExist(store, { transfer: accountRoles(opts).transfer });
  const transfers = await store.allOfType<TransferDoc>('transfer');
  const active = activeTransferLines(transfers);
  const pool = lines.filter(
    (l) => !active.has(l._id) && paymentsOf(l).every((p) => p.state === 'cancelled'),
  );
  return new TransferMatcher(store, rule, pool, own, transfers, opts);
}

/**
 * A line is free to be a transfer partner unless a rule listed before `transfer` matches it now
 * (the rule order of README, "Transfers between own accounts").
 */
export function freeOfEarlierRules(
  rules: readonly CompiledRule[],
  contextOf: (line: StatementLineDoc) => MatchContext,
): PartnerCheck {
  const at = rules.findIndex((r) => r.transfer);
  const before = at < 0 ? [] : rules.slice(0, at);
  return (line) => {
    if (before.length === 0) return true;
    const ctx = contextOf(line);
    return ctx.candidates.length === 0 || !before.some((r) => r.match(ctx) !== undefined);
  };
}

/** Statement line id → its active (not undone) transfer. */
export function activeTransferLines(transfers: readonly TransferDoc[]): Map<string, TransferDoc> {
  const out = new Map<string, TransferDoc>();
  for (const t of transfers)
    if (t.state !== 'cancelled') {
      out.set(t.from.line, t);
      out.set(t.to.line, t);
    }
  return out;
}

/** `diff ≤ percent% × base` exactly, in integers; `percent` is decimal text ("1.5"). */
export function withinPercent(diff: number, base: number, percent: string): boolean {
  if (diff === 0) return true;
  // parseRate reads exact positive decimals; a 0% tolerance lets only equal amounts through.
  if (/^0+(\.0+)?$/.test(percent)) return false;
  const r = parseRate(percent);
  return BigInt(diff) * 100n * r.den <= r.num * BigInt(Math.abs(base));
}
