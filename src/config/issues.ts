import type { ErrorObject } from 'ajv';
import { FORMATS } from './formats';
import { pointerToPath, type KeyPath } from '../shared/yaml-locate';
import { configSchema, PATTERN_HELP, TITLES, type Schema } from './schema';
import { closest } from './suggest';
import { isPlainObject } from '../shared/objects';

/**
 * A problem before it is placed in the file. `at` says which node the position points at:
 * the value (bad values, and a mapping missing a required key) or the key (unknown keys).
 * `target` is the node to point at when it differs from `path` (a secret's `env:` value).
 */
export interface RawIssue {
  path: KeyPath;
  at: 'value' | 'key';
  message: string;
  target?: KeyPath;
}

/** `bank.connections` of a file not yet known to be valid: the list, or an empty one. */
export function rawConnections(data: Record<string, unknown>): unknown[] {
  return isPlainObject(data.bank) && Array.isArray(data.bank.connections)
    ? data.bank.connections
    : [];
}

export const SECRET_INLINE = 'secrets are never inline (write { env: NAME } or { file: PATH })';

/** Nouns for "unknown <noun> 'x'" by the key that holds the enum; other keys name themselves. */
const ENUM_NOUNS: Readonly<Record<string, string>> = {
  conflict: 'strategy',
  tie_breaker: 'strategy',
  post_moves: 'state',
  account_type: 'account type',
};

