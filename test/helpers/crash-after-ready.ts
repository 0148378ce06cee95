/**
 * Preloaded (`node --require`) into a daemon under test: once the daemon logs `daemon.ready`, it
 * throws an error nobody catches, carrying the secrets the test configured, so the test can see
 * the daemon log it as one JSON line with the secrets masked, and exit non-zero.
 */
import fs from 'node:fs';

const write = process.stdout.write.bind(process.stdout);
let armed = true;
process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
  const result = (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  if (armed && String(chunk).includes('"event":"daemon.ready"')) {
    armed = false;
    const fromEnv = process.env.TEST_SECRET_ENV ?? '';
    const fromFile = process.env.TEST_SECRET_FILE
      ? fs.readFileSync(process.env.TEST_SECRET_FILE, 'utf8').trim()
      : '';
    setImmediate(() => {
      throw new Error(`cloud refused password ${fromEnv} and token ${fromFile}`);
    });
  }
  return result;
};
