import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BooksStore } from '../ledger/store';
import { describeError } from '../shared/errors';
import { parseRatesCsv } from './csv';
import { parseEcbXml } from './ecb';
import { RatesError } from './errors';
import { storeRates, type StoredRates } from './store';

/**
 * The two rates sources (docs/CURRENCIES.md, "Rates sources"): the ECB's reference rates over
 * HTTP, and CSV files dropped into a folder.
 */

/** Largest answer accepted: the ECB's full history since 1999 is a few MiB of XML. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Fetches and stores the ECB rates at `url`; throws `RATES_FETCH`, `RATES_MALFORMED` or `RATES_CONFLICT`. */
export async function fetchEcbRates(
  store: BooksStore,
  url: string,
  timeoutMs: number,
): Promise<StoredRates & { skipped: number }> {
  const shown = safeUrl(url);
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    if (res.status !== 200) {
      throw new RatesError('RATES_FETCH', `${shown} answered HTTP ${res.status}`, {
        details: { url: shown, status: res.status },
      });
    }
    const declared = Number.parseInt(res.headers.get('content-length') ?? '', 10);
    if (declared > MAX_ANSWER_BYTES)
      throw new RatesError(
        'RATES_FETCH',
        `${shown} answered ${declared} bytes, more than the limit`,
      );
    text = await res.text();
  } catch (err) {
    if (err instanceof RatesError) throw err;
    throw new RatesError(
      'RATES_FETCH',
      `${shown} cannot be fetched: ${describeError(err).message}`,
      {
        cause: err,
        details: { url: shown },
      },
    );
  }
  const { quotes, skipped } = parseEcbXml(text, shown);
  return { ...(await storeRates(store, quotes, 'ecb', shown)), skipped };
}

/** The URL without user, password or query, for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export interface FolderFileResult {
  file: string;
  stored?: StoredRates;
  error?: { code: string; message: string };
}

/**
 * Imports every `*.csv` file of `folder`, oldest name first: a file is stored whole and moved to
 * `folder/archive/`, or refused whole and moved to `folder/rejected/` with a `.reason` file next to
 * it. A file refused for a conflict with the books stays rejected until the admin fixes it and
 * drops it again. With `keepFiles` nothing is moved: each run reads the files again, the rates
 * already stored are left as they are, and a refused file is reported again.
 */
export async function importRatesFolder(
  store: BooksStore,
  folder: string,
  opts: { keepFiles?: boolean } = {},
): Promise<FolderFileResult[]> {
  const names = readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.csv'))
    .map((e) => e.name)
    .sort();
  const results: FolderFileResult[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    try {
      const quotes = parseRatesCsv(readFileSync(file, 'utf8'), file);
      const stored = await storeRates(store, quotes, `csv:${name}`, file);
      if (!opts.keepFiles) moveInto(file, path.join(folder, 'archive'));
      results.push({ file, stored });
    } catch (err) {
      if (!(err instanceof RatesError)) throw err;
      if (!opts.keepFiles) {
        const target = moveInto(file, path.join(folder, 'rejected'));
        writeFileSync(`${target}.reason`, `${err.code}: ${err.message}\n`);
      }
      results.push({ file, error: { code: err.code, message: err.message } });
    }
  }
  return results;
}

/** Moves `file` into `dir` (created if needed), never over another file: a suffix keeps both. */
function moveInto(file: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const base = path.basename(file);
  let target = path.join(dir, base);
  const taken = new Set(readdirSync(dir));
  for (let n = 1; taken.has(path.basename(target)); n++) target = path.join(dir, `${base}.${n}`);
  renameSync(file, target);
  return target;
}
