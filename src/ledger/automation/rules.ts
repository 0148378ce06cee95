import { addDays, daysBetween } from '../../shared/dates';
import { formatAmount } from '../../shared/money';
import { MAX_TRANSFER_TOLERANCE_PERCENT, percentDigits } from '../../shared/rate';
import type { InvoiceDoc, PartnerDoc, StatementLineDoc } from '../model';
import { AutomationError } from './errors';
import {
  findStructuredReferences,
  mentionsInvoiceNumber,
  parseStructuredReference,
  withoutStructuredReferences,
} from './references';
import { lineTolerance, type CompanyRate } from './tolerance';

/**
 * Reconciliation rules (`ledger.reconcile.rules`): named values picked by `kind` from YAML, tried
 * in order; the first that matches clears the line. A rule only proposes: the caller books the
 * payment. Every rule sees the open invoices of the line's direction (money in: sales invoices,
 * money out: bills) and currency, so a rule never pays a bill with incoming money.
 */

/** What a rule sees for one statement line. */
export interface MatchContext {
  line: StatementLineDoc;
  /** Minor units of the line still in suspense (> 0). */
  open: number;
  /** Open invoices or bills of the line's direction and currency, oldest due date first. */
  candidates: readonly InvoiceDoc[];
  /** Every partner of the books, by id. */
  partners: ReadonlyMap<string, PartnerDoc>;
  /** For a line in another currency than the company's: the company rate of the line's date. */
  company?: CompanyRate;
}

/** A rule's answer: the invoices to pay, in order (the line's money is allocated in this order). */
export interface RuleMatch {
  invoices: InvoiceDoc[];
  /** Why, for people: `reference RF18539007547034`, `amount 121.00 and partner partner:acme` ... */
  reason: string;
  /** The difference to book to an account so that the one invoice is fully paid (README, "Write-offs"). */
  write_off?: WriteOff;
}

/** A near match's difference booked to a named account (bank fees, small discounts, rounding). */
export interface WriteOff {
  /** Account code. */
  account: string;
  /**
   * Signed minor units of the line's currency: the invoice's residual minus what the line pays,
   * so > 0 for a short payment (a fee), < 0 for an overpayment.
   */
  amount: number;
}

export interface CompiledRule {
  kind: string;
  /** The rule as configured, e.g. `amount_window(tolerance 0.50, days 5)`. */
  label: string;
  /** The account the rule books differences to, and where the rule is configured. */
  write_off?: { account: string; where: string };
  /** A `transfer` rule pairs two lines instead (transfer-match.ts); its `match` never matches. */
  transfer?: TransferSettings;
  match(ctx: MatchContext): RuleMatch | undefined;
}

/** A rule kind: validates its YAML settings and builds the matcher. */
export interface RuleKind {
  kind: string;
  description: string;
  /** `where` names the rule in errors (`ledger.reconcile.rules[2]`). */
  compile(spec: Record<string, unknown>, where: string): CompiledRule;
}

export type RuleSpec =
  | { kind: 'reference' }
  | { kind: 'amount_partner' }
  | { kind: 'amount_window'; tolerance?: string; days: number; write_off?: string }
  | { kind: 'transfer'; days: number; tolerance?: string };

/** A `transfer` rule's settings (README, "Transfers between own accounts"). */
export interface TransferSettings {
  /** Largest date difference between the outgoing and the incoming line. */
  days: number;
  /** Cross-currency only: largest difference from the converted amount, percent text ("1.5"). */
  tolerance_percent: string;
  /** Where the rule is configured (`ledger.reconcile.rules[3]`). */
  where: string;
}

function invalid(where: string, what: string): never {
  throw new AutomationError('LEDGER_RULE_INVALID', `${where}: ${what}`, { details: { where } });
}

function noExtraKeys(spec: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(spec).filter((k) => k !== 'kind' && !allowed.includes(k));
  if (extra.length > 0)
    invalid(
      where,
      `unknown setting(s) ${extra.join(', ')} for kind ${String(spec.kind)}${allowed.length ? ` (known: ${allowed.join(', ')})` : ' (it takes none)'}`,
    );
}

