import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type YAMLError,
} from 'yaml';
import { buildConfig } from './build';
import type { ConfigData } from './data';
import { ConfigError, unreadableReason, type ConfigIssue } from './errors';
import { FORMATS } from './formats';
import { schemaIssues, type RawIssue } from './issues';
import { formatKeyPath, Locator, pathOfKeyAt } from '../shared/yaml-locate';
import { configSchema } from './schema';
import { resolveSecrets, secretKey, secretPaths, type ResolvedSecrets } from './secrets';
import { preflightIssues } from './preflight';
import { semanticIssues } from './semantic';
import type { Config } from './types';
import { utf8Problem } from './utf8';

export interface LoadOptions {
  /** Environment for `{ env: NAME }` secrets, $STATE_DIRECTORY and $CREDENTIALS_DIRECTORY. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * `skip` leaves secret references unresolved (each secret reads as ''), for commands that only
   * read from the daemon or the books: the admin's shell need not have the unit's environment or
   * credentials. Default `resolve`.
   */
  secrets?: 'resolve' | 'skip';
  /** Also check what `start` needs on disk (src/config/preflight.ts): `start`, reload and `check-config` do. */
  preflight?: boolean;
}

let compiled: ValidateFunction<ConfigData> | undefined;

/** A new ajv with the booksync formats. `useDefaults` fills the schema's defaults into the data. */
export function newAjv(options: { validateSchema?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    discriminator: true,
    allowUnionTypes: true,
    strict: true,
    // `{ required: [env] }` branches name keys their parent defines; that is the point of them.
    strictRequired: false,
    // The schema is fixed and checked against the draft-07 meta-schema by a unit test; skipping
    // that check and the code optimiser here cuts start-up compile time by about half.
    validateSchema: options.validateSchema ?? false,
    code: { optimize: false },
  });
  for (const [name, check] of Object.entries(FORMATS))
    ajv.addFormat(name, { type: 'string', validate: (v: string) => check(v) === undefined });
  return ajv;
}

/** The validator, compiled on first use. */
function validator(): ValidateFunction<ConfigData> {
  compiled ??= newAjv().compile<ConfigData>(configSchema);
  return compiled;
}

const SECTIONS = Object.keys(configSchema.properties as object).join(', ');

const YAML_MESSAGES: Readonly<Record<string, (e: YAMLError) => string>> = {
  DUPLICATE_KEY: () => 'duplicate key (a key may appear only once in a mapping)',
  TAB_AS_INDENT: () => 'tab used for indentation (indent with spaces)',
  MULTIPLE_DOCS: () => 'more than one YAML document (expected exactly one; remove the extra ---)',
  TAG_RESOLVE_FAILED: (e) =>
    `${e.message} (expected plain values: text, numbers, true/false, null, mappings and lists, without tags)`,
};

function yamlMessage(e: YAMLError): string {
  return YAML_MESSAGES[e.code]?.(e) ?? `${e.message.replace(/\.$/, '')} (YAML syntax)`;
}

/** Problems the schema cannot see: YAML syntax, dangling aliases, an empty or non-mapping file. */
function documentIssues(
  doc: Document,
  at: (offset: number) => { line: number; col: number },
): Omit<ConfigIssue, 'file'>[] {
  const issues: Omit<ConfigIssue, 'file'>[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const path = e.code === 'DUPLICATE_KEY' ? formatKeyPath(pathOfKeyAt(doc, e.pos[0])) : '';
    issues.push({ ...at(e.pos[0]), path, message: yamlMessage(e) });
  }
  visit(doc, {
    Alias(_, node) {
      if (!node.resolve(doc))
        issues.push({
          ...at(node.range?.[0] ?? 0),
          path: '',
          message: `unknown alias *${node.source} (expected an anchor &${node.source} defined above it)`,
        });
    },
  });
  if (issues.length) return issues;
  const top = doc.contents;
  if (top === null || (isScalar(top) && top.value === null)) {
    issues.push({
      line: 1,
      col: 1,
      path: '',
      message: `the file is empty (expected a mapping of sections: ${SECTIONS})`,
    });
  } else if (!isMap(top)) {
    const kind = isSeq(top) ? 'a list' : isAlias(top) ? 'an alias' : 'a single value';
    issues.push({
      ...at(top.range?.[0] ?? 0),
      path: '',
      message: `the top level is ${kind} (expected a mapping of sections: ${SECTIONS})`,
    });
  }
  return issues;
}

