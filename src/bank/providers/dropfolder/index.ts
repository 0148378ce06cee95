import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type {
  BankAccountStatement,
  BankProvider,
  FetchContext,
  FetchResult,
  StatementStream,
} from '../../provider';
import { BankError, MalformedStatementError } from '../../errors';
import {
  parseStatement,
  warningText,
  type CsvMapping,
  type ParseStatementOptions,
} from '../../formats';
import { statementFileStream } from './stream';

export { statementFileStream, fileStream, STREAM_MIN_BYTES } from './stream';

/** `settings` of a `provider: dropfolder` connection. */
export interface DropFolderSettings {
  /** Inbox folder the bank files are dropped into. */
  path: string;
  /** Where imported files go once their lines are stored. @default `archive/` in the connection state folder */
  archive?: string | null;
  /** Where unreadable files go, each with a `<file>.reason` beside it. @default `rejected/` in the connection state folder */
  rejected?: string | null;
  /** Read every file as this format instead of recognising it by content. @default auto */
  format?: 'auto' | 'ofx' | 'camt053' | 'mt940' | 'csv';
  /** Leave imported files where they are (demos, read-only shares); dedup keeps re-reads harmless. @default false */
  keep_files?: boolean;
  /** Column mapping for CSV exports. */
  csv?: CsvMapping | null;
  /** Only import statements of this account (IBAN or account number; spaces and case ignored). */
  account?: string | null;
  /** Currency for files that do not state one. */
  currency?: string | null;
}

/** Files a writer has not finished (`*.part`, `*.tmp`, `*.crdownload`), dotfiles and rejection notes. */
function isCandidate(name: string): boolean {
  if (name.startsWith('.') || name.startsWith('~')) return false;
  return !/\.(part|tmp|crdownload|partial|reason)$/i.test(name);
}

function settingsOf(ctx: FetchContext): DropFolderSettings {
  const s = ctx.settings as Partial<DropFolderSettings>;
  if (typeof s.path !== 'string' || s.path === '') {
    throw new BankError(
      'BANK_CONFIG',
      `connection ${ctx.connection}: dropfolder needs settings.path (the inbox folder)`,
    );
  }
  return s as DropFolderSettings;
}

/** A free name in `dir` for `name`: `name`, then `stem-1.ext`, `stem-2.ext`... */
function freeName(dir: string, name: string): string {
  if (!existsSync(join(dir, name)) && !existsSync(join(dir, `${name}.reason`))) return name;
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 1; ; i++) {
    const candidate = `${stem}-${i}${ext}`;
    if (!existsSync(join(dir, candidate)) && !existsSync(join(dir, `${candidate}.reason`)))
      return candidate;
  }
}

/** Moves a file, across file systems if it must. Returns the new path. */
function moveInto(dir: string, from: string): string {
  mkdirSync(dir, { recursive: true });
  const to = join(dir, freeName(dir, basename(from)));
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
    unlinkSync(from);
  }
  return to;
}

const normaliseAccount = (id: string): string => id.replace(/\s+/g, '').toUpperCase();

/** Sorted names of the inbox files ready to read. */
function listInbox(ctx: FetchContext, inbox: string): string[] {
  let entries;
  try {
    entries = readdirSync(inbox, { withFileTypes: true });
  } catch (err) {
    throw new BankError(
      'BANK_DROPFOLDER_UNREADABLE',
      `connection ${ctx.connection}: cannot read the inbox folder ${inbox}: ${(err as Error).message}`,
      { cause: err, details: { path: inbox } },
    );
  }
  return entries
    .filter((e) => e.isFile() && isCandidate(e.name))
    .map((e) => e.name)
    .sort();
}

/** What one run gathers from the inbox files. */
interface DropRun {
  ctx: FetchContext;
  settings: DropFolderSettings;
  rejectedDir: string;
  /** Normalised `settings.account`, if set. */
  wanted: string | undefined;
  statements: BankAccountStatement[];
  streams: StatementStream[];
  warnings: string[];
  /** Files to archive in `commit()`. */
  imported: string[];
}

/** Moves an unreadable file to the rejected folder with its `.reason`. Returns the new path. */
function rejectFile(
  run: DropRun,
  full: string,
  name: string,
  err: MalformedStatementError,
): string {
  const to = moveInto(run.rejectedDir, full);
  writeFileSync(`${to}.reason`, `${err.message}\n`, 'utf8');
  run.ctx.logger.warn(`rejected statement file ${name}`, {
    event: 'bank.file',
    connection: run.ctx.connection,
    file: name,
    code: err.code,
    reason: err.message,
    moved_to: to,
  });
  return to;
}

/**
 * Hands a large file to the loop as a stream. True when the file is dealt with (streamed,
 * rejected or gone); false when it is small enough to read into memory.
 */
