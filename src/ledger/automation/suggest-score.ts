import { daysBetween, type CalendarDate } from '../../shared/dates';
import { formatAmount } from '../../shared/money';
import type { PartnerDoc, StatementLineDoc } from '../model';
import {
  findStructuredReferences,
  mentionsInvoiceNumber,
  parseStructuredReference,
  withoutStructuredReferences,
} from './references';
import { linePartners, normalIban, normalName } from './rules';

/**
 * The evidence a suggestion is scored on (README, "Explained suggestions"). Each reason carries
 * the integer points it adds; a candidate's score is their sum, 0–100: amount up to 40, reference
 * up to 35, partner up to 15, date up to 10. Everything is integer arithmetic on minor units and
 * whole days, so the same books always give the same scores and order.
 */

export const AMOUNT_POINTS = { exact: 40, within: 25, differs: 0 } as const;
export const REFERENCE_POINTS = {
  structured: 35,
  invoice_number: 30,
  payment_reference: 25,
  /** Token similarity earns up to this, in proportion to the shared tokens. */
  tokens: 20,
} as const;
export const PARTNER_POINTS = { iban: 15, name: 10 } as const;
export const DATE_POINTS = 10;

export type Reason =
  | {
      kind: 'amount';
      match: 'exact' | 'within' | 'differs';
      /** Signed minor units: the candidate's open amount minus the line's (> 0: the line pays less). */
      difference: number;
      /** Minor units the difference had to be within (for `within`). */
      tolerance?: number;
      points: number;
      text: string;
    }
  | {
      kind: 'reference';
      match: 'structured' | 'invoice_number' | 'payment_reference' | 'tokens';
      /** The reference, number or shared tokens found. */
      value: string;
      /** Shared words in percent of the words of line and candidate together (for `tokens`). */
      similarity?: number;
      points: number;
      text: string;
    }
  | { kind: 'partner'; match: 'iban' | 'name'; partner: string; points: number; text: string }
  | {
      kind: 'date';
      /** Whole days the line's date lies outside [from, to] (0: inside). */
      days: number;
      from: CalendarDate;
      to: CalendarDate;
      points: number;
      text: string;
    };

/** Sum of the reasons' points, capped to 0–100. */
export function scoreOf(reasons: readonly Reason[]): number {
  return Math.max(
    0,
    Math.min(
      100,
      reasons.reduce((s, r) => s + r.points, 0),
    ),
  );
}

/** The candidate's open amount against the line's: exact, within `tolerance`, or differing. */
export function amountReason(
  open: number,
  candidate: number,
  currency: string,
  tolerance: number,
): Reason {
  const difference = candidate - open;
  const size = formatAmount(Math.abs(difference), currency);
  if (difference === 0)
    return {
      kind: 'amount',
      match: 'exact',
      difference,
      points: AMOUNT_POINTS.exact,
      text: `amount ${formatAmount(open, currency)} exact`,
    };
  const side = difference > 0 ? 'short' : 'over';
  if (Math.abs(difference) <= tolerance)
    return {
      kind: 'amount',
      match: 'within',
      difference,
      tolerance,
      points: AMOUNT_POINTS.within,
      text: `amount within ${formatAmount(tolerance, currency)} (${size} ${side})`,
    };
  return {
    kind: 'amount',
    match: 'differs',
    difference,
    points: AMOUNT_POINTS.differs,
    text: `amount differs by ${size} (${formatAmount(candidate, currency)} open, line ${formatAmount(open, currency)})`,
  };
}

/** Texts of a line a payer writes into; `bare`: a field holding a reference only. */
function lineTexts(line: StatementLineDoc): Array<{ text: string; bare: boolean }> {
  const out: Array<{ text: string; bare: boolean }> = [];
  if (line.reference) out.push({ text: line.reference, bare: true });
  for (const t of [line.memo, line.payee, line.counterparty_name, line.additional_info])
    if (t) out.push({ text: t, bare: false });
  return out;
}

/** The valid structured references of a line and its texts with them blanked out. */
export interface LineText {
  references: ReadonlySet<string>;
  plain: readonly string[];
  tokens: ReadonlySet<string>;
}

