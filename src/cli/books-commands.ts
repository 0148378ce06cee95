import fs from 'node:fs';
import type { RunOutcome } from '../bank';
import { formatAmount } from '../shared/money';
import { table } from './format';
import { valueText } from '../shared/text';
import { openItemsText } from './open-items-table';
import { trialBalanceTable, type TrialBalanceView } from './report-table';
import { acceptedText, suggestionsText } from './suggest-table';

/**
 * Commands that read or act on the books, sync and bank feeds. Each works against the running
 * daemon (control socket) or, when none runs, on the books opened directly.
 */
export interface CommandArgs {
  values: Record<string, unknown>;
  positionals: string[];
  configPath: string;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  summary: string;
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
  run(args: CommandArgs): Promise<number>;
}

const offline = () => import('../daemon/offline-commands');

async function quietLogger(configPath: string, env: NodeJS.ProcessEnv) {
  const { createCliLogger } = await import('../daemon/cli-logger');
  return createCliLogger(configPath, env);
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

function money(amount: unknown, currency: unknown): string {
  return typeof amount === 'number' && typeof currency === 'string'
    ? `${formatAmount(amount, currency)} ${currency}`
    : '-';
}

function usageError(message: string, usage: string): number {
  process.stderr.write(`${message}\nusage: ${usage}\n`);
  return 64;
}

export const BOOKS_COMMANDS: Record<string, Command> = {
  conflicts: {
    summary:
      'list open sync conflicts (--resolved: the audit of automatic resolutions); resolve one',
    usage:
      'booksync conflicts [--resolved] [--json] | booksync conflicts resolve ID (--take local|remote | --doc FILE.json)',
    options: {
      resolved: { type: 'boolean' },
      json: { type: 'boolean' },
      take: { type: 'string' },
      doc: { type: 'string' },
    },
    async run({ values, positionals, configPath, env }) {
      const o = await offline();
      const logger = await quietLogger(configPath, env);
      if (positionals[0] === 'resolve') {
        const id = positionals[1];
        if (!id) return usageError('conflicts resolve: which document?', this.usage);
        let choice: { take: 'local' | 'remote' } | { doc: Record<string, unknown> };
        if (values.take === 'local' || values.take === 'remote') choice = { take: values.take };
        else if (typeof values.doc === 'string')
          choice = {
            doc: JSON.parse(fs.readFileSync(values.doc, 'utf8')) as Record<string, unknown>,
          };
        else
          return usageError(
            'conflicts resolve: give --take local, --take remote or --doc FILE.json',
            this.usage,
          );
        const record = await o.resolveConflict(configPath, env, logger, id, choice);
        if (values.json) json(record);
        else
          out(
            `resolved ${id}: took ${(record as { taken?: string }).taken ?? 'the given document'}`,
          );
        return 0;
      }
      if (positionals.length)
        return usageError(`conflicts: unknown argument '${positionals[0]}'`, this.usage);
      const rows = await o.listConflicts(configPath, env, logger, Boolean(values.resolved));
      if (values.json) {
        json(rows);
        return 0;
      }
      if (values.resolved) {
        out(
          rows.length
            ? table([
                ['resolved_at', 'document', 'strategy', 'taken', 'overwritten'],
                ...rows.map((r) => [
                  String(r.resolved_at),
                  String(r.doc_id),
                  String(r.strategy),
                  String(r.taken),
                  JSON.stringify(r.overwritten),
                ]),
              ])
            : 'no automatic resolutions recorded',
        );
      } else {
        out(
          rows.length
            ? table([
                ['detected_at', 'document', 'type', 'reason'],
                ...rows.map((r) => [
                  String(r.detected_at),
                  String(r.doc_id),
                  String(r.type),
                  String(r.reason),
                ]),
              ])
            : 'no open conflicts',
        );
      }
      return 0;
    },
  },
  sync: {
    summary:
      'sync admin: strip-excluded removes fields newly excluded from push from the cloud copies (see `booksync status`)',
    usage: 'booksync sync strip-excluded [--json]',
    options: { json: { type: 'boolean' } },
    async run({ values, positionals, configPath, env }) {
      if (positionals[0] !== 'strip-excluded' || positionals.length > 1)
        return usageError(
          `sync: unknown or missing action${positionals[0] ? ` '${positionals.join(' ')}'` : ''}`,
          this.usage,
        );
      const o = await offline();
      const result = await o.stripExcluded(configPath, env, await quietLogger(configPath, env));
      if (values.json) json(result);
      else out(`removed newly excluded fields from ${result.docs} cloud document(s)`);
      return 0;
    },
  },
  fetch: {
    summary: 'fetch bank connections now (all enabled ones, or those named) and print the outcome',
    usage: 'booksync fetch [NAME...] [--since YYYY-MM-DD] [--json]',
    options: { json: { type: 'boolean' }, since: { type: 'string' } },
    async run({ values, positionals, configPath, env }) {
      const since = values.since as string | undefined;
      if (since !== undefined && (!positionals.length || !/^\d{4}-\d{2}-\d{2}$/.test(since)))
        return usageError(
          'fetch: --since takes a date YYYY-MM-DD and the names of the connections to fetch from it',
          this.usage,
        );
      const outcomes: RunOutcome[] = await (
        await offline()
      ).fetchNow(configPath, env, await quietLogger(configPath, env), positionals, since);
      if (values.json) json(outcomes);
      else {
        out(
          table([
            [
              'connection',
              'status',
              'window',
              'fetched',
              'new',
              'duplicates',
              'pending',
              'ms',
              'next run',
              'error',
            ],
            ...outcomes.map((r) => [
              r.connection,
              r.skipped ? `${r.status} (skipped: ${r.skipped})` : r.status,
              r.window ? `${r.window.from}..${r.window.to}` : '-',
              String(r.counts.fetched),
              String(r.counts.new),
              String(r.counts.duplicates),
              String(r.counts.pending),
              String(r.ms),
              r.next_run_at ?? '-',
              r.error ? `${r.error.code}: ${r.error.message}` : '-',
            ]),
          ]),
        );
        for (const r of outcomes) for (const w of r.warnings) out(`warning: ${r.connection}: ${w}`);
      }
      return outcomes.some((r) => r.error) ? 1 : 0;
    },
  },
  bank: {
    summary:
      'bank duplicates [--days N]: likely duplicate statement lines for review (changes nothing)',
    usage: 'booksync bank duplicates [--days N] [--json]',
    options: { days: { type: 'string' }, json: { type: 'boolean' } },
    async run({ values, positionals, configPath, env }) {
      if (positionals[0] !== 'duplicates' || positionals.length > 1)
        return usageError(`bank: unknown subcommand '${positionals.join(' ')}'`, this.usage);
      const days = values.days === undefined ? undefined : Number(values.days);
      if (days !== undefined && (!/^\d+$/.test(String(values.days)) || days > 366))
        return usageError(
          'bank duplicates: --days takes a whole number of days (0 to 366)',
          this.usage,
        );
      const pairs = await (
        await offline()
      ).bankDuplicates(configPath, env, await quietLogger(configPath, env), days);
      if (values.json) json(pairs);
      else if (pairs.length === 0) out('no likely duplicates');
      else {
        out(
          table([
            ['account', 'amount', 'days apart', 'line', 'date', 'payee', 'line', 'date', 'payee'],
            ...pairs.map((p) => [
              p.account,
              money(p.amount, p.currency),
              String(p.days_apart),
              p.lines[0].id,
              p.lines[0].date,
              p.lines[0].payee ?? '-',
              p.lines[1].id,
              p.lines[1].date,
              p.lines[1].payee ?? '-',
            ]),
          ]),
        );
        out(`${pairs.length} pair(s) to review; nothing was changed`);
      }
      return 0;
    },
  },
  institutions: {
    summary: 'list or search the shipped catalog of banks (name, BIC, country, id)',
    usage: 'booksync institutions [SEARCH] [--json]',
    options: { json: { type: 'boolean' } },
    async run({ values, positionals }) {
      const { searchInstitutions } = await import('../bank');
      const found = searchInstitutions(positionals.join(' '));
      if (values.json) json(found);
      else
        out(
          found.length
            ? table([
                ['id', 'name', 'country', 'bic', 'providers', 'verified'],
                ...found.map((i) => [
                  i.id,
                  i.name,
                  i.country,
                  i.bic ?? '-',
                  i.providers.join(','),
                  i.unverified ? `no: ${i.unverified}` : 'yes',
                ]),
              ])
            : 'no institution matches',
        );
      return 0;
    },
  },
  parse: {
    summary:
      'print the normalised transactions of a statement file (OFX/QFX, camt.053, MT940, CSV); writes nothing',
    usage:
      'booksync parse FILE [--json] [--format auto|ofx|camt053|mt940|csv] [--csv-mapping MAPPING.yaml] [--currency EUR]',
    options: {
      json: { type: 'boolean' },
      format: { type: 'string' },
      'csv-mapping': { type: 'string' },
      currency: { type: 'string' },
    },
    async run({ values, positionals }) {
      const file = positionals[0];
      if (!file || positionals.length > 1)
        return usageError('parse: give one statement file', this.usage);
      const { runParse } = await import('./parse-command');
      return runParse(file, {
        json: values.json === true,
        format: values.format as string | undefined,
        csvMappingFile: values['csv-mapping'] as string | undefined,
        currency: values.currency as string | undefined,
      });
    },
  },
  reconcile: {
    summary:
      'list lines waiting in suspense with explained suggestions (--pending); accept one, reconcile a line with an invoice, or undo',
    usage:
      'booksync reconcile --pending [--json] | booksync reconcile LINE --accept N [--expect TARGET] | booksync reconcile LINE --with INVOICE [--write-off ACCOUNT [--write-off-limit AMOUNT]] | booksync reconcile LINE --undo',
    options: {
      pending: { type: 'boolean' },
      with: { type: 'string' },
      accept: { type: 'string' },
      expect: { type: 'string' },
      'write-off': { type: 'string' },
      'write-off-limit': { type: 'string' },
      undo: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run({ values, positionals, configPath, env }) {
      const o = await offline();
      const logger = await quietLogger(configPath, env);
      if (values.pending) {
        const lines = await o.ledgerPending(configPath, env, logger);
        if (values.json) json(lines);
        else out(suggestionsText(lines));
        return 0;
      }
      const line = positionals[0];
      if (!line) return usageError('reconcile: give --pending, or a statement line id', this.usage);
      if (values.undo) {
        const result = await o.ledgerUndo(configPath, env, logger, line);
        if (values.json) json(result);
        else {
          if (result.transfer)
            out(
              `undone: transfer ${result.transfer.transfer} (${result.transfer.lines.join(' → ')}) reversed; both lines are back in suspense`,
            );
          else out(`undone: ${result.undone.length} payment(s) of ${line} reversed`);
          for (const u of result.undone)
            if (u.write_off)
              out(
                `  write-off of ${money(u.write_off.amount, u.currency)} to ${u.write_off.account} reversed`,
              );
        }
        return 0;
      }
      if (values.accept !== undefined) {
        if (typeof values.accept !== 'string' || !/^[1-9]\d*$/.test(values.accept))
          return usageError('reconcile: --accept takes a suggestion number (1, 2, 3)', this.usage);
        const result = await o.ledgerAccept(
          configPath,
          env,
          logger,
          line,
          Number(values.accept),
          values.expect as string | undefined,
        );
        if (values.json) json(result);
        else out(acceptedText(result));
        return 0;
      }
      if (typeof values.with !== 'string')
        return usageError('reconcile: give --with INVOICE, --accept N or --undo', this.usage);
      if (values['write-off-limit'] !== undefined && values['write-off'] === undefined)
        return usageError('reconcile: --write-off-limit goes with --write-off ACCOUNT', this.usage);
      const result = await o.ledgerReconcile(configPath, env, logger, line, values.with, {
        ...(typeof values['write-off'] === 'string' ? { write_off: values['write-off'] } : {}),
        ...(typeof values['write-off-limit'] === 'string'
          ? { write_off_limit: values['write-off-limit'] }
          : {}),
      });
      if (values.json) json(result);
      else {
        out(
          result.already
            ? `${line} was already reconciled with ${values.with}`
            : `reconciled ${line} with ${values.with}`,
        );
        const w = result.payment.write_off;
        if (w && !result.already)
          out(`  ${money(Math.abs(w.amount), w.currency)} written off to ${w.account}`);
      }
      return 0;
    },
  },
  report: {
    summary: 'trial balance and unreconciled bank lines: the daily check (--json for scripts)',
    usage: 'booksync report [--date YYYY-MM-DD] [--include-draft] [--json]',
    options: {
      date: { type: 'string' },
      'include-draft': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run({ values, configPath, env }) {
      const report = await (
        await offline()
      ).ledgerReportOf(
        configPath,
        env,
        await quietLogger(configPath, env),
        values.date as string | undefined,
        Boolean(values['include-draft']),
      );
      if (values.json) {
        json(report);
        return 0;
      }
      const tb = report.trial_balance as unknown as TrialBalanceView;
      out(
        `Trial balance${values.date ? ` at ${valueText(values.date)}` : ''}: ${tb.balanced ? 'balanced' : 'NOT BALANCED'}`,
      );
      out(table(trialBalanceTable(tb)));
      const un = report.unreconciled as unknown as Array<Record<string, unknown>>;
      out(`\nUnreconciled bank lines: ${un.length}`);
      if (un.length)
        out(
          table([
            ['line', 'date', 'amount', 'status', 'payee'],
            ...un.map((l) => [
              String(l.line ?? l._id),
              String(l.date),
              money(l.amount, l.currency),
              String(l.status),
              valueText(l.payee ?? '-'),
            ]),
          ]),
        );
      out(openItemsText(report.open_items));
      return 0;
    },
  },
};
