import { createHash, type Hash } from 'node:crypto';
import type { BankAccountStatement, BankTransaction, StreamedStatement } from '../provider';
import { statementWarning, type StatementWarning } from './common';

/**
 * A statement repeated in one file (two exports concatenated, two camt.053 `<Document>` roots, a
 * bank that writes a statement twice) is read once, with a warning: the same account, statement
 * id, period, balances and the same lines in the same order. Lines are never dropped one by one:
 * two identical coffees inside one statement are two lines (docs/FORMATS.md §"Repeated statements").
 */

/** Builds the fingerprint of one statement from its lines and its summary, in input order. */
export class StatementFingerprint {
  private readonly hash: Hash = createHash('sha256');

  line(tx: BankTransaction): void {
    this.hash.update(JSON.stringify(tx));
    this.hash.update('\n');
  }

  /** The fingerprint, once the statement's summary (everything but its lines) is known. */
  finish(
    summary:
      Omit<StreamedStatement, 'transactionCount'> | Omit<BankAccountStatement, 'transactions'>,
  ): string {
    const { accountId, statementId, from, to, currency, balances } = summary;
    this.hash.update(
      JSON.stringify([
        accountId.replace(/\s+/g, '').toUpperCase(),
        statementId,
        from,
        to,
        currency,
        balances,
      ]),
    );
    return this.hash.digest('hex');
  }
}

/** What to say about a statement read once although the file holds it more than once. */
export function repeatedWarning(
  file: string,
  statement: Pick<BankAccountStatement, 'accountId' | 'statementId' | 'from' | 'to'>,
  lines: number,
  statementIndex?: number,
): StatementWarning {
  const id = statement.statementId !== undefined ? ` ${statement.statementId}` : '';
  const period =
    statement.from !== undefined || statement.to !== undefined
      ? ` (${statement.from ?? '…'}..${statement.to ?? '…'})`
      : '';
  return statementWarning(
    'BANK_WARN_REPEATED_STATEMENT',
    { file, statement: statementIndex },
    `statement${id} of account ${statement.accountId}${period} with ${lines} line(s) appears again in the file; read once`,
  );
}

/** The statements of a parsed file with every repeat of an earlier one left out (and a warning each). */
export function dropRepeatedStatements(
  statements: BankAccountStatement[],
  file: string,
  warnings: StatementWarning[],
): BankAccountStatement[] {
  if (statements.length < 2) return statements;
  const seen = new Set<string>();
  const kept: BankAccountStatement[] = [];
  for (const [index, st] of statements.entries()) {
    const fp = new StatementFingerprint();
    for (const tx of st.transactions) fp.line(tx);
    const key = fp.finish(st);
    if (seen.has(key)) {
      warnings.push(repeatedWarning(file, st, st.transactions.length, index));
      continue;
    }
    seen.add(key);
    kept.push(st);
  }
  return kept;
}
