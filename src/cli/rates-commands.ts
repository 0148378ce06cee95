import type { RateDoc } from '../ledger';
import type { RatesRun } from '../rates';
import { PAIR_TEXT } from '../rates/listing';
import type { Command } from './books-commands';
import { table } from './format';

/**
 * `booksync rates fetch|list` (docs/CURRENCIES.md, "Rates sources"): fetch the configured rates
 * sources now, as the schedule does, and list the rate documents of the books.
 */

const USAGE = 'booksync rates fetch [--json] | booksync rates list [--pair EUR:USD] [--json]';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function usageError(message: string): number {
  process.stderr.write(`booksync rates: ${message}\nusage: ${USAGE}\n`);
  return 64;
}

/** A run for people: what was stored per pair, and each source's error. */
export function ratesRunText(run: RatesRun): string {
  if (run.provider === undefined && run.folder === undefined && run.errors.length === 0)
    return 'no rates source is configured (rates.provider is none and rates.folder is not set)';
  const created = run.stored.reduce((n, s) => n + s.count, 0);
  const lines = [`stored ${created} new rate document(s)`];
  if (run.stored.length > 0)
    lines.push(
      table([
        ['  pair', 'first', 'last', 'count'],
        ...run.stored.map((s) => [`  ${s.pair}`, s.first, s.last, String(s.count)]),
      ]).trimEnd(),
    );
  if (run.provider)
    lines.push(
      `ecb: ${run.provider.created} new, ${run.provider.unchanged} already stored, ${run.provider.skipped} skipped`,
    );
  const files = new Set<string>();
  for (const f of run.folder ?? []) {
    files.add(f.file);
    // A file's error message names the file and line already.
    lines.push(
      f.error
        ? `refused: ${f.error.message} [${f.error.code}]`
        : `${f.file}: ${f.stored?.created.length ?? 0} new, ${f.stored?.unchanged ?? 0} already stored`,
    );
  }
  for (const e of run.errors.filter((x) => !files.has(x.source)))
    lines.push(`error: ${e.source}: ${e.message} [${e.code}]`);
  return lines.join('\n');
}

function ratesTable(rates: readonly RateDoc[]): string {
  if (rates.length === 0) return 'no rates stored';
  return table([
    ['date', 'pair', 'rate', 'source'],
    ...rates.map((r) => [r.date, `${r.base}:${r.quote}`, r.rate, r.source]),
  ]);
}

export const RATES_COMMANDS: Record<string, Command> = {
  rates: {
    summary: 'exchange rates: fetch the configured sources now; list the stored rates (--pair)',
    usage: USAGE,
    options: { json: { type: 'boolean' }, pair: { type: 'string' } },
    async run({ values, positionals, configPath, env }) {
      const [action, ...rest] = positionals;
      if (rest.length > 0) return usageError(`unexpected argument '${rest[0]}'`);
      const { createCliLogger } = await import('../daemon/cli-logger');
      const logger = createCliLogger(configPath, env);
      const commands = await import('../daemon/rates-commands');
      if (action === 'fetch') {
        if (values.pair !== undefined) return usageError('--pair belongs to rates list');
        const run = await commands.ratesFetch(configPath, env, logger);
        out(values.json ? JSON.stringify(run, null, 2) : ratesRunText(run));
        const configured = run.provider !== undefined || run.folder !== undefined;
        return run.errors.length > 0 || !configured ? 1 : 0;
      }
      if (action === 'list') {
        const pair = values.pair;
        if (pair !== undefined && (typeof pair !== 'string' || !PAIR_TEXT.test(pair)))
          return usageError(
            `--pair must be two currency codes such as EUR:USD (got ${JSON.stringify(pair)})`,
          );
        const rates = await commands.ratesList(configPath, env, logger, pair?.toUpperCase());
        out(values.json ? JSON.stringify(rates, null, 2) : ratesTable(rates));
        return 0;
      }
      return usageError(action ? `unknown action '${action}'` : 'fetch or list?');
    },
  },
};
