import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { unreadableReason } from './errors';
import type { RawIssue } from './issues';
import type { KeyPath } from './locate';

/**
 * Secret references, resolved: `{ env: NAME }` reads the daemon's environment, `{ file: PATH }`
 * reads a file. A relative file name is looked up in $CREDENTIALS_DIRECTORY (systemd
 * LoadCredential=) first when it is set, then next to the config file. Every reference in the
 * file is resolved (a disabled connection's too), so a broken reference shows at load time, not
 * when the connection is switched on. Messages name the key and the variable or file, never
 * the value.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface SecretContext {
  env: NodeJS.ProcessEnv;
  /** Folder of the config file. */
  configDir: string;
}

export interface ResolvedSecrets {
  /** Value by key path (`JSON.stringify(path)`), for the paths that resolved. */
  readonly values: ReadonlyMap<string, string>;
  readonly issues: RawIssue[];
}

export const secretKey = (path: KeyPath): string => JSON.stringify(path);

/** Where secrets may sit: local_api.password, cloud.auth.password, every bank.connections[].credentials value, alerts.webhooks[].url and .token. */
export function secretPaths(data: unknown): KeyPath[] {
  if (!isObj(data)) return [];
  const paths: KeyPath[] = [['local_api', 'password'], ['cloud', 'auth', 'password']];
  const list = isObj(data.bank) && Array.isArray(data.bank.connections) ? data.bank.connections : [];
  list.forEach((c, i) => {
    if (isObj(c) && isObj(c.credentials)) for (const key of Object.keys(c.credentials)) paths.push(['bank', 'connections', i, 'credentials', key]);
  });
  const hooks = isObj(data.alerts) && Array.isArray(data.alerts.webhooks) ? data.alerts.webhooks : [];
  hooks.forEach((_h, i) => paths.push(['alerts', 'webhooks', i, 'url'], ['alerts', 'webhooks', i, 'token']));
  return paths;
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let here = data;
  for (const seg of path) here = isObj(here) || Array.isArray(here) ? (here as Obj)[seg as string] : undefined;
  return here;
}

function readSecretFile(name: string, ctx: SecretContext): { value: string } | { problem: string } {
  const candidates = isAbsolute(name)
    ? [name]
    : [...(ctx.env.CREDENTIALS_DIRECTORY ? [join(ctx.env.CREDENTIALS_DIRECTORY, name)] : []), resolve(ctx.configDir, name)];
  let last: NodeJS.ErrnoException | undefined;
  for (const candidate of candidates) {
    try {
      // One trailing newline is an artefact of `echo ... > file`, not part of the secret.
      const value = readFileSync(candidate, 'utf8').replace(/\r?\n$/, '');
      return value === '' ? { problem: `secret file ${candidate} is empty` } : { value };
    } catch (err) {
      last = err as NodeJS.ErrnoException;
      if (last.code !== 'ENOENT') break;
    }
  }
  return { problem: `cannot read secret file ${candidates.join(' or ')} (${unreadableReason(last)})` };
}

export function resolveSecrets(data: unknown, ctx: SecretContext): ResolvedSecrets {
  const values = new Map<string, string>();
  const issues: RawIssue[] = [];
  for (const path of secretPaths(data)) {
    const ref = valueAt(data, path);
    // Anything but a well-formed reference is the schema's to report.
    if (!isObj(ref) || Object.keys(ref).length !== 1) continue;
    if (typeof ref.env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.env)) {
      const value = ctx.env[ref.env];
      if (value === undefined) issues.push({ path, at: 'value', target: [...path, 'env'], message: `environment variable ${ref.env} is not set (set it in the daemon's environment, e.g. Environment= or EnvironmentFile= in the systemd unit)` });
      else if (value === '') issues.push({ path, at: 'value', target: [...path, 'env'], message: `environment variable ${ref.env} is empty` });
      else values.set(secretKey(path), value);
    } else if (typeof ref.file === 'string' && ref.file !== '') {
      const result = readSecretFile(ref.file, ctx);
      if ('value' in result) values.set(secretKey(path), result.value);
      else issues.push({ path, at: 'value', target: [...path, 'file'], message: result.problem });
    }
  }
  return { values, issues };
}
