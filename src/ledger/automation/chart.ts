import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { Locator, type PathSegment } from '../../shared/yaml-locate';
import { isCalendarDate } from '../../shared/dates';
import { currencyCode, parseAmount } from '../../shared/money';
import {
  ACCOUNT_KINDS,
  INVOICE_KINDS,
  JOURNAL_KINDS,
  accountId,
  invoiceId,
  isCreditNote,
  isCustomerKind,
  journalId,
  moveId,
  partnerId,
  type AccountDoc,
  type AccountKind,
  type BooksDoc,
  type InvoiceDoc,
  type InvoiceKind,
  type JournalDoc,
  type JournalKind,
  type MoveDoc,
  type MoveLine,
  type PartnerDoc,
} from '../model';
import type { Logger } from '../../shared/logger';
import type { BooksStore } from '../store';
import { docsById } from './books';
import { applyCreditNotes, checkCreditedInvoices, readCredits } from './credit-notes';
import { AutomationError, RateMissingError } from './errors';
import { companyPart, RateBook } from './fx';
import { serialized, type AccountRoles } from './options';

/**
 * The chart of accounts and journals a company starts with, and the demo company's partners,
 * invoices and bills (config/demo-company.yaml). Loading is idempotent and never overwrites: a
 * document that exists already (an admin renamed an account, another site created it) is kept as
 * it is.
 */

export interface ChartAccount {
  code: string;
  name: string;
  kind: AccountKind;
  reconcile?: boolean;
  currency?: string;
}

export interface ChartJournal {
  code: string;
  name: string;
  kind: JournalKind;
  currency: string;
  default_account: string;
  suspense_account?: string;
}

export interface Chart {
  accounts: ChartAccount[];
  journals: ChartJournal[];
}

export interface CompanyRoles extends Omit<AccountRoles, 'fx_gain' | 'fx_loss' | 'transfer'> {
  fx_gain?: string;
  fx_loss?: string;
  transfer?: string;
  income: string;
  expense: string;
  sale_journal: string;
  purchase_journal: string;
}

/** A company file, read and checked: documents ready to write. */
export interface CompanyData {
  company: { name: string; currency: string };
  roles: CompanyRoles;
  chart: Chart;
  partners: PartnerDoc[];
  invoices: InvoiceDoc[];
}

export interface EnsureResult {
  /** Ids written by this call. */
  created: string[];
  /** Ids that existed already and were left as they are. */
  kept: string[];
  /** Invoices not created yet because their exchange rate is missing. */
  waiting?: Array<{ id: string; code: string; message: string }>;
}

/** The shipped demo company file (config/demo-company.yaml), found from the source or the build. */
export function demoCompanyFile(): string {
  const candidates = [
    path.resolve(__dirname, '../../../config/demo-company.yaml'),
    path.resolve(__dirname, '../../../../config/demo-company.yaml'),
  ];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** Reads and checks a company file (YAML or JSON). Throws `LEDGER_CHART_INVALID` naming the field. */
export function loadCompanyFile(file: string): CompanyData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AutomationError(
      'LEDGER_CHART_INVALID',
      `cannot read the company file ${file}: ${(err as Error).message}`,
      { cause: err, details: { file } },
    );
  }
  return parseCompany(text, file);
}

type Obj = Record<string, unknown>;

/** `invoices[3].credits` → ['invoices', 3, 'credits']: the key path of a field name in errors. */
function keyPath(where: string): PathSegment[] {
  return [...where.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] !== undefined ? Number(m[2]) : m[1],
  );
}

/** Typed field readers over the parsed file; each failure names the file, line, column and field. */
export class CompanyFields {
  constructor(
    private readonly source: string,
    private readonly locator?: Locator,
  ) {}

  fail(where: string, what: string): never {
    const at = this.locator?.value(keyPath(where));
    const place = at ? `${this.source}:${at.line}:${at.col}` : this.source;
    throw new AutomationError('LEDGER_CHART_INVALID', `${place}: ${where} ${what}`, {
      details: { file: this.source, field: where, ...(at ? { line: at.line, col: at.col } : {}) },
    });
  }

