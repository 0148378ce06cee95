import { CONFIG_ERROR_CODES, type ConfigCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs } from '../shared/errors';

/** One problem in a config file. `line`/`col` are 1-based; 0 when the problem has no place (an unreadable file). */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Key path, dots and [index]: `sync.types.move.conflict`, `bank.connections[0].schedule.every`; '' for the file as a whole. */
  readonly path: string;
  /** What is wrong (what is allowed). Never holds a secret value. */
  readonly message: string;
}

/** Why a file could not be read, in words: "no such file", "permission denied", "is a folder". */
export function unreadableReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  return code ?? 'unreadable';
}

/** `FILE:LINE:COL: key.path: message`, the shape compilers use, so editors can jump to it. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

export type ConfigErrorCode = ConfigCodeOf<'ConfigError'>;

/**
 * The config could not be read or is invalid. Carries every issue found, not only the first;
 * `format()` gives one issue a line for the CLI and for the `config.reload` log line.
 */
export class ConfigError extends BooksyncError {
  static readonly codes = codesRaisedAs(CONFIG_ERROR_CODES, 'ConfigError');
  declare readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(
    code: ConfigErrorCode,
    file: string,
    issues: readonly ConfigIssue[],
    options: { cause?: unknown } = {},
  ) {
    const frozen = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
    const lines = frozen.map(formatIssue).join('\n');
    const message =
      code === 'CONFIG_UNREADABLE'
        ? lines
        : `invalid config ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines}`;
    super(code, message, { cause: options.cause, details: { file, issues: frozen } });
    this.issues = frozen;
  }

  /** One issue a line: `FILE:LINE:COL: key.path: what is wrong (what is allowed)`. */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}
