import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { warningText } from '../bank/formats';
import type { StatementPreview } from '../bank/preview';
import { BooksyncError } from '../shared/errors';
import { formatAmount } from '../shared/money';
import { table } from './format';

/**
 * `booksync parse FILE`: a preview of what importing a statement file would store; writes
 * nothing. Problems are one line on stderr, or with `--json` one JSON object
 * `{ error: { code, file, line, message } }` on stdout, never a stack.
 */

/** sysexits.h: the input file did not exist or was not readable. */
export const EX_NOINPUT = 66;
/** sysexits.h: the input data was incorrect in some way. */
export const EX_DATAERR = 65;

export interface ParseProblem {
  code: string;
  file: string;
  line: number | null;
  message: string;
}

/** Reads a file the user named, or says in one line why it cannot be read. */
export function readInput(file: string): Buffer | ParseProblem {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a statement file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : `cannot be read (${code ?? 'error'})`;
    return {
      code:
        code === 'ENOENT'
          ? 'FILE_NOT_FOUND'
          : code === 'EISDIR'
            ? 'FILE_IS_FOLDER'
            : 'FILE_UNREADABLE',
      file,
      line: null,
      message: `${file}: ${why}`,
    };
  }
}

function isProblem(value: unknown): value is ParseProblem {
  return (
    typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && 'message' in value
  );
}

function problemOf(err: BooksyncError, file: string): ParseProblem {
  const line = typeof err.details.line === 'number' ? err.details.line : null;
  return { code: err.code, file, line, message: err.message };
}

function report(problem: ParseProblem, asJson: boolean, exitCode: number): number {
  if (asJson) process.stdout.write(`${JSON.stringify({ error: problem }, null, 2)}\n`);
  else process.stderr.write(`booksync parse: ${problem.message}\n`);
  return exitCode;
}

function money(amount: number, currency: string): string {
  return `${formatAmount(amount, currency)} ${currency}`;
}

function render(file: string, preview: StatementPreview): string {
  const out = [`${file}: ${preview.format}, ${preview.statements.length} statement(s)`];
  for (const s of preview.statements) {
    out.push(
      `\naccount ${s.accountId} (${s.currency})${s.from ? ` ${s.from}..${s.to ?? ''}` : ''}: ${s.transactions.length} transaction(s)`,
    );
    for (const b of s.balances)
      out.push(`  ${b.kind} balance ${money(b.amount, b.currency)} on ${b.date}`);
    out.push(
      table([
        ['  date', 'amount', 'currency', 'id', 'payee', 'memo', 'pending', 'corrects'],
        ...s.transactions.map((t) => [
          `  ${t.bookingDate}`,
          String(t.amount),
          t.currency,
          t.providerId ?? '-',
          t.payee ?? '-',
          t.memo ?? '-',
          t.pending ? 'yes' : 'no',
          t.corrects ? `${t.corrects.action} ${t.corrects.providerId}` : '-',
        ]),
      ]).trimEnd(),
    );
    for (const c of s.corrections ?? []) {
      const by = c.by ? ` by ${c.by}` : '';
      const what = c.action === 'REPLACE' ? `replaced${by}` : `deleted${by}`;
      out.push(
        `  corrected: ${c.target} ${what}${c.inFeed ? ' (the original in this file is not imported)' : ' (not in this file: applied to the line already imported, if there is one)'}`,
      );
    }
  }
  for (const w of preview.warnings) out.push(`warning: ${warningText(w)} [${w.code}]`);
  return `${out.join('\n')}\n`;
}

export interface ParseCommandOptions {
  json: boolean;
  format?: string;
  csvMappingFile?: string;
  currency?: string;
}

/** Runs `booksync parse`; returns the exit code. */
export async function runParse(file: string, options: ParseCommandOptions): Promise<number> {
  let csvMapping: Record<string, unknown> | undefined;
  if (options.csvMappingFile !== undefined) {
    const mappingBytes = readInput(options.csvMappingFile);
    if (isProblem(mappingBytes)) return report(mappingBytes, options.json, EX_NOINPUT);
    try {
      csvMapping = parseYaml(mappingBytes.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      const problem = {
        code: 'CSV_MAPPING_INVALID',
        file: options.csvMappingFile,
        line: null,
        message: `${options.csvMappingFile}: not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      };
      return report(problem, options.json, EX_DATAERR);
    }
  }
  const bytes = readInput(file);
  if (isProblem(bytes)) return report(bytes, options.json, EX_NOINPUT);
  const { previewFile } = await import('../daemon/offline-commands');
  let preview: StatementPreview;
  try {
    preview = previewFile(bytes, file, {
      csvMapping,
      format: options.format,
      currency: options.currency,
    });
  } catch (err) {
    if (err instanceof BooksyncError) return report(problemOf(err, file), options.json, EX_DATAERR);
    throw err;
  }
  if (options.json) process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
  else process.stdout.write(render(file, preview));
  return 0;
}
