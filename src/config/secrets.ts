import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { unreadableReason } from './errors';
import { rawConnections, type RawIssue } from './issues';
import type { KeyPath } from '../shared/yaml-locate';
import { isPlainObject } from '../shared/objects';

/**
 * Secret references, resolved: `{ env: NAME }` reads the daemon's environment, `{ file: PATH }`
 * reads a file. A relative file name is looked up in $CREDENTIALS_DIRECTORY (systemd
 * LoadCredential=) first when it is set, then next to the config file. Every reference in the
 * file is resolved (a disabled connection's too), so a broken reference shows at load time, not
 * when the connection is switched on. Messages name the key and the variable or file, never
 * the value. A secret file that group or others may read or change is refused, as ssh refuses such
 * a private key; systemd controls the files under $CREDENTIALS_DIRECTORY, so those are accepted.
 */

type Obj = Record<string, unknown>;

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
  if (!isPlainObject(data)) return [];
  const paths: KeyPath[] = [
    ['local_api', 'password'],
    ['cloud', 'auth', 'password'],
  ];
  const list = rawConnections(data);
  list.forEach((c, i) => {
    if (isPlainObject(c) && isPlainObject(c.credentials))
      for (const key of Object.keys(c.credentials))
        paths.push(['bank', 'connections', i, 'credentials', key]);
  });
  const hooks =
    isPlainObject(data.alerts) && Array.isArray(data.alerts.webhooks) ? data.alerts.webhooks : [];
  hooks.forEach((_h, i) =>
    paths.push(['alerts', 'webhooks', i, 'url'], ['alerts', 'webhooks', i, 'token']),
  );
  return paths;
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let here = data;
  for (const seg of path)
    here = isPlainObject(here) || Array.isArray(here) ? (here as Obj)[seg as string] : undefined;
  return here;
}

function readSecretFile(name: string, ctx: SecretContext): { value: string } | { problem: string } {
  const candidates = isAbsolute(name)
    ? [name]
    : [
        ...(ctx.env.CREDENTIALS_DIRECTORY ? [join(ctx.env.CREDENTIALS_DIRECTORY, name)] : []),
        resolve(ctx.configDir, name),
      ];
  let last: NodeJS.ErrnoException | undefined;
  for (const candidate of candidates) {
    try {
      // One trailing newline is an artefact of `echo ... > file`, not part of the secret.
      const value = readFileSync(candidate, 'utf8').replace(/\r?\n$/, '');
      if (value === '') return { problem: `secret file ${candidate} is empty` };
      const open = openTo(candidate, ctx.env.CREDENTIALS_DIRECTORY);
      return open ? { problem: open } : { value };
    } catch (err) {
      last = err as NodeJS.ErrnoException;
      if (last.code !== 'ENOENT') break;
    }
  }
  return {
    problem: `cannot read secret file ${candidates.join(' or ')} (${unreadableReason(last)})`,
  };
}

/** The problem with `file`'s mode, when group or others have any permission on it outside $CREDENTIALS_DIRECTORY. */
function openTo(file: string, credentialsDir: string | undefined): string | undefined {
  if (credentialsDir) {
    const inside = relative(resolve(credentialsDir), resolve(file));
    if (inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) return undefined;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const who = [mode & 0o070 ? 'group' : '', mode & 0o007 ? 'others' : '']
    .filter(Boolean)
    .join(' and ');
  return `secret file ${file} has mode 0${mode.toString(8).padStart(3, '0')}: ${who} may read or change it; make it private to the service user: chmod 600 ${shellQuote(file)}`;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export function resolveSecrets(data: unknown, ctx: SecretContext): ResolvedSecrets {
  const values = new Map<string, string>();
  const issues: RawIssue[] = [];
  for (const path of secretPaths(data)) {
    const ref = valueAt(data, path);
    // Anything but a well-formed reference is the schema's to report.
    if (!isPlainObject(ref) || Object.keys(ref).length !== 1) continue;
    if (typeof ref.env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.env)) {
      const value = ctx.env[ref.env];
      if (value === undefined)
        issues.push({
          path,
          at: 'value',
          target: [...path, 'env'],
          message: `environment variable ${ref.env} is not set (set it in the daemon's environment, e.g. Environment= or EnvironmentFile= in the systemd unit)`,
        });
      else if (value === '')
        issues.push({
          path,
          at: 'value',
          target: [...path, 'env'],
          message: `environment variable ${ref.env} is empty`,
        });
      else values.set(secretKey(path), value);
    } else if (typeof ref.file === 'string' && ref.file !== '') {
      const result = readSecretFile(ref.file, ctx);
      if ('value' in result) values.set(secretKey(path), result.value);
      else issues.push({ path, at: 'value', target: [...path, 'file'], message: result.problem });
    }
  }
  return { values, issues };
}