/** Texts of a line a payer writes into. */
function lineTexts(line: StatementLineDoc): Array<{ text: string; bare: boolean }> {
  const out: Array<{ text: string; bare: boolean }> = [];
  if (line.reference) out.push({ text: line.reference, bare: true });
  for (const t of [line.memo, line.payee, line.counterparty_name])
    if (t) out.push({ text: t, bare: false });
  return out;
}

/** `reference`: a valid structured reference equal to an invoice's, or the invoice number in the text. */
export const referenceRule: RuleKind = {
  kind: 'reference',
  description:
    'a structured reference (ISO 11649 RF, Belgian +++…+++, check digits verified) or the invoice number in the memo, payee or reference',
  compile(spec, where) {
    noExtraKeys(spec, [], where);
    return {
      kind: 'reference',
      label: 'reference',
      match(ctx) {
        const texts = lineTexts(ctx.line);
        const refs = new Set(
          texts
            .flatMap((t) => findStructuredReferences(t.text, { bareDigits: t.bare }))
            .filter((r) => r.valid)
            .map((r) => r.canonical),
        );
        const plain = texts.map((t) => withoutStructuredReferences(t.text, { bareDigits: t.bare }));
        const hits: InvoiceDoc[] = [];
        const why: string[] = [];
        for (const inv of ctx.candidates) {
          const stored = inv.payment_reference
            ? parseStructuredReference(inv.payment_reference)
            : undefined;
          if (stored?.valid && refs.has(stored.canonical)) {
            hits.push(inv);
            why.push(`reference ${stored.canonical}`);
          } else if (plain.some((t) => mentionsInvoiceNumber(t, inv.number))) {
            hits.push(inv);
            why.push(`invoice number ${inv.number}`);
          } else if (
            inv.payment_reference &&
            !stored &&
            plain.some((t) => mentionsInvoiceNumber(t, inv.payment_reference!))
          ) {
            hits.push(inv);
            why.push(`payment reference ${inv.payment_reference}`);
          }
        }
        return hits.length > 0 ? { invoices: hits, reason: why.join(', ') } : undefined;
      },
    };
  },
};

/** IBAN without spaces, upper case. */
export function normalIban(iban: string | undefined): string {
  return (iban ?? '').replace(/\s+/g, '').toUpperCase();
}

