import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import type { SharedCodeOf } from './error-codes';
import { StateFileError } from './errors';

/**
 * Credential state files (a SimpleFIN access URL, GoCardless tokens, the embedded cloud's
 * password) are written with mode 0600 from the first byte (created with that mode, then
 * renamed into place, so a reader never sees a partial file and the content is never looser than
 * 0600 even for an instant) and re-tightened if someone loosened them.
 */
export async function writePrivateFile(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const handle = await fsp.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw stateFileError('STATE_FILE_WRITE', 'cannot write', file, err);
  }
}

/** Reads a credential state file; `undefined` when it does not exist. Tightens its mode to 0600. */
export async function readPrivateFile(file: string): Promise<string | undefined> {
  try {
    const content = await fsp.readFile(file, 'utf8');
    const { mode } = await fsp.stat(file);
    if ((mode & 0o077) !== 0) await fsp.chmod(file, 0o600);
    return content;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateFileError('STATE_FILE_READ', 'cannot read', file, err);
  }
}

/** A state file problem is the installation's (permissions, full disk): retrying will not help. */
function stateFileError(
  code: SharedCodeOf<'StateFileError'>,
  verb: string,
  file: string,
  err: unknown,
): StateFileError {
  const errno = (err as NodeJS.ErrnoException).code;
  return new StateFileError(
    code,
    `${verb} the state file ${file}${errno ? ` (${errno})` : ''}; check the state directory's owner and free space`,
    {
      cause: err,
      details: { file },
    },
  );
}

/**
 * Creates `dir` (and missing parents) for the service user alone (0700) and takes group and
 * other bits off it when it already exists. Returns the mode it had when that was looser.
 */
export function ensurePrivateDir(dir: string): number | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  chmodSync(dir, mode & 0o700);
  return mode;
}
