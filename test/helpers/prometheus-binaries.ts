import { execFileSync } from 'node:child_process';

/**
 * Where Debian's `prometheus` package puts its programs (.ci/run installs it). Tests that need one
 * skip when it is missing, except under CI=true, where a missing binary is a failure.
 */
export function prometheusBinary(name: 'promtool' | 'prometheus'): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** The binary, or skips the suite (fails under CI). Call in a `before` hook. */
export function requirePrometheusBinary(
  ctx: Mocha.Context,
  name: 'promtool' | 'prometheus',
): string {
  const found = prometheusBinary(name);
  if (found) return found;
  if (process.env.CI === 'true')
    throw new Error(
      `${name} is not installed (CI=true): .ci/run installs Debian's prometheus package`,
    );
  ctx.skip();
  throw new Error('unreachable');
}
