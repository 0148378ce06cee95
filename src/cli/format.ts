import type { StatusReport } from '../daemon';
import { valueText } from '../shared/text';

/** Renders rows as an aligned plain-text table (first row is the header). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => (i === r.length - 1 ? cell : (cell ?? '').padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s}s`]
    .filter(Boolean)
    .slice(0, 2)
    .join(' ');
}

/** `booksync status` for people. Services render their own sections from their status objects. */
export function formatStatus(report: StatusReport): string {
  const out: string[] = [];
  out.push(
    `booksync ${report.version}: ${report.running ? `running (pid ${report.pid}, up ${duration(report.uptime_s ?? 0)})` : 'not running'}`,
  );
  out.push('');
  out.push('Config');
  for (const [k, v] of Object.entries(report.config)) out.push(`  ${k}: ${valueText(v)}`);
  out.push('');
  out.push(`Books (${report.store.path}): ${report.store.total} documents`);
  const counts = Object.entries(report.store.documents).sort(([a], [b]) => a.localeCompare(b));
  if (counts.length)
    out.push(
      table([['  type', 'count'], ...counts.map(([t, n]) => [`  ${t}`, String(n)])]).trimEnd(),
    );
  for (const [name, section] of Object.entries(report.services)) {
    out.push('');
    out.push(renderSection(name, section));
  }
  return out.join('\n') + '\n';
}

/**
 * A service section: scalars as `key: value` lines, and an array of flat objects (e.g. bank
 * connections) as a table.
 */
function renderSection(name: string, section: Record<string, unknown>): string {
  const lines = [name[0].toUpperCase() + name.slice(1)];
  for (const [k, v] of Object.entries(section)) {
    if (
      Array.isArray(v) &&
      v.every((row) => row && typeof row === 'object' && !Array.isArray(row))
    ) {
      const rows = v as Array<Record<string, unknown>>;
      if (rows.length === 0) {
        lines.push(`  ${k}: none`);
        continue;
      }
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      lines.push(`  ${k}:`);
      lines.push(
        table([
          cols.map((c, i) => (i === 0 ? `    ${c}` : c)),
          ...rows.map((r) => cols.map((c, i) => (i === 0 ? '    ' : '') + cell(r[c]))),
        ]).trimEnd(),
      );
    } else {
      lines.push(`  ${k}: ${cell(v)}`);
    }
  }
  return lines.join('\n');
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  return valueText(v);
}