  obj(v: unknown, where: string): Obj {
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Obj)
      : this.fail(where, 'must be a mapping');
  }

  list(v: unknown, where: string): unknown[] {
    return v === undefined || v === null
      ? []
      : Array.isArray(v)
        ? v
        : this.fail(where, 'must be a list');
  }

  str(o: Obj, key: string, where: string, required = true): string | undefined {
    const v = o[key];
    if (v === undefined || v === null)
      return required ? this.fail(`${where}.${key}`, 'is required') : undefined;
    // Codes written unquoted (1010) arrive as numbers; they are names.
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    if (typeof v !== 'string' || v.trim() === '')
      return this.fail(`${where}.${key}`, `must be text (got ${JSON.stringify(v)})`);
    return v.trim();
  }

  oneOf<T extends string>(o: Obj, key: string, allowed: readonly T[], where: string): T {
    const v = this.str(o, key, where)!;
    return (allowed as readonly string[]).includes(v)
      ? (v as T)
      : this.fail(`${where}.${key}`, `must be one of ${allowed.join(' | ')} (got ${v})`);
  }

  currency(o: Obj, key: string, where: string, required = true): string | undefined {
    const v = this.str(o, key, where, required);
    if (v === undefined) return undefined;
    try {
      return currencyCode(v);
    } catch {
      return this.fail(`${where}.${key}`, `must be an ISO 4217 currency code (got ${v})`);
    }
  }
}

/** Checks that `code` is an account of the file; returns it. */
type KnownAccount = (code: string, where: string) => string;

function readRoles(f: CompanyFields, root: Obj): CompanyRoles {
  const rolesRaw = f.obj(root.roles, 'roles');
  const roles: CompanyRoles = {
    receivable: f.str(rolesRaw, 'receivable', 'roles')!,
    payable: f.str(rolesRaw, 'payable', 'roles')!,
    opening_balance: f.str(rolesRaw, 'opening_balance', 'roles')!,
    income: f.str(rolesRaw, 'income', 'roles')!,
    expense: f.str(rolesRaw, 'expense', 'roles')!,
    sale_journal: f.str(rolesRaw, 'sale_journal', 'roles')!,
    purchase_journal: f.str(rolesRaw, 'purchase_journal', 'roles')!,
  };
  for (const key of ['fx_gain', 'fx_loss', 'transfer'] as const) {
    const code = f.str(rolesRaw, key, 'roles', false);
    if (code !== undefined) roles[key] = code;
  }
  return roles;
}

function readAccounts(f: CompanyFields, root: Obj): ChartAccount[] {
  return f.list(root.accounts, 'accounts').map((a, i) => {
    const where = `accounts[${i}]`;
    const o = f.obj(a, where);
    const acc: ChartAccount = {
      code: f.str(o, 'code', where)!,
      name: f.str(o, 'name', where)!,
      kind: f.oneOf(o, 'kind', ACCOUNT_KINDS, where),
    };
    if (o.reconcile !== undefined)
      acc.reconcile =
        o.reconcile === true
          ? true
          : o.reconcile === false
            ? false
            : f.fail(`${where}.reconcile`, 'must be true or false');
    const cur = f.currency(o, 'currency', where, false);
    if (cur) acc.currency = cur;
    return acc;
  });
}

function readJournals(
  f: CompanyFields,
  root: Obj,
  companyCurrency: string,
  knownAccount: KnownAccount,
): ChartJournal[] {
  return f.list(root.journals, 'journals').map((j, i) => {
    const where = `journals[${i}]`;
    const o = f.obj(j, where);
    const code = f.str(o, 'code', where)!;
    if (code.includes(':')) f.fail(`${where}.code`, "must not contain ':'");
    const jr: ChartJournal = {
      code,
      name: f.str(o, 'name', where)!,
      kind: f.oneOf(o, 'kind', JOURNAL_KINDS, where),
      currency: f.currency(o, 'currency', where, false) ?? companyCurrency,
      default_account: knownAccount(
        f.str(o, 'default_account', where)!,
        `${where}.default_account`,
      ),
    };
    const suspense = f.str(o, 'suspense_account', where, false);
    if (suspense) jr.suspense_account = knownAccount(suspense, `${where}.suspense_account`);
    return jr;
  });
}

function readPartners(f: CompanyFields, root: Obj): PartnerDoc[] {
  return f.list(root.partners, 'partners').map((p, i) => {
    const where = `partners[${i}]`;
    const o = f.obj(p, where);
    const doc: PartnerDoc = {
      _id: partnerId(f.str(o, 'id', where)!),
      type: 'partner',
      name: f.str(o, 'name', where)!,
      bank_accounts: f.list(o.bank_accounts, `${where}.bank_accounts`).map((b, k) => {
        const bo = f.obj(b, `${where}.bank_accounts[${k}]`);
        const bic = f.str(bo, 'bic', `${where}.bank_accounts[${k}]`, false);
        return {
          iban: f.str(bo, 'iban', `${where}.bank_accounts[${k}]`)!,
          ...(bic ? { bic } : {}),
        };
      }),
    };
    const email = f.str(o, 'email', where, false);
    if (email) doc.email = email;
    const vat = f.str(o, 'vat', where, false);
    if (vat) doc.vat = vat;
    return doc;
  });
}

