import { spawnSync } from 'node:child_process';

/**
 * Reference parsers the statement tests compare against, from Debian packages that `.ci/run`
 * installs (`python3-ofxparse`, `ofx` for libofx's `ofxdump`). Locally a missing one skips its
 * comparison; under CI (CI=true) a missing one fails, so CI never passes without comparing.
 */
export function requireOracle(
  ctx: Mocha.Context,
  found: boolean,
  what: string,
  install: string,
): void {
  if (found) return;
  if (process.env.CI === 'true')
    throw new Error(
      `${what} is not installed, and CI=true requires the comparison (apt-get install ${install})`,
    );
  process.stdout.write(
    `      (${what} is not installed: comparison skipped; \`apt-get install ${install}\` enables it)\n`,
  );
  ctx.skip();
}

/** libofx's `ofxdump`, when installed. */
export function findOfxdump(): string | undefined {
  const probe = spawnSync('ofxdump', ['--version'], { encoding: 'utf8' });
  return probe.error ? undefined : 'ofxdump';
}

/** A python3 that can import ofxparse (the Debian package installs it for /usr/bin/python3), or undefined. */
export function findOfxparsePython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(py, ['-c', 'import ofxparse'], { encoding: 'utf8' });
    if (probe.status === 0) return py;
  }
  return undefined;
}