function tryStream(
  run: DropRun,
  full: string,
  name: string,
  options: ParseStatementOptions,
): boolean {
  const { ctx } = run;
  let stream: StatementStream | undefined;
  try {
    stream = statementFileStream(full, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // taken away meanwhile
    if (!(err instanceof MalformedStatementError)) {
      throw new BankError(
        'BANK_DROPFOLDER_UNREADABLE',
        `connection ${ctx.connection}: cannot read ${full}: ${(err as Error).message}`,
        { cause: err, details: { file: full } },
      );
    }
    const to = rejectFile(run, full, name, err);
    run.warnings.push(`rejected ${name}: ${err.message} (moved to ${to})`);
    return true;
  }
  if (!stream) return false;
  run.imported.push(full);
  run.streams.push({
    name: stream.name,
    read: (sink) => stream.read(sink),
    // eslint-disable-next-line @typescript-eslint/require-await -- async so that a throw (file system, parse) reaches the caller as a rejection
    reject: async (err) => {
      run.imported.splice(run.imported.indexOf(full), 1);
      rejectFile(run, full, name, err);
    },
  });
  ctx.logger.info(`reading statement file ${name} as a stream`, {
    event: 'bank.file',
    connection: ctx.connection,
    file: name,
    streamed: true,
  });
  return true;
}

/** Reads and parses a whole file, keeping the statements of the wanted account. */
function readWhole(run: DropRun, full: string, name: string, options: ParseStatementOptions): void {
  const { ctx, wanted } = run;
  let bytes: Buffer;
  try {
    bytes = readFileSync(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // taken away meanwhile
    throw new BankError(
      'BANK_DROPFOLDER_UNREADABLE',
      `connection ${ctx.connection}: cannot read ${full}: ${(err as Error).message}`,
      { cause: err, details: { file: full } },
    );
  }
  let parsed;
  try {
    parsed = parseStatement(bytes, options);
  } catch (err) {
    if (!(err instanceof MalformedStatementError)) throw err;
    const to = rejectFile(run, full, name, err);
    run.warnings.push(`rejected ${name}: ${err.message} (moved to ${to})`);
    return;
  }
  let kept = parsed.statements;
  if (wanted !== undefined) {
    kept = kept.filter((s) => normaliseAccount(s.accountId) === wanted);
    const skipped = parsed.statements.length - kept.length;
    if (skipped > 0)
      run.warnings.push(
        `${name}: ${skipped} statement(s) of other accounts skipped (settings.account is ${run.settings.account})`,
      );
  }
  run.statements.push(...kept);
  run.warnings.push(...parsed.warnings.map(warningText));
  run.imported.push(full);
  ctx.logger.info(`read statement file ${name}`, {
    event: 'bank.file',
    connection: ctx.connection,
    file: name,
    format: parsed.format,
    statements: kept.length,
    transactions: kept.reduce((n, s) => n + s.transactions.length, 0),
  });
}

/**
 * Drop folder: the admin (or a bank's SFTP job) puts statement files into `path`; each run reads
 * them all, all-or-nothing per file. A file that cannot be read goes to `rejected/` at once with
 * a `.reason` beside it and contributes nothing; the good files still import. Large OFX and
 * camt.053 files (STREAM_MIN_BYTES and up) are handed to the loop as streams, read twice and never
 * held whole; one found malformed in the loop's checking pass is rejected the same way (unless
 * `settings.account` filters statements, which needs them in memory). Read files move to
 * `archive/` only in `commit()`, which the loop calls after storing their lines, so a crash
 * between fetch and store re-reads them next run (dedup makes that harmless).
 */
export const dropfolder = {
  id: 'dropfolder',
  description:
    'Statement files dropped into a folder: OFX/QFX, camt.053, MT940, CSV (with a column mapping)',

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that a throw (file system, parse) reaches the caller as a rejection
  async fetch(ctx: FetchContext): Promise<FetchResult> {
    const settings = settingsOf(ctx);
    const inbox = resolve(settings.path);
    const archive = resolve(settings.archive ?? join(ctx.stateDir, 'archive'));
    const rejectedDir = resolve(settings.rejected ?? join(ctx.stateDir, 'rejected'));
    const wanted =
      typeof settings.account === 'string' ? normaliseAccount(settings.account) : undefined;
    const names = listInbox(ctx, inbox);
    const run: DropRun = {
      ctx,
      settings,
      rejectedDir,
      wanted,
      statements: [],
      streams: [],
      warnings: [],
      imported: [],
    };
    for (const name of names) {
      ctx.signal.throwIfAborted();
      const full = join(inbox, name);
      const options: ParseStatementOptions = {
        fileName: name,
        csv: settings.csv ?? undefined,
        defaultCurrency: settings.currency ?? undefined,
        format: settings.format ?? 'auto',
      };
      if (wanted === undefined && tryStream(run, full, name, options)) continue;
      readWhole(run, full, name, options);
    }
    const { statements, streams, warnings, imported } = run;
    const keep = settings.keep_files === true;
    return {
      statements,
      ...(streams.length > 0 ? { streams } : {}),
      warnings,
      // eslint-disable-next-line @typescript-eslint/require-await -- async so that a throw (file system, parse) reaches the caller as a rejection
      commit: async () => {
        if (keep) return;
        for (const full of imported) {
          if (existsSync(full)) moveInto(archive, full);
        }
      },
    };
  },
} satisfies BankProvider;