function readInvoice(
  f: CompanyFields,
  v: unknown,
  where: string,
  companyCurrency: string,
  partnerIds: ReadonlySet<string>,
  knownAccount: KnownAccount,
): InvoiceDoc {
  const o = f.obj(v, where);
  const cur = f.currency(o, 'currency', where, false) ?? companyCurrency;
  const date = f.str(o, 'date', where)!;
  const due = f.str(o, 'due_date', where)!;
  for (const [k, d] of [
    ['date', date],
    ['due_date', due],
  ] as const)
    if (!isCalendarDate(d)) f.fail(`${where}.${k}`, `must be a date YYYY-MM-DD (got ${d})`);
  if (due < date) f.fail(`${where}.due_date`, 'must not be before date');
  const partner = partnerId(f.str(o, 'partner', where)!);
  if (!partnerIds.has(partner))
    f.fail(`${where}.partner`, `names ${partner}, which the file does not define`);
  let total: number;
  try {
    total = parseAmount(f.str(o, 'total', where)!, cur, { decimal: '.' });
  } catch (err) {
    return f.fail(`${where}.total`, (err as Error).message);
  }
  if (total <= 0) f.fail(`${where}.total`, 'must be positive');
  const number = f.str(o, 'number', where)!;
  const kind = f.oneOf<InvoiceKind>(o, 'kind', INVOICE_KINDS, where);
  const doc: InvoiceDoc = {
    _id: invoiceId(number),
    type: 'invoice',
    kind,
    number,
    partner,
    date,
    due_date: due,
    currency: cur,
    total,
    residual: total,
    state: 'open',
  };
  const ref = f.str(o, 'payment_reference', where, false);
  if (ref) doc.payment_reference = ref;
  const credits = readCredits(f, o, where, kind);
  if (credits) doc.credits = credits;
  const account = f.str(o, 'account', where, false);
  if (account)
    (doc as InvoiceDoc & { account?: string }).account = knownAccount(account, `${where}.account`);
  return doc;
}

/** Parses company YAML/JSON text; `source` names it in errors. */
export function parseCompany(text: string, source = 'company file'): CompanyData {
  const lineCounter = new LineCounter();
  const yaml = parseDocument(text, { lineCounter, prettyErrors: false });
  let raw: unknown;
  try {
    if (yaml.errors.length > 0) throw yaml.errors[0];
    raw = yaml.toJS();
  } catch (err) {
    const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new AutomationError(
      'LEDGER_CHART_INVALID',
      `${source}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${(err as Error).message}`,
      { cause: err, details: { file: source } },
    );
  }
  const f = new CompanyFields(source, new Locator(yaml, lineCounter));
  const root = f.obj(raw, '(top level)');
  const companyRaw = f.obj(root.company, 'company');
  const company = {
    name: f.str(companyRaw, 'name', 'company')!,
    currency: f.currency(companyRaw, 'currency', 'company')!,
  };
  const roles = readRoles(f, root);

  const accounts = readAccounts(f, root);
  const codes = new Set(accounts.map((a) => a.code));
  const knownAccount: KnownAccount = (code, where) =>
    codes.has(code) ? code : f.fail(where, `names account ${code}, which the file does not define`);
  for (const [k, v] of Object.entries(roles) as Array<[string, string | undefined]>)
    if (!k.endsWith('_journal') && v !== undefined) knownAccount(v, `roles.${k}`);

  const journals = readJournals(f, root, company.currency, knownAccount);
  const journalCodes = new Set(journals.map((j) => j.code));
  for (const key of ['sale_journal', 'purchase_journal'] as const) {
    if (!journalCodes.has(roles[key]))
      f.fail(`roles.${key}`, `names journal ${roles[key]}, which the file does not define`);
  }

  const partners = readPartners(f, root);
  const partnerIds = new Set<string>(partners.map((p) => p._id));
  const invoices = f
    .list(root.invoices, 'invoices')
    .map((v, i) => readInvoice(f, v, `invoices[${i}]`, company.currency, partnerIds, knownAccount));
  const seen = new Set<string>();
  for (const d of [...partners, ...invoices]) {
    if (seen.has(d._id)) f.fail(d._id, 'is defined twice');
    seen.add(d._id);
  }
  checkCreditedInvoices(f, invoices);
  return { company, roles, chart: { accounts, journals }, partners, invoices };
}

export function accountDoc(a: ChartAccount): AccountDoc {
  return { _id: accountId(a.code), type: 'account', ...a };
}

export function journalDoc(j: ChartJournal): JournalDoc {
  return { _id: journalId(j.code), type: 'journal', ...j };
}

/**
 * The move booking an invoice or bill in the sale / purchase journal: `move:<journal>:invoice:<number>`.
 * A credit note is the mirror of its kind of invoice in the same journal: a customer credit note
 * is income against receivable, a vendor credit note payable against expense. An invoice in a
 * foreign currency carries its company-currency total (`invoice.company`, at the rate of its
 * date) on both lines.
 */
