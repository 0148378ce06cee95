import { isCalendarDate } from '../shared/dates';
import { isCurrency } from '../shared/money';
import { isRateText } from '../shared/rate';
import type { LedgerProblem } from './errors';
import {
  ACCOUNT_KINDS,
  AUDIT_TAKEN,
  BANK_CONNECTION_STATUSES,
  DOC_TYPES,
  ID_PREFIX,
  INVOICE_KINDS,
  INVOICE_STATES,
  JOURNAL_KINDS,
  MOVE_STATES,
  STATEMENT_LINE_STATES,
  TRANSFER_STATES,
  docType,
  isCreditNote,
  type DocType,
} from './model';
import { valueText } from '../shared/text';

/**
 * Runtime shape checks, one per document type. Each problem names the document id and the field,
 * so an admin reading a refused write (or a log line) knows what to fix. Only the listed fields
 * are checked; unknown fields pass through untouched.
 */

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** An ISO 8601 UTC instant as `Date#toISOString()` writes it (seconds required, `Z` zone). */
export function isIsoInstant(value: unknown): value is string {
  return typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
}

type Doc = Record<string, unknown>;

/**
 * Where a checked field sits: in the document itself, or in `obj` under the path `under` (such as
 * `lines[2]`). The field's full path is only spelled out for a problem: building it for every
 * valid field cost seven strings per move line, on every document a pull or an import checks.
 */
interface FieldOptions {
  required?: boolean;
  obj?: Doc;
  under?: string;
}

/** `lines[2]` + `account` → `lines[2].account`. */
function fieldPath(key: string, under: string | undefined): string {
  return under === undefined ? key : `${under}.${key}`;
}

/** Collects problems for one document. */
class Checker {
  readonly problems: LedgerProblem[] = [];
  constructor(
    readonly doc: Doc,
    readonly id: string,
  ) {}

  invalid(field: string | undefined, rule: string, what: string): void {
    const where = field ? ` field ${field}` : '';
    this.problems.push({
      doc_id: this.id,
      code: 'LEDGER_INVALID_DOC',
      rule,
      field,
      message: `${this.id}:${where} ${what}`,
    });
  }

  mismatch(field: string, what: string): void {
    this.problems.push({
      doc_id: this.id,
      code: 'LEDGER_ID_MISMATCH',
      rule: 'id_mismatch',
      field,
      message: `${this.id}: field ${field} ${what}`,
    });
  }

  /** Returns the value when present; records `required` when it is missing and `required` is true. */
  private present(key: string, opts: FieldOptions): unknown {
    const v = (opts.obj ?? this.doc)[key];
    if (v === undefined || v === null) {
      if (opts.required ?? true)
        this.invalid(fieldPath(key, opts.under), 'required', 'is required');
      return undefined;
    }
    return v;
  }

  private wrong(key: string, opts: FieldOptions, rule: string, what: string): undefined {
    this.invalid(fieldPath(key, opts.under), rule, what);
    return undefined;
  }

  string(key: string, opts: FieldOptions & { noColon?: boolean } = {}): string | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '')
      return this.wrong(key, opts, 'string', `must be a non-empty string (got ${show(v)})`);
    if (opts.noColon && v.includes(':'))
      this.wrong(key, opts, 'no_colon', `must not contain ':' (got ${show(v)})`);
    return v;
  }

  oneOf<T extends string>(
    key: string,
    allowed: readonly T[],
    opts: FieldOptions = {},
  ): T | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
      return this.wrong(
        key,
        opts,
        'enum',
        `must be one of ${allowed.join(' | ')} (got ${show(v)})`,
      );
    return v as T;
  }

  boolean(key: string, opts: FieldOptions = {}): boolean | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean')
      return this.wrong(key, opts, 'boolean', `must be true or false (got ${show(v)})`);
    return v;
  }

  /** A safe integer (money in minor units, counts). */
  integer(key: string, opts: FieldOptions & { min?: number } = {}): number | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      return this.wrong(
        key,
        opts,
        'integer',
        `must be an integer number of minor units (got ${show(v)})`,
      );
    if (opts.min !== undefined && v < opts.min)
      return this.wrong(key, opts, 'min', `must be ≥ ${opts.min} (got ${v})`);
    return v;
  }

  currency(key: string, opts: FieldOptions = {}): string | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !isCurrency(v))
      return this.wrong(
        key,
        opts,
        'currency',
        `must be an upper-case ISO 4217 currency code such as EUR (got ${show(v)})`,
      );
    return v;
  }

  date(key: string, opts: FieldOptions = {}): string | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (!isCalendarDate(v))
      return this.wrong(key, opts, 'date', `must be a calendar date YYYY-MM-DD (got ${show(v)})`);
    return v;
  }

  instant(key: string, opts: FieldOptions = {}): string | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (!isIsoInstant(v))
      return this.wrong(
        key,
        opts,
        'instant',
        `must be an ISO 8601 UTC time such as 2024-01-31T12:00:00.000Z (got ${show(v)})`,
      );
    return v;
  }

  object(key: string, opts: FieldOptions = {}): Doc | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (!isPlainObject(v))
      return this.wrong(key, opts, 'object', `must be an object (got ${show(v)})`);
    return v;
  }

  array(key: string, opts: { required?: boolean } = {}): unknown[] | undefined {
    const v = this.present(key, opts);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.wrong(key, {}, 'array', `must be a list (got ${show(v)})`);
    return v as unknown[];
  }

  /** The field must equal the part of the id it is encoded in (`account:<code>` → `code`). */
  idPart(field: string, value: string | undefined, expected: string | undefined): void {
    if (value === undefined || expected === undefined) return;
    if (value !== expected) this.mismatch(field, `is '${value}' but the id says '${expected}'`);
  }
}

function isPlainObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text === undefined ? valueText(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Splits `prefix:a:b...` into the parts after the prefix: the first `n - 1` parts and the rest. */
function idParts(id: string, n: number): string[] | undefined {
  const rest = id.slice(id.indexOf(':') + 1);
  const out: string[] = [];
  let s = rest;
  for (let i = 0; i < n - 1; i++) {
    const at = s.indexOf(':');
    if (at < 0) return undefined;
    out.push(s.slice(0, at));
    s = s.slice(at + 1);
  }
  out.push(s);
  return out.every((p) => p !== '') ? out : undefined;
}

/** The company-currency side of a move line (`lines[i].company`): one side non-zero, another currency. */
function checkCompanyPart(c: Checker, company: Doc, path: string, lineCurrency: unknown): void {
  const currency = c.currency('currency', { obj: company, under: path });
  const debit = c.integer('debit', { obj: company, under: path, min: 0 });
  const credit = c.integer('credit', { obj: company, under: path, min: 0 });
  // Both 0 is allowed: a tiny amount may convert to less than one company minor unit.
  if (debit !== undefined && credit !== undefined && debit !== 0 && credit !== 0)
    c.invalid(
      path,
      'one_side',
      `must not have both debit and credit non-zero (debit ${debit}, credit ${credit})`,
    );
  if (currency !== undefined && currency === lineCurrency)
    c.invalid(path, 'same_currency', `is in the line's own currency ${currency}; leave it out`);
  const rate = company.rate;
  if (rate !== undefined && (typeof rate !== 'string' || rate.trim() === ''))
    c.invalid(`${path}.rate`, 'string', `must be a non-empty string (got ${show(rate)})`);
}

const CHECKS: Record<DocType, (c: Checker, id: string) => void> = {
  account(c, id) {
    const code = c.string('code');
    c.idPart('code', code, idParts(id, 1)?.[0]);
    c.string('name');
    c.oneOf('kind', ACCOUNT_KINDS);
    c.boolean('reconcile', { required: false });
    c.currency('currency', { required: false });
  },

  journal(c, id) {
    const code = c.string('code', { noColon: true });
    c.idPart('code', code, idParts(id, 1)?.[0]);
    c.string('name');
    c.oneOf('kind', JOURNAL_KINDS);
    c.currency('currency');
    c.string('default_account');
    c.string('suspense_account', { required: false });
  },

  partner(c) {
    c.string('name');
    c.string('email', { required: false });
    c.string('vat', { required: false });
    c.string('internal_notes', { required: false });
    const banks = c.array('bank_accounts');
    banks?.forEach((b, i) => {
      const path = `bank_accounts[${i}]`;
      if (!isPlainObject(b))
        return c.invalid(path, 'object', `must be an object { iban, bic? } (got ${show(b)})`);
      // Optional: a sync rule may keep IBANs off a site (exclude `bank_accounts[].iban`).
      c.string('iban', { obj: b, under: path, required: false });
      c.string('bic', { obj: b, under: path, required: false });
    });
  },

  move(c, id) {
    const journal = c.string('journal', { noColon: true });
    c.idPart('journal', journal, idParts(id, 2)?.[0]);
    c.date('date');
    c.string('ref', { required: false });
    c.oneOf('state', MOVE_STATES);
    c.string('statement_line', { required: false });
    c.string('reverses', { required: false });
    c.instant('posted_at', { required: false });
    c.currency('currency', { required: false });
    const lines = c.array('lines');
    lines?.forEach((line, i) => {
      const path = `lines[${i}]`;
      if (!isPlainObject(line))
        return c.invalid(
          path,
          'object',
          `must be an object { account, debit, credit, currency } (got ${show(line)})`,
        );
      c.string('account', { obj: line, under: path });
      c.string('partner', { obj: line, under: path, required: false });
      c.string('label', { obj: line, under: path, required: false });
      c.currency('currency', { obj: line, under: path });
      const debit = c.integer('debit', { obj: line, under: path, min: 0 });
      const credit = c.integer('credit', { obj: line, under: path, min: 0 });
      const company = c.object('company', { obj: line, under: path, required: false });
      if (company) checkCompanyPart(c, company, `${path}.company`, line.currency);
      // A company-currency-only line (a realised exchange difference) is 0 in its own currency.
      const zeroAllowed =
        company !== undefined &&
        debit === 0 &&
        credit === 0 &&
        (company.debit !== 0 || company.credit !== 0);
      if (
        debit !== undefined &&
        credit !== undefined &&
        (debit === 0) === (credit === 0) &&
        !zeroAllowed
      ) {
        c.invalid(
          path,
          'one_side',
          `must have exactly one of debit and credit non-zero (debit ${debit}, credit ${credit})`,
        );
      }
    });
  },

  invoice(c, id) {
    const kind = c.oneOf('kind', INVOICE_KINDS);
    const num = c.string('number');
    c.idPart('number', num, idParts(id, 1)?.[0]);
    const credits = c.string('credits', { required: false });
    if (credits !== undefined) {
      if (kind !== undefined && !isCreditNote(kind))
        c.invalid(
          'credits',
          'credits_on_invoice',
          `only a credit note credits an invoice (kind ${kind})`,
        );
      else if (!credits.startsWith('invoice:') || credits === id)
        c.invalid(
          'credits',
          'credits_target',
          `must name another invoice as invoice:<number> (got ${credits})`,
        );
    }
    c.string('partner');
    const date = c.date('date');
    const due = c.date('due_date');
    if (date && due && due < date)
      c.invalid('due_date', 'due_before_date', `(${due}) must not be before date (${date})`);
    c.currency('currency');
    const total = c.integer('total', { min: 0 });
    const residual = c.integer('residual', { min: 0 });
    const state = c.oneOf('state', INVOICE_STATES);
    c.string('payment_reference', { required: false });
    const company = c.object('company', { required: false });
    if (company) {
      c.currency('currency', { obj: company, under: 'company' });
      c.integer('total', { obj: company, under: 'company', min: 0 });
      c.string('rate', { obj: company, under: 'company' });
    }
    if (total !== undefined && residual !== undefined) {
      if (residual > total)
        c.invalid(
          'residual',
          'residual_above_total',
          `(${residual}) must not exceed total (${total})`,
        );
      else if (state === 'paid' && residual !== 0)
        c.invalid('residual', 'paid_residual', `must be 0 on a paid invoice (got ${residual})`);
      else if (state === 'partial' && (residual === 0 || residual === total)) {
        c.invalid(
          'residual',
          'partial_residual',
          `must be between 0 and total (${total}) on a partially paid invoice (got ${residual})`,
        );
      }
    }
  },

  payment(c) {
    c.string('partner', { required: false });
    c.string('invoice');
    c.string('applied_with', { required: false });
    c.string('statement_line', { required: false });
    c.string('move');
    c.date('date');
    const amount = c.integer('amount');
    if (amount === 0) c.invalid('amount', 'non_zero', 'must not be 0');
    c.currency('currency');
  },

  statement_line(c, id) {
    const conn = c.string('connection', { noColon: true });
    c.idPart('connection', conn, idParts(id, 2)?.[0]);
    c.string('account_id');
    c.date('date');
    c.date('value_date', { required: false });
    c.integer('amount');
    c.currency('currency');
    for (const key of [
      'payee',
      'memo',
      'reference',
      'counterparty_iban',
      'counterparty_name',
      'counterparty_account',
      'additional_info',
      'return_reason',
      'provider_id',
      'move',
      'replaced_by',
    ]) {
      c.string(key, { required: false });
    }
    c.boolean('reversal', { required: false });
    c.string('dedup_key');
    c.boolean('pending');
    c.oneOf('state', STATEMENT_LINE_STATES);
    c.instant('imported_at');
  },

  bank_connection(c, id) {
    const name = c.string('name');
    c.idPart('name', name, idParts(id, 1)?.[0]);
    c.string('provider');
    c.string('institution');
    c.oneOf('status', BANK_CONNECTION_STATUSES);
    for (const key of ['last_refresh_at', 'last_success_at', 'next_run_at', 'consent_expires_at'])
      c.instant(key, { required: false });
    c.date('watermark', { required: false });
    const err = c.object('last_error', { required: false });
    if (err) {
      c.string('code', { obj: err, under: 'last_error' });
      c.string('message', { obj: err, under: 'last_error' });
    }
    const counts = c.object('counts');
    if (counts) {
      for (const key of ['fetched', 'new', 'duplicates', 'pending'])
        c.integer(key, { obj: counts, under: 'counts', min: 0 });
    }
    const balance = c.object('balance', { required: false });
    if (balance) {
      c.integer('amount', { obj: balance, under: 'balance' });
      c.currency('currency', { obj: balance, under: 'balance' });
      c.date('date', { obj: balance, under: 'balance' });
    }
  },

  rate(c, id) {
    const parts = idParts(id, 3);
    const base = c.currency('base');
    const quote = c.currency('quote');
    const date = c.date('date');
    c.idPart('base', base, parts?.[0]);
    c.idPart('quote', quote, parts?.[1]);
    c.idPart('date', date, parts?.[2]);
    if (base !== undefined && base === quote)
      c.invalid('quote', 'same_currency', `must differ from base (${base})`);
    const rate = c.string('rate');
    if (rate !== undefined && !isRateText(rate))
      c.invalid(
        'rate',
        'rate',
        `must be a positive decimal text such as "1.0853" (got ${show(rate)})`,
      );
    c.string('source');
  },

  transfer(c) {
    c.oneOf('state', TRANSFER_STATES);
    c.string('account');
    for (const leg of ['from', 'to']) {
      const o = c.object(leg);
      if (!o) continue;
      for (const key of ['line', 'connection', 'move']) c.string(key, { obj: o, under: leg });
      c.date('date', { obj: o, under: leg });
      c.integer('amount', { obj: o, under: leg, min: 1 });
      c.currency('currency', { obj: o, under: leg });
      c.integer('company_amount', { obj: o, under: leg, required: false });
    }
    c.string('rate', { required: false });
    c.date('rate_date', { required: false });
    c.string('rule');
    c.string('reason');
  },

  audit(c, id) {
    const target = c.string('doc_id');
    if (target !== undefined && !id.endsWith(`:${target}`))
      c.mismatch('doc_id', `is '${target}' but the id ${id} does not end with it`);
    c.string('strategy', { required: false });
    c.instant('resolved_at', { required: false });
    c.oneOf('taken', AUDIT_TAKEN, { required: false });
  },
};

/**
 * Every shape problem of `doc` (empty when it is well-formed): the id prefix agrees with `type`,
 * id parts agree with their fields, required fields are present with the right types, money is
 * integer minor units with an ISO 4217 currency, dates are calendar dates, instants are UTC.
 * Balance and immutability are the invariants' job (invariants.ts).
 */
export function docProblems(doc: unknown): LedgerProblem[] {
  if (!isPlainObject(doc)) {
    return [
      {
        doc_id: '(none)',
        code: 'LEDGER_INVALID_DOC',
        rule: 'object',
        message: `a document must be an object (got ${show(doc)})`,
      },
    ];
  }
  const id = typeof doc._id === 'string' ? doc._id : '';
  const c = new Checker(doc, id || '(no id)');
  if (id === '') {
    c.invalid('_id', 'required', 'is required (a string such as account:1010)');
    return c.problems;
  }
  const type = doc.type;
  if (typeof type !== 'string' || !(DOC_TYPES as readonly string[]).includes(type)) {
    c.invalid('type', 'enum', `must be one of ${DOC_TYPES.join(' | ')} (got ${show(type)})`);
    return c.problems;
  }
  const t = type as DocType;
  const fromId = docType(id);
  const partCount = t === 'move' || t === 'statement_line' ? 2 : t === 'rate' ? 3 : 1;
  if (fromId !== t || idParts(id, partCount) === undefined) {
    const shape =
      t === 'move'
        ? 'move:<journal>:<key>'
        : t === 'statement_line'
          ? 'stl:<connection>:<key>'
          : t === 'rate'
            ? 'rate:<base>:<quote>:<date>'
            : `${ID_PREFIX[t]}:<key>`;
    c.mismatch('_id', `does not match type '${t}' (expected ${shape})`);
    return c.problems;
  }
  c.instant('created_at', { required: false });
  c.instant('updated_at', { required: false });
  CHECKS[t](c, id);
  return c.problems;
}