function invalid(file: string, issues: Omit<ConfigIssue, 'file'>[]): ConfigError {
  const sorted = [...issues].sort(
    (a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path),
  );
  return new ConfigError(
    'CONFIG_INVALID',
    file,
    sorted.map((i) => ({ file, ...i })),
  );
}

/** Every secret reference of `data` read as '' (LoadOptions.secrets `skip`). */
function unresolvedSecrets(data: unknown): ResolvedSecrets {
  return { values: new Map(secretPaths(data).map((path) => [secretKey(path), ''])), issues: [] };
}

/**
 * Parses and checks config text. `file` names the file in messages and is the base of relative
 * paths. Throws ConfigError (CONFIG_INVALID) with every issue found.
 */
export function parseConfigText(text: string, file: string, opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const absolute = resolve(file);
  const dir = dirname(absolute);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    resolveKnownTags: false,
  });
  const at = (offset: number) => lineCounter.linePos(offset);

  const structural = documentIssues(doc, at);
  if (structural.length) throw invalid(file, structural);

  let data: Record<string, unknown>;
  try {
    data = doc.toJS() as Record<string, unknown>;
  } catch (err) {
    // e.g. too many aliases (a "billion laughs" document)
    throw invalid(file, [
      {
        line: 1,
        col: 1,
        path: '',
        message: `cannot read the YAML document: ${(err as Error).message}`,
      },
    ]);
  }
  if (data.state_dir === undefined && env.STATE_DIRECTORY) {
    // systemd sets one path per StateDirectory= entry, separated by ':'; ours is the first.
    data.state_dir = env.STATE_DIRECTORY.split(':')[0];
  }

  const validate = validator();
  // ajv runs a mapping's allOf/if before its properties, so a conditional on a connection
  // (provider X → settings schema X) would see `settings` before its default `{}` is filled in.
  // The first pass fills the defaults; the second validates the completed data.
  validate(data);
  const checked = validate(data) ? data : undefined;
  const raw: RawIssue[] = checked ? [] : schemaIssues(validate.errors ?? [], data);
  raw.push(...semanticIssues(data));
  const secrets =
    opts.secrets === 'skip'
      ? unresolvedSecrets(data)
      : resolveSecrets(data, { env, configDir: dir });
  raw.push(...secrets.issues);
  if (opts.preflight) raw.push(...preflightIssues(data, dir));

  if (raw.length) {
    const locator = new Locator(doc, lineCounter);
    const seen = new Set<string>();
    const issues: Omit<ConfigIssue, 'file'>[] = [];
    for (const issue of raw) {
      const target = issue.target ?? issue.path;
      const place = `${issue.at}\u0000${JSON.stringify(target)}`;
      if (seen.has(place)) continue; // the schema's word on a place comes first
      seen.add(place);
      const pos = issue.at === 'key' ? locator.key(target) : locator.value(target);
      issues.push({ ...pos, path: formatKeyPath(issue.path), message: issue.message });
    }
    throw invalid(file, issues);
  }
  if (!checked) throw new Error('the schema rejected the config without naming an issue'); // SNH: schemaIssues reports every error
  return buildConfig(checked, { file: absolute, dir, secrets });
}

/**
 * Reads and checks the config file (default /etc/booksync/booksync.yaml; the CLI passes
 * --config). Throws ConfigError: CONFIG_UNREADABLE when the file cannot be read, CONFIG_INVALID
 * with every issue otherwise.
 */
export function loadConfig(path: string, opts: LoadOptions = {}): Config {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const message = `cannot read the config file (${unreadableReason(err)})`;
    throw new ConfigError(
      'CONFIG_UNREADABLE',
      path,
      [{ file: path, line: 0, col: 0, path: '', message }],
      { cause: err },
    );
  }
  const bad = utf8Problem(bytes);
  if (bad) {
    const message = `invalid UTF-8 (byte 0x${bad.byte.toString(16).padStart(2, '0')}); save the file as UTF-8`;
    throw new ConfigError('CONFIG_INVALID', path, [
      { file: path, line: bad.line, col: bad.col, path: '', message },
    ]);
  }
  return parseConfigText(bytes.toString('utf8'), path, opts);
}
