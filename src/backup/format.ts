import { createHash, type Hash } from 'node:crypto';
import { BACKUP_ERROR_CODES, type BackupCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';
import { valueText } from '../shared/text';
import { isPlainObject } from '../shared/objects';

/**
 * The backup format (docs in README.md, "Backup and restore"): gzip-compressed NDJSON, one JSON
 * object a line, in this order:
 *
 *   {"booksync_backup":1,"created_at":"…","version":"…","sections":["books","sync","files"]}
 *   {"s":"books","k":"<base64>","v":"<base64>"}       every entry of the books' LevelDB
 *   {"s":"sync","k":"<base64>","v":"<base64>"}        every entry of the sync bookkeeping's LevelDB
 *   {"s":"file","path":"bank/…","mode":384,"data":"<base64>"}   each file of the bank state
 *   {"end":true,"entries":{"books":N,"sync":N,"file":N},"sha256":"<hex>"}
 *
 * The two LevelDBs are copied key for key from snapshots taken at one instant, so the local
 * sequence numbers, revisions, bases and checkpoints come back exactly as they were. `sha256` is
 * the hash of every byte before the end line; a file without a valid end line is refused whole.
 */
export const BACKUP_FORMAT_VERSION = 1;

/** The LevelDB sections and the folder of the state directory each one is restored into. */
export const LEVEL_SECTIONS = { books: 'books', sync: 'sync' } as const;
export type LevelSection = keyof typeof LEVEL_SECTIONS;

export interface BackupManifest {
  booksync_backup: number;
  created_at: string;
  version: string;
  sections: string[];
}

export interface LevelRecord {
  s: LevelSection;
  k: string;
  v: string;
}

export interface FileRecord {
  s: 'file';
  /** Relative to the state directory, '/'-separated. */
  path: string;
  mode: number;
  data: string;
}

export type BackupRecord = LevelRecord | FileRecord;

export interface BackupTrailer {
  end: true;
  entries: Record<string, number>;
  sha256: string;
}

export class BackupError extends BooksyncError {
  static readonly codes = codesRaisedAs(BACKUP_ERROR_CODES, 'BackupError');
  declare readonly code: BackupCodeOf<'BackupError'>;

  constructor(
    code: BackupCodeOf<'BackupError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** Builds the lines of a backup and keeps their running hash and counts. */
export class BackupLineWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly entries: Record<string, number> = { books: 0, sync: 0, file: 0 };

  manifest(version: string, now: Date): string {
    const manifest: BackupManifest = {
      booksync_backup: BACKUP_FORMAT_VERSION,
      created_at: now.toISOString(),
      version,
      sections: ['books', 'sync', 'files'],
    };
    return this.line(manifest);
  }

  record(record: BackupRecord): string {
    this.entries[record.s] += 1;
    return this.line(record);
  }

  trailer(): string {
    const trailer: BackupTrailer = {
      end: true,
      entries: { ...this.entries },
      sha256: this.hash.digest('hex'),
    };
    return `${JSON.stringify(trailer)}\n`;
  }

  private line(value: unknown): string {
    const text = `${JSON.stringify(value)}\n`;
    this.hash.update(text, 'utf8');
    return text;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Checks the lines of a backup in order: the manifest first, records, and the end line whose hash
 * and counts must match what came before. Errors name the line number.
 */
export class BackupLineReader {
  private readonly hash: Hash = createHash('sha256');
  private readonly entries: Record<string, number> = { books: 0, sync: 0, file: 0 };
  private lineNo = 0;
  private manifestSeen = false;
  private ended = false;

  constructor(private readonly source: string) {}

  /** Returns the record of a data line, or undefined for the manifest and the end line. */
  accept(line: string): BackupRecord | undefined {
    this.lineNo += 1;
    if (this.ended) throw this.bad('data after the end line');
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw this.bad('not a JSON line');
    }
    if (!isPlainObject(value)) throw this.bad('not a JSON object');
    if (!this.manifestSeen) {
      if (value.booksync_backup !== BACKUP_FORMAT_VERSION) {
        throw this.bad(
          value.booksync_backup === undefined
            ? 'not a booksync backup (no manifest line)'
            : `backup format ${valueText(value.booksync_backup)} is not supported (this booksync reads format ${BACKUP_FORMAT_VERSION})`,
        );
      }
      this.manifestSeen = true;
      this.hash.update(`${line}\n`, 'utf8');
      return undefined;
    }
    if (value.end === true) {
      this.finish(value);
      return undefined;
    }
    this.hash.update(`${line}\n`, 'utf8');
    const record = this.check(value);
    this.entries[record.s] += 1;
    return record;
  }

  /** Throws unless the end line was read. */
  complete(): void {
    if (!this.manifestSeen)
      throw new BackupError('BACKUP_INVALID', `${this.source}: empty, not a booksync backup`);
    if (!this.ended)
      throw new BackupError(
        'BACKUP_TRUNCATED',
        `${this.source}: truncated after line ${this.lineNo} (no end line); the backup is incomplete`,
      );
  }

  private finish(value: Record<string, unknown>): void {
    const digest = this.hash.digest('hex');
    if (value.sha256 !== digest)
      throw new BackupError(
        'BACKUP_CHECKSUM',
        `${this.source}:${this.lineNo}: checksum mismatch (the file is damaged)`,
      );
    const counts = isPlainObject(value.entries) ? value.entries : {};
    for (const [section, n] of Object.entries(this.entries)) {
      if (counts[section] !== n)
        throw this.bad(
          `the end line counts ${String(counts[section])} ${section} entries, the file has ${n}`,
        );
    }
    this.ended = true;
  }

  private check(value: Record<string, unknown>): BackupRecord {
    if (value.s === 'books' || value.s === 'sync') {
      if (
        typeof value.k !== 'string' ||
        typeof value.v !== 'string' ||
        !BASE64.test(value.k) ||
        !BASE64.test(value.v)
      )
        throw this.bad('a LevelDB entry needs base64 k and v');
      return value as unknown as LevelRecord;
    }
    if (value.s === 'file') {
      const p = value.path;
      if (
        typeof p !== 'string' ||
        p === '' ||
        p.startsWith('/') ||
        p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
      )
        throw this.bad(`unsafe file path ${JSON.stringify(p)}`);
      if (typeof value.data !== 'string' || !BASE64.test(value.data))
        throw this.bad('a file entry needs base64 data');
      if (
        !Number.isInteger(value.mode) ||
        (value.mode as number) < 0 ||
        (value.mode as number) > 0o777
      )
        throw this.bad('a file entry needs a mode');
      return value as unknown as FileRecord;
    }
    throw this.bad(`unknown section ${JSON.stringify(value.s)}`);
  }

  private bad(message: string): BackupError {
    return new BackupError('BACKUP_INVALID', `${this.source}:${this.lineNo}: ${message}`, {
      details: { line: this.lineNo },
    });
  }
}
