import type { AccountDoc, BooksDoc, JournalDoc, MoveDoc, StatementLineDoc } from '../model';
import { accountId, journalId } from '../model';
import { visibleLines } from '../staged-imports';
import type { BooksStore } from '../store';
import { AutomationError } from './errors';
import type { ConnectionMapping } from './options';

/** Reads shared by the automation modules. */

/** Every document whose id starts with `prefix`, in id order. */
export async function docsWithPrefix<T extends BooksDoc>(
  store: BooksStore,
  prefix: string,
): Promise<T[]> {
  const res = await store.db.allDocs({
    include_docs: true,
    startkey: prefix,
    endkey: `${prefix}\uffff`,
  });
  return res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as T] : []));
}

/** The documents with these ids that exist, by id. */
export async function docsById<T extends BooksDoc>(
  store: BooksStore,
  ids: readonly string[],
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  if (ids.length === 0) return out;
  const res = await store.db.allDocs({ keys: [...new Set(ids)], include_docs: true });
  for (const row of res.rows) {
    const r = row as { id?: string; doc?: object | null };
    if (r.id && r.doc) out.set(r.id, r.doc as T);
  }
  return out;
}

/** Statement lines of one connection (`stl:<connection>:`), in id order, without staged ones. */
export async function linesOfConnection(
  store: BooksStore,
  connection: string,
): Promise<StatementLineDoc[]> {
  return visibleLines(store, await docsWithPrefix<StatementLineDoc>(store, `stl:${connection}:`));
}

/** The journal and both accounts of a mapping, checked against each other. */
export interface ResolvedMapping {
  mapping: ConnectionMapping;
  journal: JournalDoc;
  bank: AccountDoc;
  suspense: AccountDoc;
}

/**
 * Checks a connection mapping against the books: the journal and both accounts exist, the journal
 * is in the mapping's currency, and neither account is restricted to another currency. A mapping
 * problem is a configuration mistake, so it throws (`LEDGER_MAPPING_INVALID`) instead of refusing
 * line by line.
 */
export async function resolveMapping(
  store: BooksStore,
  mapping: ConnectionMapping,
): Promise<ResolvedMapping> {
  const fail = (what: string): never => {
    throw new AutomationError(
      'LEDGER_MAPPING_INVALID',
      `ledger.connections.${mapping.connection}: ${what}`,
      {
        details: { connection: mapping.connection, journal: mapping.journal },
      },
    );
  };
  const found = await docsById<BooksDoc>(store, [
    journalId(mapping.journal),
    accountId(mapping.bank_account),
    accountId(mapping.suspense_account),
  ]);
  const journal = found.get(journalId(mapping.journal)) as JournalDoc | undefined;
  const bank = found.get(accountId(mapping.bank_account)) as AccountDoc | undefined;
  const suspense = found.get(accountId(mapping.suspense_account)) as AccountDoc | undefined;
  if (!journal)
    fail(`journal ${mapping.journal} does not exist in the books (create it, or load the chart)`);
  if (!bank) fail(`bank account ${mapping.bank_account} does not exist in the books`);
  if (!suspense) fail(`suspense account ${mapping.suspense_account} does not exist in the books`);
  if (mapping.bank_account === mapping.suspense_account)
    fail('bank_account and suspense_account must differ');
  if (journal!.currency !== mapping.currency) {
    fail(
      `currency ${mapping.currency} differs from journal ${journal!.code}'s currency ${journal!.currency}`,
    );
  }
  for (const acc of [bank!, suspense!]) {
    if (acc.currency !== undefined && acc.currency !== mapping.currency) {
      fail(`account ${acc.code} only holds ${acc.currency}, not ${mapping.currency}`);
    }
  }
  return { mapping, journal: journal!, bank: bank!, suspense: suspense! };
}

/** Signed balance (debit − credit) a move puts on `account` in `currency`. */
export function moveEffect(move: MoveDoc, account: string, currency: string): number {
  let total = 0;
  for (const l of move.lines)
    if (l.account === account && l.currency === currency) total += l.debit - l.credit;
  return total;
}

/** Throws `LEDGER_MAPPING_INVALID` naming the first role whose account the books lack. */
export async function checkAccountsExist(
  store: BooksStore,
  roles: Readonly<Record<string, string>>,
): Promise<void> {
  const found = await docsById(store, Object.values(roles).map(accountId));
  for (const [role, code] of Object.entries(roles)) {
    if (!found.has(accountId(code))) {
      throw new AutomationError(
        'LEDGER_MAPPING_INVALID',
        `the ${role} account ${code} does not exist in the books (load the chart, or configure the ${role} account)`,
        { details: { role, account: code } },
      );
    }
  }
}