export function readLineText(line: StatementLineDoc): LineText {
  const texts = lineTexts(line);
  const references = new Set(
    texts
      .flatMap((t) => findStructuredReferences(t.text, { bareDigits: t.bare }))
      .filter((r) => r.valid)
      .map((r) => r.canonical),
  );
  const plain = texts.map((t) => withoutStructuredReferences(t.text, { bareDigits: t.bare }));
  return { references, plain, tokens: new Set(plain.flatMap(tokensOf)) };
}

/** Words of a text compared loosely (normalName), of three characters or more: "1" or "of" prove nothing. */
export function tokensOf(text: string | undefined): string[] {
  return normalName(text)
    .split(' ')
    .filter((t) => t.length >= 3);
}

/**
 * How a line's texts name a candidate: its structured reference (check digits verified), its
 * number, its free-text payment reference, or failing those the words both share (their share
 * of all the words of both). Undefined when nothing is shared.
 */
export function referenceReason(
  text: LineText,
  candidate: { number?: string; payment_reference?: string; words: readonly string[] },
): Reason | undefined {
  const stored = candidate.payment_reference
    ? parseStructuredReference(candidate.payment_reference)
    : undefined;
  if (stored?.valid && text.references.has(stored.canonical))
    return {
      kind: 'reference',
      match: 'structured',
      value: stored.canonical,
      points: REFERENCE_POINTS.structured,
      text: `structured reference ${stored.canonical}`,
    };
  const number = candidate.number;
  if (number && text.plain.some((t) => mentionsInvoiceNumber(t, number)))
    return {
      kind: 'reference',
      match: 'invoice_number',
      value: number,
      points: REFERENCE_POINTS.invoice_number,
      text: `invoice number ${number} in the memo`,
    };
  const ref = candidate.payment_reference;
  if (ref && !stored && text.plain.some((t) => mentionsInvoiceNumber(t, ref)))
    return {
      kind: 'reference',
      match: 'payment_reference',
      value: ref,
      points: REFERENCE_POINTS.payment_reference,
      text: `payment reference ${ref} in the memo`,
    };
  const wanted = new Set(candidate.words.flatMap(tokensOf));
  const shared = [...wanted].filter((w) => text.tokens.has(w));
  if (shared.length === 0) return undefined;
  // Shared words over all words of both (Jaccard), so a long memo naming one word is not 100%.
  const all = new Set([...wanted, ...text.tokens]).size;
  const similarity = Math.floor((100 * shared.length) / all);
  return {
    kind: 'reference',
    match: 'tokens',
    value: shared.join(' '),
    similarity,
    points: Math.floor((REFERENCE_POINTS.tokens * shared.length) / all),
    text: `words in common: ${shared.join(', ')} (${similarity}% similar)`,
  };
}

/** The partner the line comes from, by counterparty IBAN or else by name (rules.ts linePartners). */
export function partnerReason(
  line: StatementLineDoc,
  partners: ReadonlyMap<string, PartnerDoc>,
  partner: string | undefined,
): Reason | undefined {
  if (!partner || !linePartners(line, partners).includes(partner)) return undefined;
  const iban = normalIban(line.counterparty_iban);
  const doc = partners.get(partner);
  const byIban = iban !== '' && !!doc?.bank_accounts.some((b) => normalIban(b.iban) === iban);
  return byIban
    ? {
        kind: 'partner',
        match: 'iban',
        partner,
        points: PARTNER_POINTS.iban,
        text: `partner ${doc?.name ?? partner} by IBAN`,
      }
    : {
        kind: 'partner',
        match: 'name',
        partner,
        points: PARTNER_POINTS.name,
        text: `partner ${doc?.name ?? partner} by name`,
      };
}

/**
 * The line's date against the candidate's dates (an invoice's date to its due date; an entry's
 * one date): full points inside, one point less per day outside.
 */
export function dateReason(date: CalendarDate, from: CalendarDate, to: CalendarDate): Reason {
  const days = date < from ? daysBetween(date, from) : date > to ? daysBetween(to, date) : 0;
  const what =
    from === to
      ? days === 0
        ? `same date ${from}`
        : `${days} day(s) from ${from}`
      : days === 0
        ? `dated between ${from} and the due date ${to}`
        : date < from
          ? `${days} day(s) before the invoice date ${from}`
          : `${days} day(s) after the due date ${to}`;
  return {
    kind: 'date',
    days,
    from,
    to,
    points: Math.max(0, DATE_POINTS - days),
    text: what,
  };
}
