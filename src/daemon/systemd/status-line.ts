import { valueText } from '../../shared/text';

/** What the daemon's services report for `booksync status`, as far as the status line reads it. */
export interface ServiceReports {
  sync?: Record<string, unknown>;
  bank?: Record<string, unknown>;
}

/** Bank statuses counted as "ok" in the status line; every other status is named with its count. */
const BANK_OK = new Set(['connected', 'fetching']);

/**
 * The one line `systemctl status` shows (STATUS=), e.g.
 * "sync online; 3 bank connections ok; 0 open conflicts" or
 * "sync offline; 1 bank connection ok, 1 auth_required; 2 open conflicts".
 */
export function statusLine(reports: ServiceReports): string {
  const parts: string[] = [];
  if (reports.sync) parts.push(`sync ${valueText(reports.sync.state ?? 'unknown')}`);
  const connections = Array.isArray(reports.bank?.connections)
    ? (reports.bank.connections as Array<{ status?: unknown }>)
    : undefined;
  if (connections) {
    const byStatus = new Map<string, number>();
    let ok = 0;
    for (const c of connections) {
      const status = valueText(c.status ?? 'unknown');
      if (BANK_OK.has(status)) ok++;
      else byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    }
    const others = [...byStatus]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${n} ${s}`);
    parts.push([`${ok} bank connection${ok === 1 ? '' : 's'} ok`, ...others].join(', '));
  }
  if (reports.sync && typeof reports.sync.open_conflicts === 'number') {
    const n = reports.sync.open_conflicts;
    parts.push(`${n} open conflict${n === 1 ? '' : 's'}`);
  }
  return parts.length > 0 ? parts.join('; ') : 'running';
}
