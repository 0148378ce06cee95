import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isCalendarDate } from '../../shared/dates';
import { currencyCode, parseAmount } from '../../shared/money';
import {
  ACCOUNT_KINDS,
  INVOICE_KINDS,
  JOURNAL_KINDS,
  accountId,
  invoiceId,
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
import type { BooksStore } from '../store';
import { docsById } from './books';
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

export interface CompanyRoles extends Omit<AccountRoles, 'fx_gain' | 'fx_loss'> {
  fx_gain?: string;
  fx_loss?: string;
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

/** Parses company YAML/JSON text; `source` names it in errors. */
export function parseCompany(text: string, source = 'company file'): CompanyData {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AutomationError(
      'LEDGER_CHART_INVALID',
      `${source}: not valid YAML: ${(err as Error).message}`,
      { cause: err, details: { file: source } },
    );
  }
  const fail = (where: string, what: string): never => {
    throw new AutomationError('LEDGER_CHART_INVALID', `${source}: ${where} ${what}`, {
      details: { file: source, field: where },
    });
  };
  const obj = (v: unknown, where: string): Obj =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Obj)
      : fail(where, 'must be a mapping');
  const list = (v: unknown, where: string): unknown[] =>
    v === undefined || v === null ? [] : Array.isArray(v) ? v : fail(where, 'must be a list');
  const str = (o: Obj, key: string, where: string, required = true): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null)
      return required ? fail(`${where}.${key}`, 'is required') : undefined;
    // Codes written unquoted (1010) arrive as numbers; they are names.
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    if (typeof v !== 'string' || v.trim() === '')
      return fail(`${where}.${key}`, `must be text (got ${JSON.stringify(v)})`);
    return v.trim();
  };
  const oneOf = <T extends string>(
    o: Obj,
    key: string,
    allowed: readonly T[],
    where: string,
  ): T => {
    const v = str(o, key, where)!;
    return (allowed as readonly string[]).includes(v)
      ? (v as T)
      : fail(`${where}.${key}`, `must be one of ${allowed.join(' | ')} (got ${v})`);
  };
  const currency = (o: Obj, key: string, where: string, required = true): string | undefined => {
    const v = str(o, key, where, required);
    if (v === undefined) return undefined;
    try {
      return currencyCode(v);
    } catch {
      return fail(`${where}.${key}`, `must be an ISO 4217 currency code (got ${v})`);
    }
  };

  const root = obj(raw, '(top level)');
  const companyRaw = obj(root.company, 'company');
  const company = {
    name: str(companyRaw, 'name', 'company')!,
    currency: currency(companyRaw, 'currency', 'company')!,
  };
  const rolesRaw = obj(root.roles, 'roles');
  const roles: CompanyRoles = {
    receivable: str(rolesRaw, 'receivable', 'roles')!,
    payable: str(rolesRaw, 'payable', 'roles')!,
    opening_balance: str(rolesRaw, 'opening_balance', 'roles')!,
    income: str(rolesRaw, 'income', 'roles')!,
    expense: str(rolesRaw, 'expense', 'roles')!,
    sale_journal: str(rolesRaw, 'sale_journal', 'roles')!,
    purchase_journal: str(rolesRaw, 'purchase_journal', 'roles')!,
  };
  for (const key of ['fx_gain', 'fx_loss'] as const) {
    const code = str(rolesRaw, key, 'roles', false);
    if (code !== undefined) roles[key] = code;
  }

  const accounts: ChartAccount[] = list(root.accounts, 'accounts').map((a, i) => {
    const where = `accounts[${i}]`;
    const o = obj(a, where);
    const acc: ChartAccount = {
      code: str(o, 'code', where)!,
      name: str(o, 'name', where)!,
      kind: oneOf(o, 'kind', ACCOUNT_KINDS, where),
    };
    if (o.reconcile !== undefined)
      acc.reconcile =
        o.reconcile === true
          ? true
          : o.reconcile === false
            ? false
            : fail(`${where}.reconcile`, 'must be true or false');
    const cur = currency(o, 'currency', where, false);
    if (cur) acc.currency = cur;
    return acc;
  });
  const codes = new Set(accounts.map((a) => a.code));
  const knownAccount = (code: string, where: string) =>
    codes.has(code) ? code : fail(where, `names account ${code}, which the file does not define`);
  for (const [k, v] of Object.entries(roles) as Array<[string, string | undefined]>)
    if (!k.endsWith('_journal') && v !== undefined) knownAccount(v, `roles.${k}`);

  const journals: ChartJournal[] = list(root.journals, 'journals').map((j, i) => {
    const where = `journals[${i}]`;
    const o = obj(j, where);
    const code = str(o, 'code', where)!;
    if (code.includes(':')) fail(`${where}.code`, "must not contain ':'");
    const jr: ChartJournal = {
      code,
      name: str(o, 'name', where)!,
      kind: oneOf(o, 'kind', JOURNAL_KINDS, where),
      currency: currency(o, 'currency', where, false) ?? company.currency,
      default_account: knownAccount(str(o, 'default_account', where)!, `${where}.default_account`),
    };
    const suspense = str(o, 'suspense_account', where, false);
    if (suspense) jr.suspense_account = knownAccount(suspense, `${where}.suspense_account`);
    return jr;
  });
  const journalCodes = new Set(journals.map((j) => j.code));
  for (const key of ['sale_journal', 'purchase_journal'] as const) {
    if (!journalCodes.has(roles[key]))
      fail(`roles.${key}`, `names journal ${roles[key]}, which the file does not define`);
  }

  const partners: PartnerDoc[] = list(root.partners, 'partners').map((p, i) => {
    const where = `partners[${i}]`;
    const o = obj(p, where);
    const doc: PartnerDoc = {
      _id: partnerId(str(o, 'id', where)!),
      type: 'partner',
      name: str(o, 'name', where)!,
      bank_accounts: list(o.bank_accounts, `${where}.bank_accounts`).map((b, k) => {
        const bo = obj(b, `${where}.bank_accounts[${k}]`);
        const bic = str(bo, 'bic', `${where}.bank_accounts[${k}]`, false);
        return { iban: str(bo, 'iban', `${where}.bank_accounts[${k}]`)!, ...(bic ? { bic } : {}) };
      }),
    };
    const email = str(o, 'email', where, false);
    if (email) doc.email = email;
    const vat = str(o, 'vat', where, false);
    if (vat) doc.vat = vat;
    return doc;
  });
  const partnerIds = new Set(partners.map((p) => p._id));

  const invoices: InvoiceDoc[] = list(root.invoices, 'invoices').map((v, i) => {
    const where = `invoices[${i}]`;
    const o = obj(v, where);
    const cur = currency(o, 'currency', where, false) ?? company.currency;
    const date = str(o, 'date', where)!;
    const due = str(o, 'due_date', where)!;
    for (const [k, d] of [
      ['date', date],
      ['due_date', due],
    ] as const)
      if (!isCalendarDate(d)) fail(`${where}.${k}`, `must be a date YYYY-MM-DD (got ${d})`);
    if (due < date) fail(`${where}.due_date`, 'must not be before date');
    const partner = partnerId(str(o, 'partner', where)!);
    if (!partnerIds.has(partner))
      fail(`${where}.partner`, `names ${partner}, which the file does not define`);
    let total: number;
    try {
      total = parseAmount(str(o, 'total', where)!, cur, { decimal: '.' });
    } catch (err) {
      return fail(`${where}.total`, (err as Error).message);
    }
    if (total <= 0) fail(`${where}.total`, 'must be positive');
    const number = str(o, 'number', where)!;
    const doc: InvoiceDoc = {
      _id: invoiceId(number),
      type: 'invoice',
      kind: oneOf<InvoiceKind>(o, 'kind', INVOICE_KINDS, where),
      number,
      partner,
      date,
      due_date: due,
      currency: cur,
      total,
      residual: total,
      state: 'open',
    };
    const ref = str(o, 'payment_reference', where, false);
    if (ref) doc.payment_reference = ref;
    const account = str(o, 'account', where, false);
    if (account)
      (doc as InvoiceDoc & { account?: string }).account = knownAccount(
        account,
        `${where}.account`,
      );
    return doc;
  });
  const seen = new Set<string>();
  for (const d of [...partners, ...invoices]) {
    if (seen.has(d._id)) fail(d._id, 'is defined twice');
    seen.add(d._id);
  }
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
 * An invoice in a foreign currency carries its company-currency total (`invoice.company`, at the
 * rate of its date) on both lines.
 */
export function invoiceMove(invoice: InvoiceDoc, roles: CompanyRoles): MoveDoc {
  const sale = invoice.kind === 'out_invoice';
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
    lines: sale
      ? [debitLine(roles.receivable, invoice.partner), creditLine(other)]
      : [debitLine(other), creditLine(roles.payable, invoice.partner)],
  };
}

async function createMissing(store: BooksStore, docs: BooksDoc[]): Promise<EnsureResult> {
  const existing = await docsById(
    store,
    docs.map((d) => d._id),
  );
  const missing = docs.filter((d) => !existing.has(d._id));
  if (missing.length > 0) await store.putMany(missing);
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
 * (`LEDGER_RATE_MISSING`); a later call after the rate arrived creates it.
 */
export function ensureCompany(store: BooksStore, data: CompanyData): Promise<EnsureResult> {
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
    const withMoves = await createMissing(store, [
      ...fresh.map((inv, k) => ({ ...inv, move: moves[k]._id }) as InvoiceDoc),
      ...moves,
    ]);
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
