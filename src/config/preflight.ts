import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { rawConnections, type RawIssue } from './issues';
import { isPlainObject } from '../shared/objects';

/**
 * What `start` needs from the file system, checked without changing anything, so a config that
 * `check-config` passes starts: the state folder can be created (or is a writable folder), the
 * log file's folder and every enabled drop folder exist, the chart file can be read.
 */

type Obj = Record<string, unknown>;

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why `dir` cannot be the state folder, or undefined when it can (existing or creatable). */
function stateDirProblem(dir: string): string | undefined {
  const here = statOf(dir);
  if (here) {
    if (!here.isDirectory()) return `${dir} is not a folder`;
    return writable(dir) ? undefined : `the folder ${dir} is not writable by this user`;
  }
  // The nearest existing ancestor must be a folder this user may create entries in.
  for (
    let parent = dirname(dir), child = dir;
    parent !== child;
    child = parent, parent = dirname(parent)
  ) {
    const st = statOf(parent);
    if (!st) continue;
    if (!st.isDirectory()) return `cannot create ${dir}: ${parent} is a file, not a folder`;
    return writable(parent)
      ? undefined
      : `cannot create ${dir}: the folder ${parent} is not writable by this user`;
  }
  return `cannot create ${dir}`;
}

function folderProblem(dir: string, what: string): string | undefined {
  const st = statOf(dir);
  if (!st) return `${what} ${dir} does not exist (create it first)`;
  return st.isDirectory() ? undefined : `${what} ${dir} is not a folder`;
}

function fileProblem(file: string, what: string): string | undefined {
  const st = statOf(file);
  if (!st) return `${what} ${file} does not exist`;
  if (!st.isFile()) return `${what} ${file} is not a file`;
  try {
    accessSync(file, constants.R_OK);
  } catch {
    return `${what} ${file} is not readable by this user`;
  }
  return undefined;
}

/** The checks on data that passed the schema (defaults filled); relative paths are against `configDir`. */
export function preflightIssues(data: Obj, configDir: string): RawIssue[] {
  const out: RawIssue[] = [];
  const at = (p: string) => resolve(configDir, p);
  const push = (path: Array<string | number>, message: string | undefined) => {
    if (message) out.push({ path, at: 'value', message });
  };
  if (typeof data.state_dir === 'string') push(['state_dir'], stateDirProblem(at(data.state_dir)));
  if (isPlainObject(data.log) && typeof data.log.file === 'string')
    push(['log', 'file'], folderProblem(dirname(at(data.log.file)), 'the log folder'));
  if (isPlainObject(data.ledger) && typeof data.ledger.chart === 'string')
    push(['ledger', 'chart'], fileProblem(at(data.ledger.chart), 'the chart file'));
  const connections = rawConnections(data);
  connections.forEach((c, i) => {
    if (
      !isPlainObject(c) ||
      c.provider !== 'dropfolder' ||
      c.enabled === false ||
      !isPlainObject(c.settings) ||
      typeof c.settings.path !== 'string'
    )
      return;
    push(
      ['bank', 'connections', i, 'settings', 'path'],
      folderProblem(at(c.settings.path), 'the drop folder'),
    );
  });
  return out;
}