export function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `text ${quote(value)}`;
    case 'number':
      return `number ${value}`;
    case 'boolean':
      return `${value}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeMessage(value: unknown, expected: readonly string[]): string {
  const words = expected.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
  const textOnly =
    expected.includes('string') && !expected.includes('integer') && !expected.includes('number');
  const hint =
    textOnly && (typeof value === 'number' || typeof value === 'boolean')
      ? `; quote it: "${String(value)}"`
      : '';
  const empty =
    (value === null || value === undefined) &&
    (expected.includes('object') || expected.includes('array'))
      ? `; write ${expected.includes('object') ? '{}' : '[]'} or leave the key out`
      : '';
  return `wrong type: ${describeValue(value)} (expected ${words}${hint}${empty})`;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(schemaType: unknown, value: unknown): boolean {
  const types = Array.isArray(schemaType) ? schemaType : [schemaType];
  const actual = jsonType(value);
  return types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

/** The schema at an ajv schemaPath (`#/properties/log/...`); our schema has no $ref, so paths map directly. */
function schemaAt(schemaPath: string): Schema | undefined {
  let here: unknown = configSchema;
  for (const raw of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here as Schema | undefined;
}

/** "(needed when provider is dropfolder)" for a `required` inside an if/then, "(needed unless ...)" inside an if/else. */
function condition(schemaPath: string): string {
  const m = /^(.*)\/(then|else)\/[^]*$/.exec(schemaPath);
  if (!m) return '';
  const ifSchema = schemaAt(`${m[1]}/if`);
  const props = (ifSchema?.properties ?? {}) as Record<string, Schema>;
  const parts = Object.entries(props)
    .filter(([, s]) => 'const' in s)
    .map(([k, s]) => `${k} is ${String(s.const)}`);
  if (!parts.length) return '';
  return m[2] === 'then'
    ? ` (needed when ${parts.join(' and ')})`
    : ` (needed unless ${parts.join(' and ')})`;
}

function names(list: readonly string[]): string {
  return list.map((n) => `'${n}'`).join(', ');
}

/**
 * A union whose branches only require different keys: oneOf `{ env } | { file }` (exactly one),
 * anyOf `{ amount } | { debit } | { credit }` (at least one).
 */
function requiredChoiceMessage(
  keyword: string,
  branches: readonly Schema[],
  value: Record<string, unknown>,
): string {
  const keys = branches.flatMap((b) => (b.required as string[] | undefined) ?? []);
  const given = keys.filter((k) => value[k] !== undefined);
  const choices = keys.length === 2 ? `'${keys[0]}' or '${keys[1]}'` : `one of ${names(keys)}`;
  const rule = keyword === 'oneOf' ? 'give exactly one' : 'give at least one';
  return given.length === 0
    ? `missing ${choices} (${rule})`
    : `${given.map((k) => `'${k}'`).join(' and ')} given together (${rule})`;
}

/** The JSON types a branch accepts, looking through nested unions; undefined when it does not say. */
function branchTypes(schema: Schema): string[] | undefined {
  if (schema.type !== undefined) return [schema.type as string | string[]].flat();
  const nested = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  const types = nested?.map(branchTypes);
  return types && types.every((t): t is string[] => t !== undefined)
    ? [...new Set(types.flat())]
    : undefined;
}

function lastKey(path: KeyPath): string {
  for (let i = path.length - 1; i >= 0; i--)
    if (typeof path[i] === 'string') return path[i] as string;
  return 'value';
}

function patternMessage(schema: Schema, value: unknown): string {
  const format = schema.format as string | undefined;
  const problem = format && typeof value === 'string' ? FORMATS[format]?.(value) : undefined;
  if (problem) return problem;
  const title = schema.title as string | undefined;
  if (title && PATTERN_HELP[title])
    return `invalid ${title.toLowerCase()} ${quote(value)} (expected ${PATTERN_HELP[title]})`;
  if (title) return `invalid ${title.toLowerCase()} ${quote(value)}`;
  return `${quote(value)} does not match ${String(schema.pattern)}`;
}

function rangeMessage(schema: Schema, value: unknown): string {
  const min = schema.minimum as number | undefined;
  const max = schema.maximum as number | undefined;
  const allowed =
    min !== undefined && max !== undefined
      ? `${min} to ${max}`
      : min !== undefined
        ? `at least ${min}`
        : `at most ${max}`;
  return `${String(value)} is out of range (allowed: ${allowed})`;
}

/** Lower rank wins when several errors fall on one value: the type first, then the kind of value. */
const RANK: Readonly<Record<string, number>> = {
  type: 0,
  enum: 1,
  const: 1,
  discriminator: 1,
  format: 2,
  minLength: 3,
  pattern: 4,
};

interface Ranked extends RawIssue {
  rank: number;
  /** For `required`: the missing key and the condition text, so a mapping's missing keys merge into one issue. */
  missing?: { key: string; why: string };
}

/** One issue for one ajv error, or undefined when another error says it better. */
function toIssue(e: ErrorObject, data: unknown): Ranked | undefined {
  const path = pointerToPath(e.instancePath, data);
  const schema = (e.parentSchema ?? {}) as Schema;
  const value = e.data;
  const rank = RANK[e.keyword] ?? 5;
  const issue = (message: string, at: RawIssue['at'] = 'value', where: KeyPath = path): Ranked => ({
    path: where,
    at,
    message,
    rank,
  });
  switch (e.keyword) {
    case 'type':
      return issue(
        schema.title === TITLES.secret
          ? SECRET_INLINE
          : typeMessage(value, [e.params.type].flat() as string[]),
      );
    case 'enum': {
      const key = lastKey(path);
      const noun = ENUM_NOUNS[key] ?? key.replace(/_/g, ' ');
      return issue(
        `unknown ${noun} ${quote(value)} (allowed: ${(e.params.allowedValues as unknown[]).join(', ')})`,
      );
    }
    case 'const':
      return issue(
        `${quote(value)} is not allowed here (expected ${quote(e.params.allowedValue)})`,
      );
    case 'additionalProperties': {
      const key = e.params.additionalProperty as string;
      const known = Object.keys(schema.properties ?? {});
      const guess = closest(key, known);
      const help = guess
        ? `did you mean '${guess}'?`
        : known.length
          ? `allowed: ${known.join(', ')}`
          : 'no keys are allowed here';
      return issue(`unknown key (${help})`, 'key', [...path, key]);
    }
    case 'required': {
      const key = e.params.missingProperty as string;
      const why = condition(e.schemaPath);
      return { ...issue(`missing required key '${key}'${why}`), missing: { key, why } };
    }
    case 'discriminator': {
      const tag = e.params.tag as string;
      if (!isPlainObject(value) || value[tag] === undefined) return undefined; // `required` reports the missing tag
      const kinds = ((schema.oneOf ?? []) as Schema[]).map(
        (b) => (b.properties as Record<string, Schema>)[tag].const,
      );
      return issue(`unknown ${tag} ${quote(value[tag])} (allowed: ${kinds.join(', ')})`, 'value', [
        ...path,
        tag,
      ]);
    }
    case 'format':
      return issue(
        FORMATS[e.params.format as string]?.(String(value)) ?? `invalid ${String(e.params.format)}`,
      );
    case 'pattern':
      if (e.propertyName !== undefined)
        return issue(patternMessage(schema, e.propertyName), 'key', [...path, e.propertyName]);
      return issue(patternMessage(schema, value));
    case 'minLength':
      if (e.propertyName !== undefined) return issue('empty key', 'key', [...path, e.propertyName]);
      return issue(
        e.params.limit === 1
          ? 'empty text (expected a non-empty value)'
          : `too short (at least ${e.params.limit} characters)`,
      );
    case 'maxLength':
      return issue(`${quote(value)} is too long (at most ${e.params.limit} characters)`);
    case 'minimum':
    case 'maximum':
      return issue(rangeMessage(schema, value));
    case 'minItems':
      return issue(
        `${(value as unknown[]).length === 0 ? 'empty list' : 'too few entries'} (expected at least ${e.params.limit}${e.params.limit === 1 ? ' entry, or leave the key out' : ' entries'})`,
      );
    case 'uniqueItems': {
      const at = Math.max(e.params.i as number, e.params.j as number);
      const list = value as unknown[];
      return issue(`duplicate entry ${quote(list[at])} (entries must be unique)`, 'value', [
        ...path,
        at,
      ]);
    }
    case 'propertyNames':
      return undefined; // the inner error names the key
    default:
      return issue(e.message ?? `fails ${e.keyword}`);
  }
}

/**
 * Turns ajv's errors into one useful issue per place. ajv reports every branch of a oneOf; here a
 * union collapses to the branch whose type matches the value (`institution: { ... }` reports the
 * mapping branch only), to one type error when none matches, or to "give exactly one of" for
 * unions that only differ in which key is required (secrets, schedules). `if` errors repeat their
 * `then` errors and are dropped. Several errors on one value keep the most telling one (RANK);
 * missing keys of one mapping are reported together.
 */
export function schemaIssues(errors: readonly ErrorObject[], data: unknown): RawIssue[] {
  const dropped = new Set<ErrorObject>();
  const out: Ranked[] = [];
  const unions = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (dropped.has(union)) continue;
    dropped.add(union);
    const prefix = `${union.schemaPath}/`;
    // List items share one schema path, so the branch errors of this value are told apart by instance path too.
    const here = union.instancePath;
    const inner = errors.filter(
      (e) =>
        e.schemaPath.startsWith(prefix) &&
        (e.instancePath === here || e.instancePath.startsWith(`${here}/`)),
    );
    const branches = union.schema as Schema[];
    const typed = branches
      .map((b, i) => ({ i, types: branchTypes(b) }))
      .filter((t): t is { i: number; types: string[] } => t.types !== undefined);
    if (typed.length === 0) {
      inner.forEach((e) => dropped.add(e));
      // A non-mapping value already has its type error; a mapping gets "give exactly one of".
      if (isPlainObject(union.data)) {
        out.push({
          path: pointerToPath(union.instancePath, data),
          at: 'value',
          message: requiredChoiceMessage(union.keyword, branches, union.data),
          rank: 6,
        });
      }
      continue;
    }
    const matching = typed.filter(({ types }) => typeMatches(types, union.data));
    if (matching.length === 1) {
      const keep = `${prefix}${matching[0].i}/`;
      inner.filter((e) => !e.schemaPath.startsWith(keep)).forEach((e) => dropped.add(e));
    } else {
      inner.forEach((e) => dropped.add(e));
      const expected = typed.flatMap(({ types }) => types);
      out.push({
        path: pointerToPath(union.instancePath, data),
        at: 'value',
        message: typeMessage(union.data, [...new Set(expected)]),
        rank: 0,
      });
    }
  }
  for (const e of errors) {
    if (dropped.has(e) || e.keyword === 'if') continue;
    const issue = toIssue(e, data);
    if (issue) out.push(issue);
  }
  return pickPerPlace(out);
}

function placeKey(i: RawIssue): string {
  return `${i.at}\u0000${JSON.stringify(i.path)}`;
}

function pickPerPlace(issues: Ranked[]): RawIssue[] {
  const missing = new Map<string, Ranked[]>();
  const best = new Map<string, Ranked>();
  for (const issue of issues) {
    const k = placeKey(issue);
    if (issue.missing) {
      const group = `${k}\u0000${issue.missing.why}`;
      missing.set(group, [...(missing.get(group) ?? []), issue]);
      continue;
    }
    const seen = best.get(k);
    if (!seen || issue.rank < seen.rank) best.set(k, issue);
  }
  const merged = [...missing.values()].map((group): RawIssue => {
    if (group.length === 1) return group[0];
    const keys = group.map((g) => g.missing?.key ?? '');
    return {
      path: group[0].path,
      at: 'value',
      message: `missing required keys ${names(keys)}${group[0].missing?.why ?? ''}`,
    };
  });
  return [...best.values(), ...merged].map(({ path, at, message, target }) =>
    target ? { path, at, message, target } : { path, at, message },
  );
}
