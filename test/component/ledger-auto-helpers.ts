import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BooksStore,
  rateId,
  statementLineId,
  type BooksDoc,
  type MoveDoc,
  type RateDoc,
  type StatementLineDoc,
} from '../../src/ledger';
import { bookContent } from '../../src/ledger/invariants';
import {
  postStatementLines,
  reconcile,
  type CompanyData,
  type ConnectionMapping,
  type ReconcileOptions,
  type ReconcileResult,
  type RuleSpec,
} from '../../src/ledger/automation';
import type { Logger } from '../../src/shared/logger';

/** Shared setup of the ledger automation component tests: real BooksStore on LevelDB in a temp dir. */

export const NOW = new Date('2024-03-01T12:00:00.000Z');
export const clock = (): Date => NOW;

export const MAPPING: ConnectionMapping = Object.freeze({
  connection: 'main',
  journal: 'BNK1',
  bank_account: '1010',
  suspense_account: '1099',
  currency: 'EUR',
});

/** A USD bank connection of an EUR company (docs/CURRENCIES.md), with its chart below. */
export const USD: ConnectionMapping = Object.freeze({
  connection: 'usd',
  journal: 'BNK2',
  bank_account: '1020',
  suspense_account: '1098',
  currency: 'USD',
});

/** The USD bank account, its suspense account and journal, beside the demo chart. */
export const USD_CHART: readonly BooksDoc[] = [
  {
    _id: 'account:1020',
    type: 'account',
    code: '1020',
    name: 'Bank USD',
    kind: 'asset',
    currency: 'USD',
  },
  {
    _id: 'account:1098',
    type: 'account',
    code: '1098',
    name: 'Suspense USD',
    kind: 'asset',
    reconcile: true,
  },
  {
    _id: 'journal:BNK2',
    type: 'journal',
    code: 'BNK2',
    name: 'Bank USD',
    kind: 'bank',
    currency: 'USD',
    default_account: '1020',
    suspense_account: '1098',
  },
];

/** A rate document: 1 `base` = `value` `quote` on `date`. */
export function rate(base: string, quote: string, date: string, value: string): RateDoc {
  return {
    _id: rateId(base, quote, date),
    type: 'rate',
    base,
    quote,
    date,
    rate: value,
    source: 'test',
  };
}

export const RULES: RuleSpec[] = [
  { kind: 'reference' },
  { kind: 'amount_partner' },
  { kind: 'amount_window', tolerance: '0.50', days: 5 },
];

export interface LogEntry {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A synchronous logger that keeps every line (winston's interface, the parts the code uses). */
export function captureLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (ctx: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (msg: string, meta: Record<string, unknown> = {}) => {
        entries.push({ level, msg, ...ctx, ...meta });
      };
    return {
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      child: (more: Record<string, unknown>) => make({ ...ctx, ...more }),
    } as unknown as Logger;
  };
  return { logger: make({}), entries };
}

export interface Books {
  store: BooksStore;
  logger: Logger;
  entries: LogEntry[];
  close(): Promise<void>;
}

export async function openBooks(): Promise<Books> {
  const dir = mkdtempSync(path.join(tmpdir(), 'booksync-ledger-auto-'));
  const { logger, entries } = captureLogger();
  const store = await BooksStore.open(dir, { logger, clock });
  return {
    store,
    logger,
    entries,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;

/** A statement line of connection `main` (or `connection`), booked, state new. */
export function stl(
  fields: Partial<StatementLineDoc> & { amount: number; key?: string },
): StatementLineDoc {
  const connection = fields.connection ?? 'main';
  const key = fields.key ?? `k${++seq}`;
  const { key: _key, ...rest } = fields;
  return {
    _id: statementLineId(connection, key),
    type: 'statement_line',
    connection,
    account_id: 'BE68539007547034',
    date: '2024-02-01',
    currency: 'EUR',
    dedup_key: key,
    pending: false,
    state: 'new',
    imported_at: NOW.toISOString(),
    ...rest,
  };
}

/** Every document's content (no revisions, no timestamps), by id: "nothing changed" comparisons. */
export async function snapshot(store: BooksStore): Promise<Record<string, unknown>> {
  const res = await store.db.allDocs({ include_docs: true });
  const out: Record<string, unknown> = {};
  for (const row of res.rows) if (row.doc) out[row.id] = bookContent(row.doc);
  return out;
}

/** Debit − credit of `account` over the moves (posted only unless `drafts`). */
export async function balanceOf(
  store: BooksStore,
  account: string,
  drafts = false,
): Promise<number> {
  const moves = await store.allOfType<MoveDoc>('move');
  let total = 0;
  for (const m of moves) {
    if (m.state !== 'posted' && !drafts) continue;
    for (const l of m.lines) if (l.account === account) total += l.debit - l.credit;
  }
  return total;
}

export async function get<T extends BooksDoc>(store: BooksStore, id: string): Promise<T> {
  const doc = await store.get<T>(id);
  if (!doc) throw new Error(`expected ${id} to exist`);
  return doc;
}

/**
 * A company without its credit notes: the rule tests pay the demo invoices at their full totals,
 * which a credit note applied on load would lower (credit notes: ledger-refund.test.ts).
 */
export function withoutCreditNotes(data: CompanyData): CompanyData {
  return { ...data, invoices: data.invoices.filter((i) => !i.credits) };
}

/** Writes `lines` of connection `main`, posts them and runs `rules` over the books. */
export async function postAndReconcile(
  store: BooksStore,
  lines: StatementLineDoc[],
  rules: RuleSpec[],
  opts: ReconcileOptions,
): Promise<ReconcileResult> {
  await store.putMany(lines);
  await postStatementLines(
    store,
    lines.map((l) => l._id),
    MAPPING,
    opts,
  );
  return reconcile(store, rules, opts);
}

/**
 * A bank connection in `currency` (journal `BNK<n>`, bank account `10<n>0`, suspense `109<9-n>`)
 * and the accounts and journal it needs beside the demo chart.
 */
export function foreignBank(
  currency: string,
  n: number,
): { mapping: ConnectionMapping; chart: BooksDoc[] } {
  const mapping: ConnectionMapping = {
    connection: currency.toLowerCase(),
    journal: `BNK${n}`,
    bank_account: `10${n}0`,
    suspense_account: `109${9 - n}`,
    currency,
  };
  const chart: BooksDoc[] = [
    {
      _id: `account:${mapping.bank_account}`,
      type: 'account',
      code: mapping.bank_account,
      name: `Bank ${currency}`,
      kind: 'asset',
      currency,
    },
    {
      _id: `account:${mapping.suspense_account}`,
      type: 'account',
      code: mapping.suspense_account,
      name: `Suspense ${currency}`,
      kind: 'asset',
      reconcile: true,
    },
    {
      _id: `journal:${mapping.journal}`,
      type: 'journal',
      code: mapping.journal,
      name: `Bank ${currency}`,
      kind: 'bank',
      currency,
      default_account: mapping.bank_account,
      suspense_account: mapping.suspense_account,
    },
  ];
  return { mapping, chart };
}