export function invoiceMove(invoice: InvoiceDoc, roles: CompanyRoles): MoveDoc {
  const sale = isCustomerKind(invoice.kind);
  const mirrored = isCreditNote(invoice.kind);
  const journal = sale ? roles.sale_journal : roles.purchase_journal;
  const other =
    (invoice as InvoiceDoc & { account?: string }).account ?? (sale ? roles.income : roles.expense);
  const label = invoice.number;
  const amount = invoice.total;
  const fx = invoice.company;
  const part = (debit: boolean) =>
    fx ? { company: companyPart(fx.currency, fx.total, debit, fx.rate) } : {};
  const debitLine = (account: string, partner?: string): MoveLine => ({
    account,
    ...(partner ? { partner } : {}),
    label,
    debit: amount,
    credit: 0,
    currency: invoice.currency,
    ...part(true),
  });
  const creditLine = (account: string, partner?: string): MoveLine => ({
    account,
    ...(partner ? { partner } : {}),
    label,
    debit: 0,
    credit: amount,
    currency: invoice.currency,
    ...part(false),
  });
  return {
    _id: moveId(journal, `invoice:${invoice.number}`),
    type: 'move',
    journal,
    date: invoice.date,
    ref: invoice.number,
    state: 'posted',
    lines:
      sale !== mirrored
        ? [debitLine(sale ? roles.receivable : roles.payable, invoice.partner), creditLine(other)]
        : [debitLine(other), creditLine(sale ? roles.receivable : roles.payable, invoice.partner)],
  };
}

/** Writes the `docs` the books lack, and `updates` (existing documents changed), in one batch. */
async function createMissing(
  store: BooksStore,
  docs: BooksDoc[],
  updates: BooksDoc[] = [],
): Promise<EnsureResult> {
  const existing = await docsById(
    store,
    docs.map((d) => d._id),
  );
  const missing = docs.filter((d) => !existing.has(d._id));
  if (missing.length > 0 || updates.length > 0) await store.putMany([...missing, ...updates]);
  return {
    created: missing.map((d) => d._id),
    kept: docs.filter((d) => existing.has(d._id)).map((d) => d._id),
  };
}

/** Creates the chart's accounts and journals that the books do not have yet; never overwrites. */
export function ensureChart(store: BooksStore, chart: Chart): Promise<EnsureResult> {
  return serialized(store, () =>
    createMissing(store, [...chart.accounts.map(accountDoc), ...chart.journals.map(journalDoc)]),
  );
}

/**
 * Creates what is missing of a company: chart, partners, and each invoice with its move (an
 * invoice that exists already is kept, and so is its move). Never overwrites. An invoice in a
 * foreign currency whose rate is not in the books yet is left out and listed in `waiting`
 * (`LEDGER_RATE_MISSING`); a later call after the rate arrived creates it. A new credit note that
 * names its invoice is applied to it in the same batch (credit-notes.ts).
 */
export function ensureCompany(
  store: BooksStore,
  data: CompanyData,
  opts: { logger?: Logger } = {},
): Promise<EnsureResult> {
  return serialized(store, async () => {
    const chart = await createMissing(store, [
      ...data.chart.accounts.map(accountDoc),
      ...data.chart.journals.map(journalDoc),
      ...data.partners,
    ]);
    const existing = await docsById(
      store,
      data.invoices.map((i) => i._id),
    );
    const rates = new RateBook(store);
    const waiting: EnsureResult['waiting'] = [];
    const fresh: InvoiceDoc[] = [];
    for (const invoice of data.invoices.filter((i) => !existing.has(i._id))) {
      const company = data.company.currency;
      if (invoice.currency === company) {
        fresh.push(invoice);
        continue;
      }
      try {
        const fx = await rates.convert(invoice.total, invoice.currency, company, invoice.date);
        fresh.push({ ...invoice, company: { currency: company, total: fx.amount, rate: fx.rate } });
      } catch (err) {
        if (!(err instanceof RateMissingError)) throw err;
        waiting.push({
          id: invoice._id,
          code: err.code,
          message: `${invoice._id}: ${err.message}`,
        });
      }
    }
    const moves = fresh.map((i) => invoiceMove(i, data.roles));
    const invoices = fresh.map((inv, k) => ({ ...inv, move: moves[k]._id }) as InvoiceDoc);
    const applied = await applyCreditNotes(store, invoices);
    const withMoves = await createMissing(
      store,
      [...invoices, ...moves, ...applied.payments],
      applied.updated,
    );
    applied.log(opts.logger);
    return {
      created: [...chart.created, ...withMoves.created],
      kept: [
        ...chart.kept,
        ...withMoves.kept,
        ...data.invoices.filter((i) => existing.has(i._id)).map((i) => i._id),
      ],
      ...(waiting.length > 0 ? { waiting } : {}),
    };
  });
}