/** A name compared loosely: lower case, letters and digits only, single spaces. */
export function normalName(name: string | undefined): string {
  return (name ?? '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^0-9a-z]+/g, ' ')
    .trim();
}

/** Partners a line comes from or goes to: by counterparty IBAN, else by counterparty or payee name. */
export function linePartners(
  line: StatementLineDoc,
  partners: ReadonlyMap<string, PartnerDoc>,
): string[] {
  const iban = normalIban(line.counterparty_iban);
  if (iban) {
    const byIban = [...partners.values()]
      .filter((p) => p.bank_accounts.some((b) => normalIban(b.iban) === iban))
      .map((p) => p._id);
    if (byIban.length > 0) return byIban;
  }
  const names = new Set(
    [normalName(line.counterparty_name), normalName(line.payee)].filter((n) => n !== ''),
  );
  return [...partners.values()].filter((p) => names.has(normalName(p.name))).map((p) => p._id);
}

/** `amount_partner`: the exact open amount of an invoice of the partner the line is from. */
export const amountPartnerRule: RuleKind = {
  kind: 'amount_partner',
  description:
    'the exact open amount of an invoice or bill of the partner recognised by counterparty IBAN (or name)',
  compile(spec, where) {
    noExtraKeys(spec, [], where);
    return {
      kind: 'amount_partner',
      label: 'amount_partner',
      match(ctx) {
        const partners = new Set(linePartners(ctx.line, ctx.partners));
        if (partners.size === 0) return undefined;
        const hits = ctx.candidates.filter(
          (inv) => partners.has(inv.partner) && inv.residual === ctx.open,
        );
        // Several partners share the name or IBAN and each has such an invoice: do not guess.
        if (hits.length === 0 || new Set(hits.map((h) => h.partner)).size > 1) return undefined;
        // The same partner has several invoices of that amount: the oldest due is paid first.
        return {
          invoices: [hits[0]],
          reason: `amount ${formatAmount(ctx.open, ctx.line.currency)} and partner ${hits[0].partner}`,
        };
      },
    };
  },
};

/** `write_off`: an account code, and only with a tolerance that lets a difference through. */
function writeOffSetting(
  spec: Record<string, unknown>,
  tolerance: string,
  where: string,
): string | undefined {
  const account = spec.write_off;
  if (account === undefined) return undefined;
  if (typeof account !== 'string' || account.trim() === '')
    invalid(
      where,
      `write_off must be an account code such as "6270" (got ${JSON.stringify(account)})`,
    );
  if (!/[1-9]/.test(tolerance))
    invalid(where, `write_off ${account} needs a tolerance above 0 (a difference to write off)`);
  return account;
}

/**
 * `amount_window`: the open amount within a tolerance, dated within days of the invoice's dates.
 * With `write_off` the difference is booked to that account and the invoice is paid in full; such
 * a rule only matches when exactly one invoice is within the tolerance and the window: booking a
 * fee on a guess would hide the mistake.
 */
export const amountWindowRule: RuleKind = {
  kind: 'amount_window',
  description:
    'an open amount within `tolerance` ("0.50", in company currency) of the line, the line dated from `days` before the invoice date to `days` after its due date; `write_off` books the difference to an account',
  compile(spec, where) {
    noExtraKeys(spec, ['tolerance', 'days', 'write_off'], where);
    const tolerance = spec.tolerance ?? '0';
    if (typeof tolerance !== 'string' || !/^\d+(\.\d+)?$/.test(tolerance)) {
      invalid(
        where,
        `tolerance must be quoted decimal text such as "0.50" (got ${JSON.stringify(tolerance)})`,
      );
    }
    const days = spec.days;
    if (typeof days !== 'number' || !Number.isSafeInteger(days) || days < 0 || days > 366) {
      invalid(where, `days must be a whole number from 0 to 366 (got ${JSON.stringify(days)})`);
    }
    const tol = tolerance;
    const window = days;
    const writeOff = writeOffSetting(spec, tol, where);
    return {
      kind: 'amount_window',
      label: `amount_window(tolerance ${tol}, days ${window}${writeOff ? `, write_off ${writeOff}` : ''})`,
      ...(writeOff ? { write_off: { account: writeOff, where } } : {}),
      match(ctx) {
        const maxDiff = lineTolerance(tol, ctx.line.currency, ctx.company);
        const scored = ctx.candidates
          .filter((inv) => Math.abs(inv.residual - ctx.open) <= maxDiff)
          .filter(
            (inv) =>
              ctx.line.date >= addDays(inv.date, -window) &&
              ctx.line.date <= addDays(inv.due_date, window),
          )
          .map((inv) => ({
            inv,
            diff: Math.abs(inv.residual - ctx.open),
            days: Math.abs(daysBetween(inv.due_date, ctx.line.date)),
          }))
          .sort((a, b) => a.diff - b.diff || a.days - b.days);
        if (scored.length === 0 || (writeOff && scored.length > 1)) return undefined;
        // Two invoices equally close in amount and date: do not guess.
        if (
          scored.length > 1 &&
          scored[1].diff === scored[0].diff &&
          scored[1].days === scored[0].days
        )
          return undefined;
        const best = scored[0];
        const difference = best.inv.residual - ctx.open;
        return {
          invoices: [best.inv],
          reason: `amount within ${tol} (${formatAmount(best.diff, ctx.line.currency)} off), ${best.days} day(s) from the due date`,
          ...(writeOff && difference !== 0
            ? { write_off: { account: writeOff, amount: difference } }
            : {}),
        };
      },
    };
  },
};

/**
 * `transfer`: an outgoing line on one own connection and an incoming one on another, within
 * `days`, equal in amount (cross-currency: within `tolerance` percent of the converted amount).
 * It pairs lines rather than paying invoices, so the reconciliation run handles it
 * (transfer-match.ts); `match` proposes no invoice.
 */
export const transferRule: RuleKind = {
  kind: 'transfer',
  description:
    "an outgoing line on one own connection and an incoming line of the same amount on another within `days` (other currency: converted at the day's rate, within `tolerance` percent) become one transfer through the liquidity-transfer account",
  compile(spec, where) {
    noExtraKeys(spec, ['days', 'tolerance'], where);
    const days = spec.days;
    if (typeof days !== 'number' || !Number.isSafeInteger(days) || days < 0 || days > 366)
      invalid(where, `days must be a whole number from 0 to 366 (got ${JSON.stringify(days)})`);
    const tolerance = spec.tolerance ?? '0%';
    const percent = percentDigits(tolerance);
    if (percent === null || Number(percent) > MAX_TRANSFER_TOLERANCE_PERCENT)
      invalid(
        where,
        `tolerance must be quoted percent text from "0%" to "${MAX_TRANSFER_TOLERANCE_PERCENT}%", such as "1.5%" (got ${JSON.stringify(tolerance)})`,
      );
    const settings: TransferSettings = { days, tolerance_percent: percent, where };
    return {
      kind: 'transfer',
      label: `transfer(days ${days}${percent !== '0' ? `, tolerance ${percent}%` : ''})`,
      transfer: settings,
      match: () => undefined,
    };
  },
};

/** The registry: every rule kind by name (keys equal the config's RECONCILE_RULE_KINDS). */
export const RULE_KINDS: Readonly<Record<RuleSpec['kind'], RuleKind>> = Object.freeze({
  reference: referenceRule,
  amount_partner: amountPartnerRule,
  amount_window: amountWindowRule,
  transfer: transferRule,
});

/** The rule kind called `kind`; an unknown name throws `LEDGER_RULE_UNKNOWN` listing the known ones. */
export function ruleKind(kind: string, where = 'rule'): RuleKind {
  const found = Object.prototype.hasOwnProperty.call(RULE_KINDS, kind)
    ? RULE_KINDS[kind as RuleSpec['kind']]
    : undefined;
  if (!found) {
    throw new AutomationError(
      'LEDGER_RULE_UNKNOWN',
      `${where}: unknown reconciliation rule kind '${kind}' (known: ${Object.keys(RULE_KINDS).join(', ')})`,
      {
        details: { where, kind, known: Object.keys(RULE_KINDS) },
      },
    );
  }
  return found;
}

/** Validates and builds one rule; `where` names it in errors. */
export function compileRule(spec: RuleSpec | Record<string, unknown>, where: string): CompiledRule {
  if (
    typeof spec !== 'object' ||
    spec === null ||
    typeof (spec as { kind?: unknown }).kind !== 'string'
  ) {
    invalid(
      where,
      `a rule is an object with a kind (known: ${Object.keys(RULE_KINDS).join(', ')})`,
    );
  }
  const s = spec as Record<string, unknown>;
  return ruleKind(s.kind as string, where).compile(s, where);
}

/** Validates and builds the rules in their configured order. */
export function compileRules(
  specs: ReadonlyArray<RuleSpec | Record<string, unknown>>,
  path = 'ledger.reconcile.rules',
): CompiledRule[] {
  const compiled = specs.map((spec, i) => compileRule(spec, `${path}[${i}]`));
  checkOneTransferRule(compiled);
  return compiled;
}

/** Two transfer rules would pair the same lines twice over; one is allowed. */
export function checkOneTransferRule(rules: readonly CompiledRule[]): void {
  const transfers = rules.filter((r) => r.transfer);
  if (transfers.length > 1)
    invalid(
      transfers[1].transfer!.where,
      `only one transfer rule is allowed (the first is ${transfers[0].transfer!.where})`,
    );
}
